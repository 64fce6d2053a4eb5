"""Clean a plain-text or Markdown document, keeping a map from every character of the
cleaned text back to its offset in the original file.

Cleaning (1) removes boilerplate the rules of qa.boilerplate recognise, recording each
removal with its rule and reason; (2) leaves out markup whose words are kept (Markdown
heading markers, emphasis, link syntax, code backticks, fences, rules, HTML tags); (3)
unwraps hard-wrapped paragraphs, so that a line break that only wraps prose becomes a
space; and (4) repairs mojibake and odd spaces. Headings stay, each as its own paragraph.

Written here rather than taken from trafilatura/justext because those work on HTML and
return text without offsets; citations must point into the original file.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass, field

from .boilerplate import SENTENCE_END, Removal, find_removals
from .text_lines import HTML_TAG, Line, classify

# Inline repairs and markup, one combined pass so offsets can be tracked for each match.
_MOJIBAKE = {"â€™": "’", "â€˜": "‘", "â€œ": "“", "â€\x9d": "”", "â€“": "–", "â€”": "—",
             "â€¦": "…", "Ã©": "é", "Ã¨": "è", "Ã¡": "á", "Ã¶": "ö", "Ã¼": "ü", "Â ": " ", "Â\u00a0": " "}
_URL = r"(?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"\n]*\")?"  # a link target, maybe with a title
_COMMON = (
    r"(?P<marker>\s?\[\d{1,3}\](?=[\s,.;:)]|$))",                        # footnote marker [3]
    r"(?P<emph>(?<![\w*])\*(?P<emph_text>[^*\n]+)\*(?!\w))",               # *word* -> word
    r"(?P<bullet>^\*\s+)",                                                 # "* " list marker
    r"(?P<space_punct>(?<=\w) +(?=[,;](\s|$)))",                           # "Turkey ," -> "Turkey,"
    r"(?P<mojibake>" + "|".join(re.escape(k) for k in _MOJIBAKE) + ")",
    r"(?P<space>[\u00a0\u2007\u202f\t])",                                  # odd spaces -> " "
    r"(?P<invisible>[\u200b\u200c\u200d\u2060\ufeff\u00ad])",              # zero-width, soft hyphen
)
# Text extracted from HTML: only the link residue of the text converters is markup.
_INLINE_PLAIN = re.compile("|".join((
    r"(?P<link>\[(?P<link_text>[^\]\n]+)\]\((?:#|https?://[^)\s]*)\))",   # [text](#) -> text
    *_COMMON)), re.MULTILINE)
_INLINE_MARKDOWN = re.compile("|".join((
    rf"(?P<image>!\[(?P<image_alt>[^\]\n]*)\]\({_URL}\))",                 # ![alt](src) -> alt
    rf"(?P<link>\[(?P<link_text>[^\]\n]+)\]\({_URL}\))",                  # [text](url) -> text
    r"(?P<reflink>\[(?P<reflink_text>[^\]\n]+)\]\[[^\]\n]*\])",            # [text][ref] -> text
    r"(?P<code>(?P<ticks>`+)(?P<code_text>[^`\n]+?)(?P=ticks))",           # `code` -> code
    r"(?P<strong>(?<![\w*])\*\*(?=\S)(?P<strong_text>[^\n]+?)(?<=\S)\*\*(?![\w*]))",
    r"(?P<ustrong>(?<![\w_])__(?=\S)(?P<ustrong_text>[^\n]+?)(?<=\S)__(?![\w_]))",
    r"(?P<uemph>(?<![\w_])_(?=\S)(?P<uemph_text>[^_\n]+?)(?<=\S)_(?![\w_]))",
    rf"(?P<tag>{HTML_TAG})",                                               # <br>, <span ...>
    *_COMMON)), re.MULTILINE | re.IGNORECASE)
# Matches whose inner text is cleaned again (emphasis inside a link, a link inside emphasis).
_NESTED = ("image", "link", "reflink", "strong", "ustrong", "emph", "uemph")
# Image file-name residue glued to the first word of a paragraph: "faqihassadDictators are".
_GLUED_RESIDUE = re.compile(r"^([a-z]{5,})(?=[A-Z][a-z]+\b)")
_STOPWORD_END = re.compile(
    r"\b(the|a|an|and|or|of|to|in|on|at|for|with|by|from|as|that|which|who|is|are|was|were|than)$",
    re.IGNORECASE)
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)\]]*$")
_STARTS_SENTENCE = re.compile(r"^[\"'“‘(\[]?[A-Z0-9]")
_HYPHENATED = re.compile(r"(?<![-\w])([A-Za-z]{2,})-$")
_WORD_START = re.compile(r"^([a-z]+)")


@dataclass(frozen=True)
class CleanText:
    text: str
    offsets: array  # offsets[i] = where text[i] starts in the original
    ends: array     # ends[i] = where text[i] ends in the original (a repaired "â€™" spans 3)
    removals: tuple[Removal, ...] = field(default=())  # what the boilerplate rules removed, in order
    visible_chars: int = 0  # non-whitespace characters of the text that was cleaned

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the cleaned text to the original text."""
        if end <= start:
            at = self.offsets[start] if start < len(self.offsets) else (self.ends[-1] if self.ends else 0)
            return at, at
        return self.offsets[start], self.ends[end - 1]

    @property
    def removed_chars(self) -> int:
        return sum(r.chars for r in self.removals)

    @property
    def kept_share(self) -> float:
        """Share of the visible non-whitespace characters that no rule removed (markup whose
        words are kept counts as kept)."""
        if not self.visible_chars:
            return 1.0
        return max(0.0, 1.0 - self.removed_chars / self.visible_chars)

    def removed_by_rule(self) -> dict[str, int]:
        """Rule -> non-whitespace characters it removed."""
        totals: dict[str, int] = {}
        for removal in self.removals:
            totals[removal.rule] = totals.get(removal.rule, 0) + removal.chars
        return totals


class TextBuilder:
    def __init__(self, original: str) -> None:
        self.original = original
        self.parts: list[str] = []
        self.offsets = array("l")
        self.ends = array("l")

    def copy(self, start: int, end: int) -> None:
        self.parts.append(self.original[start:end])
        self.offsets.extend(range(start, end))
        self.ends.extend(range(start + 1, end + 1))

    def emit(self, text: str, at: int, until: int | None = None) -> None:
        """Synthetic text standing for original[at:until] (a separator when until is None)."""
        self.parts.append(text)
        self.offsets.extend([at] * len(text))
        self.ends.extend([at if until is None else until] * len(text))

    def extend(self, other: TextBuilder) -> None:
        self.parts.extend(other.parts)
        self.offsets.extend(other.offsets)
        self.ends.extend(other.ends)

    def text(self) -> str:
        return "".join(self.parts)

    def build(self, removals: tuple[Removal, ...] = (), visible_chars: int = 0) -> CleanText:
        return CleanText("".join(self.parts), self.offsets, self.ends, removals, visible_chars)


def _paragraphs(lines: list[Line]) -> list[list[Line]]:
    """Runs of emitted lines; a heading is a paragraph of its own."""
    paragraphs: list[list[Line]] = []
    current: list[Line] = []
    for line in lines:
        if not line.emitted or line.kind == "heading":
            if current:
                paragraphs.append(current)
                current = []
            if line.emitted:
                paragraphs.append([line])
            continue
        current.append(line)
    if current:
        paragraphs.append(current)
    return paragraphs


@dataclass(frozen=True)
class _Layout:
    """What the whole file says about its line breaks."""
    wrap: int              # the width prose is wrapped at (90th percentile of prose line lengths)
    words: frozenset[str]  # lower-cased words of the file, to rejoin hyphenated words safely


def _layout(original: str, lines: list[Line]) -> _Layout:
    lengths = sorted(len(line.plain) for line in lines if line.kind in ("prose", "list") and line.plain)
    wrap = lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0
    words = frozenset(re.findall(r"[a-z]+(?:-[a-z]+)*", original.lower()))
    return _Layout(wrap, words)


def _joins(paragraph: list[Line], layout: _Layout) -> list[str]:
    """For each line after the first: " " (the break only wraps prose), "\\n" (kept) or ""
    (a hyphenated word rejoined)."""
    body = [line for line in paragraph[:-1] if line.kind in ("prose", "list")]
    short = [line for line in body if len(line.plain) < max(30, 0.55 * layout.wrap)]
    shortish = [line for line in body if len(line.plain) < 0.8 * layout.wrap]
    ending = [line for line in body if _ENDS_SENTENCE.search(line.plain)]
    # Lines kept as they are: an address, verse, a list of names...
    line_structured = bool(body) and len(short) * 2 > len(body)
    # ... or one sentence per line.
    sentence_lines = bool(body) and len(ending) >= 0.6 * len(body) and len(shortish) * 2 >= len(body)
    joins = []
    for a, b in zip(paragraph, paragraph[1:]):
        joins.append(_join(a, b, layout, line_structured, sentence_lines))
    return joins


def _join(a: Line, b: Line, layout: _Layout, line_structured: bool, sentence_lines: bool) -> str:
    if b.kind == "header_cont":
        return " "
    if {a.kind, b.kind} & {"code", "table", "heading", "header"} or b.kind == "list" or a.quote != b.quote:
        return "\n"
    hanging = a.kind == "list" and abs(b.indent - a.list_text) <= 1
    if abs(a.indent - b.indent) >= 4 and not hanging:
        return "\n"
    if line_structured:
        return "\n"
    if sentence_lines and _ENDS_SENTENCE.search(a.plain) and _STARTS_SENTENCE.search(b.plain):
        return "\n"
    left, right = _HYPHENATED.search(a.plain), _WORD_START.search(b.plain)
    if left and right:
        joined = (left.group(1) + right.group(1)).lower()
        if joined in layout.words:
            return ""      # "elabor-" + "ate": the word appears unbroken elsewhere in the file
        if f"{left.group(1)}-{right.group(1)}".lower() in layout.words:
            return "-"     # "well-" + "known": the hyphenated word appears elsewhere
    return " "


def _render(builder: TextBuilder, original: str, start: int, end: int, pattern: re.Pattern[str],
            line_start: int) -> None:
    """Copy original[start:end], leaving markup out and repairing characters."""
    line = original[line_start:end]
    pos = start - line_start
    for match in pattern.finditer(line, pos, end - line_start):
        builder.copy(line_start + pos, line_start + match.start())
        groups = match.groupdict()
        kind = next((name for name in (*_NESTED, "code", "mojibake", "space") if groups.get(name)), None)
        if kind in _NESTED:
            group = {"image": "image_alt"}.get(kind, f"{kind}_text")
            if match.group(group):
                _render(builder, original, line_start + match.start(group), line_start + match.end(group),
                        pattern, line_start)
        elif kind == "code":
            builder.copy(line_start + match.start("code_text"), line_start + match.end("code_text"))
        elif kind == "mojibake":
            builder.emit(_MOJIBAKE[match.group("mojibake")], line_start + match.start(), line_start + match.end())
        elif kind == "space":
            builder.emit(" ", line_start + match.start(), line_start + match.end())
        # marker, bullet, space_punct, tag and invisible characters are simply left out
        pos = match.end()
    builder.copy(line_start + pos, end)


def _render_line(original: str, line: Line, end: int, first_in_paragraph: bool, pattern: re.Pattern[str],
                 removals: list[Removal]) -> TextBuilder:
    builder = TextBuilder(original)
    if line.kind == "code":  # verbatim (a fenced line keeps its indentation: see text_lines)
        builder.copy(line.content_start, end)
        return builder
    start = line.content_start
    if first_in_paragraph and line.kind == "prose":
        glued = _GLUED_RESIDUE.match(original[start:end])
        if glued:
            removals.append(Removal(start, start + glued.end(), "image-residue",
                                    "an image file name glued to the paragraph's first word", glued.end()))
            start += glued.end()
    _render(builder, original, start, end, pattern, line.start)
    return builder


def _continues(previous: str, following: str) -> bool:
    """True when a paragraph break falls inside a sentence ("and the" / "Nujaba Front")."""
    previous, following = previous.rstrip(), following.lstrip()
    if not previous or not following or SENTENCE_END.search(previous) or previous.endswith(","):
        return previous.endswith(",") and following[:1].islower()
    if following[:1].islower():
        return True
    return bool(_STOPWORD_END.search(previous))


def clean(original: str, markdown: bool = True) -> CleanText:
    """The document text of `original` with an offset map back into it and the removals.

    `markdown` reads Markdown block structure (headings, fences, lists...) and inline markup;
    text extracted from HTML is cleaned without it."""
    lines = classify(original, markdown)
    removals = find_removals(original, lines)
    layout = _layout(original, lines)
    pattern = _INLINE_MARKDOWN if markdown else _INLINE_PLAIN
    builder = TextBuilder(original)
    previous: Line | None = None
    for paragraph in _paragraphs(lines):
        joins = _joins(paragraph, layout)
        rendered: list[tuple[int, Line, TextBuilder]] = []
        for number, line in enumerate(paragraph):
            join_after = joins[number] if number < len(joins) else "\n"
            end = line.content_end - 1 if join_after == "" else line.content_end
            piece = _render_line(original, line, end, not rendered, pattern, removals)
            if piece.text().strip():
                rendered.append((number, line, piece))
        if not rendered:
            continue
        first = rendered[0][1]
        if previous is not None:
            prose = previous.kind == "prose" and first.kind == "prose"
            first_text = _GLUED_RESIDUE.sub("", original[first.content_start:first.content_end])
            if prose and _continues(original[previous.content_start:previous.content_end], first_text):
                builder.emit(" ", first.start)
            else:
                builder.emit("\n\n", first.start)
        before: Line | None = None
        for number, line, piece in rendered:
            if before is not None:
                join = joins[number - 1]
                if join == " ":
                    builder.emit(" ", before.end, line.content_start)
                elif join == "\n":
                    builder.emit("\n", line.start)
            builder.extend(piece)
            before = line
        previous = rendered[-1][1]
    visible = sum(1 for ch in original if not ch.isspace())
    return builder.build(tuple(sorted(removals, key=lambda r: r.start)), visible)


__all__ = ["CleanText", "Removal", "TextBuilder", "clean"]
