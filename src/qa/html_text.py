"""Plain text of an HTML page with a map from every character back to its offset in the
HTML file, so citations of an HTML document point into the file as it is on disk.

Uses the standard library's HTMLParser with convert_charrefs=False: every piece of text,
entity and tag is then reported at a known position (getpos()), and text data is a
literal slice of the file. Content of non-article elements (scripts, navigation, footers,
forms...) is dropped, block-level tags end a paragraph, whitespace is collapsed and
entities are decoded. `clean_html` then applies the plain-text boilerplate cleaner of
qa.cleaning and composes the two offset maps.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import replace
from html import unescape
from html.parser import HTMLParser

from .cleaning import CleanText, TextBuilder, clean

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
# Elements that separate words without ending a paragraph (table cells: "<td>a</td><td>b</td>").
WORD_BREAKS = frozenset({"td", "th"})
# What may stand in <head>; any other start tag there means the head has ended (its end tag
# is optional in HTML).
_HEAD_CONTENT = frozenset({"title", "meta", "link", "style", "script", "base", "noscript", "template"})
_ODD_SPACE = re.compile(r"\s{2,}|[^\S ]")  # whitespace other than one plain space
_LEFTOVER_ENTITY = re.compile(r"&#?[0-9A-Za-z]*;?")


class _Extractor(HTMLParser):
    def __init__(self, original: str, drop: frozenset[str]) -> None:
        super().__init__(convert_charrefs=False)
        self.original = original
        self.drop = drop
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
        return not self.in_head or self.in_title

    def _space(self, start: int, end: int) -> None:
        if self.pending_space is None:
            self.pending_space = (start, end)
        else:
            self.pending_space = (self.pending_space[0], max(self.pending_space[1], end))

    def _before_text(self) -> None:
        if self.has_text:
            if self.pending_break is not None:
                self.builder.emit("\n\n", self.pending_break)
            elif self.pending_space is not None:
                self.builder.emit(" ", *self.pending_space)
        self.pending_space = self.pending_break = None
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
        self._boundary(tag, at)

    def handle_endtag(self, tag: str) -> None:
        at = self.position()
        if tag == "head":
            self.in_head = False
        if tag in self.drop:
            if self.open_dropped.get(tag):
                self.open_dropped[tag] -= 1
        elif tag == "title":
            self.in_title = False
        self._boundary(tag, at)

    def _boundary(self, tag: str, at: int) -> None:
        if tag in BLOCKS:
            self._break(at)
        elif tag in WORD_BREAKS:
            self._space(at, at)

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
        return self.builder.build()


def html_to_text(original: str, drop: frozenset[str] = DROPPED) -> CleanText:
    """The text of an HTML page, paragraphs separated by blank lines, with offsets into it.

    The <title> comes first as a line of its own; the content of `drop` elements and of
    <head> is left out; each entity becomes its character mapped to the whole entity, and
    each run of whitespace one space mapped to the whole run."""
    text = _Extractor(original, drop).run()
    if not text.text.strip() and "form" in drop:
        # Some sites (ASP.NET) wrap the whole page in one <form>.
        text = _Extractor(original, drop - {"form"}).run()
    return text


def clean_html(original: str) -> CleanText:
    """html_to_text, then the plain-text boilerplate cleaner, offsets composed so that
    they point into the HTML file."""
    html = html_to_text(original)
    cleaned = clean(html.text, markdown=False)
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


__all__ = ["BLOCKS", "DROPPED", "clean_html", "html_to_text"]
