"""Document structure: headings, the documents a file holds, and tables.

Structure is found in the ORIGINAL text (line-based for plain text and Markdown; from the
tags for HTML, see html_text.py) in original-file offsets, and then mapped onto the cleaned
text through CleanText's offset arrays. The cleaner may strip heading markers, underline
lines and table pipes, or join lines; the structure found here does not depend on it.

Heading syntaxes of plain-text files: Markdown ATX ("# Title", "## Sub"), setext
("Title" underlined with "===" or "---") and wiki-style ("= Title =", "== Sub =="). Lines in
fenced or delimited blocks ("```", "~~~", "----", "....") are code, never headings.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from html import unescape

from .cleaning import CleanText
from .types import SECTION_SEPARATOR

MAX_TITLE_CHARS = 150
MAX_SECTION_CHARS = 120
MAX_TABLE_HEADER_CHARS = 160


@dataclass(frozen=True)
class Heading:
    level: int     # 1 (a document's title) to 6
    text: str      # plain text, no markup
    start: int     # span of the heading in the original file (for setext, both lines)
    end: int


@dataclass(frozen=True)
class Table:
    header: str                              # header cells joined by " | ", or ""
    header_span: tuple[int, int] | None      # the header row in the original file
    rows: tuple[tuple[int, int], ...]        # body rows in the original file


@dataclass(frozen=True)
class Structure:
    """What a file says about its own structure, in original-file offsets."""
    headings: tuple[Heading, ...] = ()
    tables: tuple[Table, ...] = ()
    page_title: str = ""     # an HTML page's <title> (or og:title), "" elsewhere
    splits_documents: bool = True  # several level-1 headings mean several documents


@dataclass(frozen=True)
class Part:
    """One document of a file (a file usually holds one), in cleaned-text offsets."""
    title: str
    start: int
    end: int


@dataclass(frozen=True)
class Layout:
    """Structure mapped onto the cleaned text: everything here is in cleaned offsets."""
    parts: tuple[Part, ...]
    # (start, path) pairs in order: the section path in force from `start` on.
    sections: tuple[tuple[int, str], ...] = ()
    headings: tuple[tuple[int, int], ...] = ()          # spans of heading text
    # (header, header span or None, row spans) for each table
    tables: tuple[tuple[str, tuple[int, int] | None, tuple[tuple[int, int], ...]], ...] = ()
    _section_starts: list[int] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._section_starts.extend(start for start, _ in self.sections)

    def section_at(self, pos: int) -> str:
        at = bisect_right(self._section_starts, pos) - 1
        return self.sections[at][1] if at >= 0 else ""

    def part_at(self, pos: int) -> int:
        for index in range(len(self.parts) - 1, -1, -1):
            if self.parts[index].start <= pos:
                return index
        return 0


# Plain text and Markdown -------------------------------------------------------------------
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_WIKI = re.compile(r"^(={1,6})[ \t]*([^=\s].*?)[ \t]*\1[ \t]*$")
_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_DELIMITER = re.compile(r"^(-{4,}|\.{4,})[ \t]*$")  # AsciiDoc listing and literal blocks
_TABLE_DELIMITER = re.compile(r"^ {0,3}\|?[ \t]*:?-{2,}:?[ \t]*(\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$")
_BULLET = re.compile(r"^ {0,3}[-*+][ \t]")
_URL = re.compile(r"\w+://|\bwww\.", re.IGNORECASE)
_CODE = re.compile(r"\b(?=\w*[A-Za-z])(?=\w*\d)\w+\b")  # "ED4A800_0": letters and digits mixed


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for line in text.splitlines(keepends=True):
        spans.append((pos, pos + len(line.rstrip("\r\n"))))
        pos += len(line)
    return spans


def plain_title(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """Heading or title text without markup: no "#", emphasis, links, tags or anchors."""
    text = unescape(text)
    text = re.sub(r"<[^>]{0,200}>", "", text)                        # tags
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)            # [text](url), images
    text = re.sub(r"(\*{1,3}|_{1,3}|`+)(\S(?:.*?\S)?)\1", r"\2", text)  # *emphasis*, `code`
    text = re.sub(r"^\s*#+\s*|\s+#+\s*$", "", text)                   # stray heading marks
    text = text.strip().rstrip("¶§#").strip()
    text = " ".join(text.split())
    words = text.split()
    half = len(words) // 2
    if half and len(words) % 2 == 0 and words[:half] == words[half:]:
        text = " ".join(words[:half])                                 # "Notes Notes"
    if len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return text


def text_structure(original: str) -> Structure:
    """Headings and pipe tables of a plain-text or Markdown file."""
    lines = _line_spans(original)
    headings: list[Heading] = []
    tables: list[Table] = []
    closing: re.Pattern[str] | None = None  # what ends the code block we are in
    index = 0
    while index < len(lines):
        start, end = lines[index]
        line = original[start:end]
        stripped = line.strip()
        previous_blank = index == 0 or not original[lines[index - 1][0]:lines[index - 1][1]].strip()
        if closing is not None:
            if closing.match(line):
                closing = None
            index += 1
            continue
        opened = _FENCE.match(line)
        if opened:
            mark = opened.group(1)
            closing = re.compile(r"^ {0,3}" + re.escape(mark[0]) + "{" + str(len(mark)) + r",}[ \t]*$")
        elif _DELIMITER.match(line) and previous_blank:
            closing = re.compile("^" + re.escape(stripped) + r"[ \t]*$")
        if closing is not None:
            # A block that is never closed is not a block (a rule line, say): read on.
            if any(closing.match(original[a:b]) for a, b in lines[index + 1:]):
                index += 1
                continue
            closing = None
        atx = _ATX.match(line)
        if atx and atx.group(2).strip():
            headings.append(Heading(len(atx.group(1)), plain_title(atx.group(2)), start, end))
            index += 1
            continue
        wiki = _WIKI.match(line)
        if wiki:
            headings.append(Heading(len(wiki.group(1)), plain_title(wiki.group(2)), start, end))
            index += 1
            continue
        if index + 1 < len(lines) and stripped and previous_blank and not line.startswith("    "):
            following = original[lines[index + 1][0]:lines[index + 1][1]]
            underline = _UNDERLINE.match(following)
            if underline and len(underline.group(1)) >= 3 and not _BULLET.match(line) and "|" not in line:
                level = 1 if underline.group(1)[0] == "=" else 2
                headings.append(Heading(level, plain_title(stripped), start, lines[index + 1][1]))
                index += 2
                continue
        if "|" in line and index + 1 < len(lines):
            delimiter = original[lines[index + 1][0]:lines[index + 1][1]]
            if _TABLE_DELIMITER.match(delimiter) and "|" in delimiter:
                rows, after = [], index + 2
                while after < len(lines):
                    row_start, row_end = lines[after]
                    if "|" not in original[row_start:row_end] or not original[row_start:row_end].strip():
                        break
                    rows.append((row_start, row_end))
                    after += 1
                tables.append(Table(_cells(line), (start, end), tuple(rows)))
                index = after
                continue
        index += 1
    return Structure(tuple(_titles_only(headings)), tuple(tables))


def _titles_only(headings: list[Heading]) -> list[Heading]:
    """Headings that title something: not a URL ("Source: http://..."), not one of a run of
    markers that differ only in a code ("START: ED4A800_0.tif.txt", "START: ED4A800_1.tif.txt"),
    which a scan or an export leaves at page breaks."""
    def shape(text: str) -> str:
        return _CODE.sub("#", text.lower())

    counts: dict[str, int] = {}
    for heading in headings:
        counts[shape(heading.text)] = counts.get(shape(heading.text), 0) + 1
    return [h for h in headings if not _URL.search(h.text)
            and not ("#" in shape(h.text) and counts[shape(h.text)] >= 3)]


def _cells(row: str) -> str:
    cells = [plain_title(cell, limit=60) for cell in row.strip().strip("|").split("|")]
    return " | ".join(cells)


# Onto the cleaned text ----------------------------------------------------------------------
def _to_clean(cleaned: CleanText, start: int, end: int) -> tuple[int, int]:
    """The cleaned-text span of what survives of original[start:end], whitespace trimmed."""
    offsets = cleaned.offsets
    a, b = bisect_left(offsets, start), bisect_left(offsets, end)
    text = cleaned.text
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def next_text(text: str, at: int) -> int:
    """Where the first non-blank character at or after `at` is."""
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def line_starts(structure: Structure, original: str) -> list[int]:
    """Offsets in `original` where a line must start: each heading, the text after it, each table row."""
    starts = []
    for heading in structure.headings:
        starts += [heading.start, next_text(original, heading.end)]
    for table in structure.tables:
        spans = ([table.header_span] if table.header_span else []) + list(table.rows)
        starts += [next_text(original, start) for start, _ in spans]
        if spans:
            starts.append(next_text(original, spans[-1][1]))
    return starts


def on_own_lines(cleaned: CleanText, starts: list[int]) -> CleanText:
    """The cleaner joins a paragraph that starts in lower case to the one before with a
    space ("continues"); where a heading or a table row starts (`starts`, in the coordinates
    of cleaned.offsets), a line break instead. Offsets are unchanged: one character for one."""
    text = list(cleaned.text)
    changed = False
    for start in starts:
        at = bisect_left(cleaned.offsets, start)
        for joint in (at, at - 1):  # the joining space is mapped to the start of what it joins
            if 0 < joint < len(text) - 1 and text[joint] == " " and cleaned.offsets[joint] == cleaned.ends[joint] \
                    and cleaned.offsets[joint + 1] >= start:
                text[joint] = "\n"
                changed = True
                break
    return replace(cleaned, text="".join(text)) if changed else cleaned


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def names_the_same(heading: str, title: str) -> bool:
    """True when a heading repeats a title ("Intro" and "Intro — Site name")."""
    a, b = _normal(heading), _normal(title)
    return bool(a and b) and (a == b or b.startswith(a + " ") or a.startswith(b + " "))


def _capped_path(path: list[str]) -> str:
    joined = SECTION_SEPARATOR.join(path)
    while len(joined) > MAX_SECTION_CHARS and len(path) > 2:
        path = [path[0], "…"] + path[2:] if path[1] != "…" else [path[0], "…"] + path[3:]
        joined = SECTION_SEPARATOR.join(path)
    if len(joined) > MAX_SECTION_CHARS:
        joined = joined[:MAX_SECTION_CHARS - 1].rstrip() + "…"
    return joined


def layout(structure: Structure, cleaned: CleanText, name: str, keep_whole: bool = False) -> Layout:
    """Map structure onto the cleaned text. `name` is the file's name as a source; with
    several level-1 headings (and not `keep_whole`), each starts a document of its own."""
    size = len(cleaned.text)
    if size and any(cleaned.offsets[i] > cleaned.offsets[i + 1] for i in range(size - 1)):
        return Layout((Part(name, 0, size),))  # offsets out of order: no structure rather than wrong structure
    mapped = [(h, *_to_clean(cleaned, h.start, h.end)) for h in structure.headings]
    tops = [m for m in mapped if m[0].level == 1]
    parts: list[Part] = []
    title_headings: set[int] = set()
    if len(tops) >= 2 and structure.splits_documents and not keep_whole:
        if cleaned.text[:tops[0][1]].strip():
            parts.append(Part(name, 0, tops[0][1]))
        for number, (heading, start, _) in enumerate(tops):
            following = tops[number + 1][1] if number + 1 < len(tops) else size
            parts.append(Part(heading.text or name, start if parts else 0, following))
            title_headings.add(id(heading))
    else:
        parts.append(Part(name, 0, size))
        top = min((m[0].level for m in mapped), default=0)
        for heading, _, _ in mapped:  # the heading that repeats the name is not a section
            if heading.level == top and names_the_same(heading.text, name):
                title_headings.add(id(heading))
                break
    sections: list[tuple[int, str]] = []
    stack: list[Heading] = []
    part_starts = {p.start for p in parts}
    events = sorted([(p.start, 0, n, None) for n, p in enumerate(parts)]
                    + [(s, 1, n, h) for n, (h, s, _) in enumerate(mapped)], key=lambda e: e[:3])
    for pos, kind, _, heading in events:
        if kind == 0:
            stack = []
            sections.append((pos, ""))
            continue
        if id(heading) in title_headings or not heading.text:
            continue
        while stack and stack[-1].level >= heading.level:
            stack.pop()
        stack.append(heading)
        entry = (pos, _capped_path([h.text for h in stack]))
        if sections and sections[-1][0] == pos and pos not in part_starts:
            sections[-1] = entry
        else:
            sections.append(entry)
    tables = []
    for table in structure.tables:
        rows = tuple(span for span in (_to_clean(cleaned, s, e) for s, e in table.rows) if span[1] > span[0])
        header = _to_clean(cleaned, *table.header_span) if table.header_span else None
        if header is not None and header[1] <= header[0]:
            header = None
        if rows or header:
            text = table.header if len(table.header) <= MAX_TABLE_HEADER_CHARS else \
                table.header[:MAX_TABLE_HEADER_CHARS - 1].rstrip() + "…"
            tables.append((text, header, rows))
    headings = tuple((s, e) for _, s, e in mapped if e > s)
    return Layout(tuple(parts), tuple(sections), headings, tuple(tables))


def first_heading(structure: Structure) -> str:
    """The text of the file's first heading, or "" when it has none."""
    for heading in structure.headings:
        if heading.text:
            return heading.text
    return ""


__all__ = ["Heading", "Table", "Structure", "Part", "Layout", "text_structure", "layout", "plain_title",
           "names_the_same", "first_heading", "line_starts", "on_own_lines", "next_text", "SECTION_SEPARATOR"]
