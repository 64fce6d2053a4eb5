"""Remove web boilerplate from an article and repair broken characters, keeping a map
from every character of the cleaned text back to its offset in the original file.

Written here rather than taken from trafilatura/justext because those work on HTML and
return text without offsets; citations must point into the original file.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass

# A line matching one of these is dropped on its own.
_DROP_LINE = [re.compile(p, re.IGNORECASE) for p in (
    r"^photo( by)?\s*:|^(image|photograph|picture)( credit)?\s*:|^\(?(photo|image) credit",
    r"^(tags|found in|filed under|categories|share( this)?( article)?|related( articles)?)\s*:",
    r"^(also read|next for you|article summary|read more|advertisement|p\.\s?s\.?|share|print)$",
    r"^\[?\d*\]?\s*<?https?://\S+>?$",                      # a bare URL, maybe numbered
    r"^\[[^\]\s]*\]\(#\)$",                                 # residue of a broken link
    r"continue reading this article|registering at no cost|subscribe (now|today|to our)"
    r"|sign up for (our|the) newsletter",
    r"\bcookies?\b.*\b(privacy|consent|agree|browsing)\b",
    r"^this entry was posted in|bookmark the permalink",
    r"your email address will not be published|required fields are marked|uses akismet to reduce spam",
    r"^\*?\s*this article was (amended|updated|corrected) on\b",           # a correction notice
    r"^\*?\s*[\w’' .]{2,40}\. \w+day,? \d{1,2} \w+ \d{4},? \d\d?[.:]\d\d( \w+)?:?$",  # publication stamp
)]
# A line matching one of these starts the page's tail (footnotes, comments, author box):
# it and everything after it are dropped.
# The comment-header and "About <Name>" patterns (2 and 3) are case-sensitive: names are capitalised.
_TAIL_START = [re.compile(p, 0 if i in (2, 3) else re.IGNORECASE) for i, p in enumerate((
    r"^(footnotes|notes|references)$",
    r"^leave a (reply|comment)",
    r"^•\s*[^\s].{0,60}\bsays:$|^[A-Z][\w'.-]*( [A-Z][\w'.-]*){0,3} says:$",  # reader comment header
    r"^About (the author|[A-Z][\w'.-]+( [A-Za-z][\w'.-]+){0,3})$",
    r"^(\d+ )?(comments?|responses?)$",
))]
_PHOTO_CREDIT = _DROP_LINE[0]
_SUBSCRIPTION = _DROP_LINE[5]
_BULLET = re.compile(r"^\s*[•·▪◦]")
_SENTENCE_END = re.compile(r"[.!?:;\"”’)\]]$")

# Inline repairs, one combined pass so offsets can be tracked for each match.
_MOJIBAKE = {"â€™": "’", "â€˜": "‘", "â€œ": "“", "â€\x9d": "”", "â€“": "–", "â€”": "—",
             "â€¦": "…", "Ã©": "é", "Ã¨": "è", "Ã¡": "á", "Ã¶": "ö", "Ã¼": "ü", "Â ": " ", "Â\u00a0": " "}
_INLINE = re.compile("|".join((
    r"(?P<link>\[(?P<link_text>[^\]\n]+)\]\((?:#|https?://[^)\s]*)\))",   # [text](#) -> text
    r"(?P<marker>\s?\[\d{1,3}\](?=[\s,.;:)]|$))",                        # footnote marker [3]
    r"(?P<emph>(?<![\w*])\*(?P<emph_text>[^*\n]+)\*(?!\w))",               # *word* -> word
    r"(?P<bullet>^\*\s+)",                                                 # "* " list marker
    r"(?P<space_punct>(?<=\w) +(?=[,;](\s|$)))",                           # "Turkey ," -> "Turkey,"
    r"(?P<mojibake>" + "|".join(re.escape(k) for k in _MOJIBAKE) + ")",
    r"(?P<space>[\u00a0\u2007\u202f\t])",                                  # odd spaces -> " "
    r"(?P<invisible>[\u200b\u200c\u200d\u2060\ufeff\u00ad])",              # zero-width, soft hyphen
)), re.MULTILINE)
# Image file-name residue glued to the first word of a paragraph: "faqihassadDictators are".
_GLUED_RESIDUE = re.compile(r"^([a-z]{5,})(?=[A-Z][a-z]+\b)")
_STOPWORD_END = re.compile(
    r"\b(the|a|an|and|or|of|to|in|on|at|for|with|by|from|as|that|which|who|is|are|was|were|than)$",
    re.IGNORECASE)


@dataclass(frozen=True)
class CleanText:
    text: str
    offsets: array  # offsets[i] = where text[i] starts in the original
    ends: array     # ends[i] = where text[i] ends in the original (a repaired "â€™" spans 3)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the cleaned text to the original text."""
        if end <= start:
            at = self.offsets[start] if start < len(self.offsets) else (self.ends[-1] if self.ends else 0)
            return at, at
        return self.offsets[start], self.ends[end - 1]


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

    def build(self) -> CleanText:
        return CleanText("".join(self.parts), self.offsets, self.ends)


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line, without its line break."""
    spans, pos = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        spans.append((pos, pos + len(body)))
        pos += len(line)
    return spans


def _normalized(line: str) -> str:
    return " ".join(line.replace("\u00a0", " ").split())


def _kept_lines(original: str) -> list[tuple[int, int]]:
    """Spans of the lines that belong to the article, blank lines kept as paragraph breaks."""
    kept: list[tuple[int, int]] = []
    after_credit = in_promo = False
    for start, end in _lines(original):
        line = _normalized(original[start:end])
        if not line:
            kept.append((start, start))
            continue
        if any(p.search(line) for p in _TAIL_START):
            break
        if in_promo and _BULLET.match(line):
            continue
        in_promo = False
        if _PHOTO_CREDIT.search(line):
            after_credit = True
            continue
        if after_credit:
            after_credit = False
            if not _SENTENCE_END.search(line) and len(line) <= 200:
                continue  # the caption of the photo just credited
        if _SUBSCRIPTION.search(line):
            in_promo = True
            continue
        if any(p.search(line) for p in _DROP_LINE):
            continue
        kept.append((start, end))
    return kept


def _paragraphs(original: str, lines: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    paragraphs: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for start, end in lines:
        if start == end:
            if current:
                paragraphs.append(current)
                current = []
        else:
            current.append((start, end))
    if current:
        paragraphs.append(current)
    return paragraphs


def _continues(previous: str, following: str) -> bool:
    """True when a paragraph break falls inside a sentence ("and the" / "Nujaba Front")."""
    previous, following = previous.rstrip(), following.lstrip()
    if not previous or not following or _SENTENCE_END.search(previous) or previous.endswith(","):
        return previous.endswith(",") and following[:1].islower()
    if following[:1].islower():
        return True
    return bool(_STOPWORD_END.search(previous))


def _emit_line(builder: TextBuilder, original: str, start: int, end: int, first_in_paragraph: bool) -> None:
    line = original[start:end]
    # Trim surrounding whitespace; keep the offsets of what remains.
    left = len(line) - len(line.lstrip())
    right = len(line.rstrip())
    pos = left
    if first_in_paragraph:
        glued = _GLUED_RESIDUE.match(line, pos)
        if glued:
            pos = glued.end()
    for match in _INLINE.finditer(line, pos, right):
        builder.copy(start + pos, start + match.start())
        kind = match.lastgroup if match.lastgroup not in ("link_text", "emph_text") else None
        if match.group("link"):
            builder.copy(start + match.start("link_text"), start + match.end("link_text"))
        elif match.group("emph"):
            builder.copy(start + match.start("emph_text"), start + match.end("emph_text"))
        elif match.group("mojibake"):
            builder.emit(_MOJIBAKE[match.group("mojibake")], start + match.start(), start + match.end())
        elif match.group("space"):
            builder.emit(" ", start + match.start(), start + match.end())
        del kind  # marker, bullet, space_punct and invisible characters are simply dropped
        pos = match.end()
    builder.copy(start + pos, start + right)


def clean(original: str) -> CleanText:
    """Return the article text of `original` with an offset map back into it."""
    builder = TextBuilder(original)
    paragraphs = _paragraphs(original, _kept_lines(original))
    previous_text = ""
    for index, paragraph in enumerate(paragraphs):
        first_start = paragraph[0][0]
        if index:
            first_line = original[first_start:paragraph[0][1]].strip()
            first_line = _GLUED_RESIDUE.sub("", first_line)
            if _continues(previous_text, first_line):
                builder.emit(" ", first_start)
            else:
                builder.emit("\n\n", first_start)
        for line_index, (start, end) in enumerate(paragraph):
            if line_index:
                builder.emit("\n", start)
            _emit_line(builder, original, start, end, first_in_paragraph=line_index == 0)
        previous_text = original[paragraph[-1][0]:paragraph[-1][1]]
    return builder.build()


__all__ = ["CleanText", "TextBuilder", "clean"]
