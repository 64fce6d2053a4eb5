"""Plain text of an HTML page with a map from every character back to its offset in the
HTML file, so citations of an HTML document point into the file as it is on disk.

Uses the standard library's HTMLParser with convert_charrefs=False: every piece of text,
entity and tag is then reported at a known position (getpos()), and text data is a
literal slice of the file. Content of non-article elements (scripts, navigation, footers,
forms...) is dropped, block-level tags end a paragraph, whitespace is collapsed and
entities are decoded. `clean_html` then applies the plain-text boilerplate cleaner of
qa.cleaning and composes the two offset maps.

The extractor also records the page's structure (see qa.structure): its <title> and
og:title, its h1-h6 headings and its tables (header row, row spans), in offsets of the
HTML file. Table cells are separated by " | " (mapped to the cell's tag) and each row is a
line of its own, so a row reads as a row and the chunker can keep it whole.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import replace
from html import unescape
from html.parser import HTMLParser

from .cleaning import CleanText, TextBuilder, clean
from .structure import (
    MAX_TABLE_HEADER_CHARS,
    Heading,
    Structure,
    Table,
    names_the_same,
    next_text,
    on_own_lines,
    plain_title,
)

# Elements whose content is never article text. (select ... object are additions to the
# usual list: form controls and media fallbacks such as "Your browser does not support video".)
DROPPED = frozenset({
    "script", "style", "noscript", "template", "svg", "nav", "footer", "aside", "form", "button",
    "iframe", "select", "textarea", "canvas", "video", "audio", "object", "math",
})
# Elements that end a paragraph where they start and where they end.
BLOCKS = frozenset({
    "p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article",
    "blockquote", "pre", "header", "figcaption", "table", "ul", "ol", "dl", "dt", "dd", "hr",
    "title", "main", "figure", "caption", "address", "details", "summary", "body", "html",
})
# Table cells: "<td>a</td><td>b</td>" reads "a | b".
CELLS = frozenset({"td", "th"})
HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Table structure that ends a paragraph even inside a cell (a nested table).
_TABLE_BLOCKS = frozenset({"table", "tr", "caption"})
CELL_SEPARATOR = " | "
# What may stand in <head>; any other start tag there means the head has ended (its end tag
# is optional in HTML).
_HEAD_CONTENT = frozenset({"title", "meta", "link", "style", "script", "base", "noscript", "template"})
_ODD_SPACE = re.compile(r"\s{2,}|[^\S ]")  # whitespace other than one plain space
_LEFTOVER_ENTITY = re.compile(r"&#?[0-9A-Za-z]*;?")


class _Row:
    def __init__(self, start: int, text_start: int, in_thead: bool) -> None:
        self.start, self.end = start, start
        self.text_start, self.text_end = text_start, text_start
        self.cells = 0
        self.all_th = True
        self.in_thead = in_thead


class _Table:
    def __init__(self) -> None:
        self.rows: list[_Row] = []
        self.row: _Row | None = None
        self.in_thead = False


class _Extractor(HTMLParser):
    def __init__(self, original: str, drop: frozenset[str], emit_title: bool = True) -> None:
        super().__init__(convert_charrefs=False)
        self.original = original
        self.drop = drop
        self.emit_title = emit_title
        self.title_span: tuple[int, int] | None = None
        self.og_title = ""
        self.open_headings: list[tuple[int, int, int]] = []   # (level, start, text start)
        self.headings: list[tuple[int, int, int, int, int]] = []  # (level, start, end, text start, text end)
        self.tables: list[_Table] = []
        self.finished_tables: list[_Table] = []
        self.pending_cells: tuple[int, int] | None = None  # (where, how many) cell boundaries not yet emitted
        self.builder = TextBuilder(original)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", original)]
        self.open_dropped: dict[str, int] = {}
        self.in_head = False
        self.in_title = False
        self.has_text = False
        self.pending_space: tuple[int, int] | None = None  # a whitespace run not yet emitted
        self.pending_break: int | None = None              # where the last paragraph ended

    # Positions ------------------------------------------------------------------------
    def position(self) -> int:
        """Absolute offset of the construct being handled (HTMLParser counts lines by "\\n")."""
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    # Output ---------------------------------------------------------------------------
    def _visible(self) -> bool:
        if any(self.open_dropped.values()):
            return False
        if self.in_title:
            return self.emit_title
        return not self.in_head

    def _length(self) -> int:
        return len(self.builder.offsets)

    def _end_of_tag(self, at: int) -> int:
        close = self.original.find(">", at)
        return close + 1 if close >= 0 else len(self.original)

    def _space(self, start: int, end: int) -> None:
        if self.pending_space is None:
            self.pending_space = (start, end)
        else:
            self.pending_space = (self.pending_space[0], max(self.pending_space[1], end))

    def _before_text(self) -> None:
        if self.has_text:
            if self.pending_break is not None:
                self.builder.emit("\n\n", self.pending_break)
            elif self.pending_cells is not None:
                at, count = self.pending_cells
                self.builder.emit(CELL_SEPARATOR + "| " * (count - 1), at)
            elif self.pending_space is not None:
                self.builder.emit(" ", *self.pending_space)
        self.pending_space = self.pending_break = self.pending_cells = None
        self.has_text = True

    def _break(self, at: int) -> None:
        if self.pending_break is None:
            self.pending_break = at

    def _text(self, text: str, at: int) -> None:
        """Text data that is the literal slice original[at:at + len(text)]."""
        core_start, core_end = len(text) - len(text.lstrip()), len(text.rstrip())
        if core_end <= core_start:
            if text:
                self._space(at, at + len(text))
            return
        if core_start:
            self._space(at, at + core_start)
        self._before_text()
        pos = core_start
        for match in _ODD_SPACE.finditer(text, core_start, core_end):
            self.builder.copy(at + pos, at + match.start())
            self.builder.emit(" ", at + match.start(), at + match.end())
            pos = match.end()
        self.builder.copy(at + pos, at + core_end)
        if core_end < len(text):
            self._space(at + core_end, at + len(text))

    def _decoded(self, text: str, start: int, end: int) -> None:
        """Text standing for original[start:end] (an entity, or data that is not a slice)."""
        for ch in text:
            if ch.isspace():  # &nbsp; and &#10; are spaces like any other
                self._space(start, end)
            else:
                self._before_text()
                self.builder.emit(ch, start, end)

    # HTMLParser callbacks ---------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs) -> None:
        at = self.position()
        if tag == "head":
            self.in_head = True
        elif tag == "body" or (self.in_head and tag not in _HEAD_CONTENT and not any(self.open_dropped.values())):
            self.in_head = False
        if tag in self.drop:
            self.open_dropped[tag] = self.open_dropped.get(tag, 0) + 1
        elif tag == "title":
            self.in_title = True
            if self.title_span is None:
                self.title_span = (self._end_of_tag(at), len(self.original))
        elif tag == "meta":
            values = {name: value or "" for name, value in attrs}
            if (values.get("property") or values.get("name", "")).lower() == "og:title" and not self.og_title:
                self.og_title = plain_title(values.get("content", ""))
        self._boundary(tag, at)
        if tag in self.drop or any(self.open_dropped.values()):
            return
        if tag in HEADINGS:
            self.open_headings.append((HEADINGS[tag], at, self._length()))
        elif tag == "table":
            self.tables.append(_Table())
        elif self.tables:
            self._table_start(tag, at)

    def handle_endtag(self, tag: str) -> None:
        at = self.position()
        if tag == "head":
            self.in_head = False
        if tag in self.drop:
            if self.open_dropped.get(tag):
                self.open_dropped[tag] -= 1
        elif tag == "title":
            self.in_title = False
            if self.title_span is not None and self.title_span[1] == len(self.original):
                self.title_span = (self.title_span[0], at)
        self._boundary(tag, at)
        if any(self.open_dropped.values()):
            return
        if tag in HEADINGS and self.open_headings:
            level, start, text_start = self.open_headings.pop()
            self.headings.append((level, start, self._end_of_tag(at), text_start, self._length()))
        elif self.tables:
            self._table_end(tag, at)

    def _boundary(self, tag: str, at: int) -> None:
        if tag in CELLS:
            if not self.tables:
                self._space(at, at)  # a cell outside any table: a word break
            return  # else see _table_start
        if tag in BLOCKS:
            if self._in_cell() and tag not in _TABLE_BLOCKS:
                self._space(at, at)  # a paragraph inside a table cell stays in its row
            else:
                self._break(at)

    # Tables ------------------------------------------------------------------------------
    def _in_cell(self) -> bool:
        return bool(self.tables) and self.tables[-1].row is not None and self.tables[-1].row.cells > 0

    def _table_start(self, tag: str, at: int) -> None:
        table = self.tables[-1]
        if tag == "thead":
            table.in_thead = True
        elif tag == "tr":
            self._close_row(table, at)
            table.row = _Row(at, self._length(), table.in_thead)
        elif tag in CELLS:
            if table.row is None:  # a cell without its <tr>
                table.row = _Row(at, self._length(), table.in_thead)
            row = table.row
            if row.cells:
                where, count = self.pending_cells or (at, 0)
                self.pending_cells = (where, count + 1)
            row.cells += 1
            row.all_th = row.all_th and tag == "th"

    def _table_end(self, tag: str, at: int) -> None:
        table = self.tables[-1]
        if tag == "thead":
            table.in_thead = False
        elif tag == "tr":
            self._close_row(table, self._end_of_tag(at))
        elif tag == "table":
            self._close_row(table, at)
            self.finished_tables.append(self.tables.pop())

    def _close_row(self, table: _Table, end: int) -> None:
        if table.row is not None:
            table.row.end = end
            table.row.text_end = self._length()
            table.rows.append(table.row)
            table.row = None

    def handle_data(self, data: str) -> None:
        if self.in_head and not self.in_title and not any(self.open_dropped.values()) and data.strip():
            self.in_head = False  # text ends the head, as an unexpected tag does
        if not self._visible():
            return
        at = self.position()
        if data[:1] == "<" and data[1:2] and (data[1].isalpha() or data[1] in "/!?"):
            return  # a malformed tag HTMLParser could not parse, passed on as text
        if self.original.startswith(data, at):
            self._text(data, at)
        else:  # not expected with convert_charrefs=False; keep the text, approximately placed
            self._decoded(data, at, min(at + len(data), len(self.original)))

    def handle_entityref(self, name: str) -> None:
        self._reference(1 + len(name))

    def handle_charref(self, name: str) -> None:
        self._reference(2 + len(name))

    def _reference(self, length: int) -> None:
        """An entity or character reference of `length` characters, plus its ";" if present."""
        if not self._visible():
            return
        start = self.position()
        end = start + length
        if self.original.startswith(";", end):
            end += 1
        decoded = unescape(self.original[start:end])
        if decoded == self.original[start:end]:  # not an entity after all ("&foo;"): plain text
            self._text(decoded, start)
        else:
            self._decoded(decoded, start, end)

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:  # "<![foo" raises in the standard parser; browsers see a comment
            return self.parse_bogus_comment(i)

    # Driving --------------------------------------------------------------------------
    def run(self) -> CleanText:
        """Parse the whole page. Instead of close(), whose end-of-input fallbacks pass
        unfinished markup on as text, the rest the parser stops at is dealt with here."""
        self.feed(self.original)
        while self.rawdata and not self.cdata_elem:  # an unclosed <script> is dropped whole
            before = len(self.rawdata)
            left = self.rawdata
            at = len(self.original) - len(left)
            if left.startswith("<!--"):
                skip = len(left)                      # a comment left open runs to the end
            elif left.startswith("<"):
                close = left.find(">")                # an unfinished tag or declaration
                skip = close + 1 if close >= 0 else len(left)
            elif left.startswith("&"):
                skip = _LEFTOVER_ENTITY.match(left).end()  # "&amp" at the very end, or "&#" and no ";"
                if self._visible():
                    decoded = unescape(left[:skip])
                    if decoded == left[:skip]:
                        self._text(decoded, at)
                    else:
                        self._decoded(decoded, at, at + skip)
            else:
                skip = 0
            if skip:
                self.updatepos(0, skip)
                self.rawdata = left[skip:]
            self.goahead(0)
            if len(self.rawdata) == before:  # no progress: take one character as text
                if self._visible():
                    self._text(left[:1], at)
                self.updatepos(0, 1)
                self.rawdata = left[1:]
        end = len(self.original)
        while self.open_headings:
            level, start, text_start = self.open_headings.pop()
            self.headings.append((level, start, end, text_start, self._length()))
        while self.tables:
            self._close_row(self.tables[-1], end)
            self.finished_tables.append(self.tables.pop())
        return self.builder.build()

    def structure(self, text: str) -> tuple[Structure, list[int]]:
        """The page's structure in offsets of the HTML file, and where in `text` (the
        extracted text) a line must start: at each table row, and around each heading."""
        headings = sorted((Heading(level, plain_title(text[a:b]), start, end)
                           for level, start, end, a, b in self.headings), key=lambda h: h.start)
        tables, row_starts = [], []
        for _, _, _, a, b in self.headings:  # a heading is a line of its own
            row_starts += [next_text(text, a), next_text(text, b)]
        for table in sorted(self.finished_tables, key=lambda t: t.rows[0].start if t.rows else 0):
            rows = [r for r in table.rows if text[r.text_start:r.text_end].strip()]
            if not rows:
                continue
            header = rows[0] if rows[0].in_thead or rows[0].all_th else None
            body = rows[1:] if header else rows
            header_text = plain_title(text[header.text_start:header.text_end], MAX_TABLE_HEADER_CHARS) \
                if header else ""
            tables.append(Table(header_text, (header.start, header.end) if header else None,
                                tuple((r.start, r.end) for r in body)))
            row_starts += [next_text(text, row.text_start) for row in rows]
            row_starts.append(next_text(text, rows[-1].text_end))  # and the text after the table
        title = plain_title(self.original[slice(*self.title_span)]) if self.title_span else ""
        return Structure(tuple(headings), tuple(tables), title or self.og_title, splits_documents=False), row_starts


def _extract(original: str, drop: frozenset[str], emit_title: bool) -> tuple[CleanText, _Extractor]:
    extractor = _Extractor(original, drop, emit_title)
    text = extractor.run()
    if not text.text.strip() and "form" in drop:
        # Some sites (ASP.NET) wrap the whole page in one <form>.
        extractor = _Extractor(original, drop - {"form"}, emit_title)
        text = extractor.run()
    return text, extractor


def html_to_text(original: str, drop: frozenset[str] = DROPPED) -> CleanText:
    """The text of an HTML page, paragraphs separated by blank lines, with offsets into it.

    The <title> comes first as a line of its own; the content of `drop` elements and of
    <head> is left out; each entity becomes its character mapped to the whole entity, and
    each run of whitespace one space mapped to the whole run."""
    return _extract(original, drop, emit_title=True)[0]


def read_html(original: str) -> tuple[CleanText, Structure]:
    """The cleaned text of an HTML page (as clean_html) and its structure.

    The <title> is left out of the text when the page's main heading repeats it (else a
    page reads "Release notes Release notes"); it is still the page's title."""
    html, extractor = _extract(original, DROPPED, emit_title=True)
    structure, row_starts = extractor.structure(html.text)
    main = [h for h in structure.headings if h.level == 1] or list(structure.headings)
    if extractor.title_span and main and names_the_same(main[0].text, structure.page_title):
        html, extractor = _extract(original, DROPPED, emit_title=False)
        structure, row_starts = extractor.structure(html.text)
    return _compose(html, on_own_lines(clean(html.text, markdown=False), row_starts)), structure


def clean_html(original: str) -> CleanText:
    """html_to_text, then the plain-text boilerplate cleaner, offsets composed so that
    they point into the HTML file."""
    return read_html(original)[0]


def _compose(html: CleanText, cleaned: CleanText) -> CleanText:
    """Offsets of `cleaned` (which point into html.text) made to point into the HTML file."""
    offsets, ends = array("l"), array("l")
    size = len(html.text)
    for start, end in zip(cleaned.offsets, cleaned.ends):
        if end > start:
            offsets.append(html.offsets[start])
            ends.append(html.ends[end - 1])
        else:  # a separator the cleaner inserted before html.text[start]: a point, not a span
            at = html.offsets[start] if start < size else (html.ends[-1] if size else 0)
            offsets.append(at)
            ends.append(at)
    # Removals point into the HTML file; their character counts, like the kept share, are of
    # the visible text, since tags are not content.
    removals = tuple(replace(r, start=html.offsets[r.start], end=html.ends[r.end - 1]) for r in cleaned.removals)
    return CleanText(cleaned.text, offsets, ends, removals, cleaned.visible_chars)


__all__ = ["BLOCKS", "DROPPED", "clean_html", "html_to_text", "read_html"]
