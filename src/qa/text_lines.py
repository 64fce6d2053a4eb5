"""The lines of a plain-text or Markdown file and what each one is: prose, a list item, a
heading, a code line, a table row, a mail header, or markup to leave out (fences, rules,
setext underlines, HTML-only lines). Cleaning decides from this what to keep, what to
unwrap and which characters are markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Kinds whose line is not emitted at all: markup that carries no words.
MARKUP_KINDS = frozenset({"underline", "rule", "fence", "markup"})

_HTML_TAGS = (
    "a|abbr|article|aside|b|big|blockquote|br|center|cite|code|dd|del|details|div|dl|dt|em|figcaption|figure"
    "|font|footer|h[1-6]|header|hr|i|iframe|img|ins|kbd|li|main|mark|nav|ol|p|picture|pre|s|section|small"
    "|source|span|strike|strong|sub|summary|sup|table|tbody|td|th|thead|tr|tt|u|ul|video")
HTML_TAG = rf"<!--.*?-->|</?(?:{_HTML_TAGS})\b[^<>\n]*>"
_HTML_ONLY = re.compile(rf"^\s*(?:(?:{HTML_TAG})\s*)+$", re.IGNORECASE)
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+|$)")
_ATX_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_WIKI = re.compile(r"^(={1,6})[ \t]*(\S.*?)[ \t]*\1[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_DELIMITED = re.compile(r"^(-{4,}|\.{4,}|={4,})[ \t]*$")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]^\n][^\]\n]*\]:\s+<?\S+>?(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*$")
_IMAGE_ONLY = re.compile(r"^\s*(?:!\[\]\([^)\n]*\)\s*)+$")
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_TABLE = re.compile(r"^\s*\|.*\||\S\s+\|\s+\S.*\s\|\s")
LIST_ITEM = re.compile(r"^[ \t]*(?:[-+*•·▪◦]|\d{1,3}[.)]|\(\w{1,4}\)|[a-zA-Z][.)]|[ivxlcIVXLC]{1,5}[.)])[ \t]+(?=\S)")
_MAIL_HEADER = re.compile(
    r"^(?:From|To|Cc|Bcc|Date|Subject|Reply-To|Message-I[Dd]|In-Reply-To|References|Sender|Organi[sz]ation"
    r"|Newsgroups|Content-[Tt]ype|Content-Transfer-Encoding|MIME-Version|Abstract|X-[\w-]+):[ \t]")


@dataclass
class Line:
    start: int               # the line in the original, without its line break
    end: int
    kind: str = "prose"      # blank, prose, list, header, header_cont, heading, code, table, or a MARKUP_KIND
    content_start: int = 0   # what is emitted: markers and surrounding whitespace left out
    content_end: int = 0
    indent: int = 0          # columns of leading whitespace (a tab counts 4)
    quote: int = 0           # depth of ">" quoting
    list_text: int = -1      # column where a list item's text starts (its continuation lines align there)
    plain: str = ""          # the words of the line, whitespace normalised, markers left out
    removed: bool = False    # by a boilerplate rule

    @property
    def emitted(self) -> bool:
        return self.kind != "blank" and self.kind not in MARKUP_KINDS and not self.removed


def normalized(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


def line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line, without its line break."""
    spans, pos = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        spans.append((pos, pos + len(body)))
        pos += len(line)
    return spans


def _width(whitespace: str) -> int:
    return len(whitespace.expandtabs(4))


def classify(original: str, markdown: bool) -> list[Line]:
    """The lines of `original`, each with its kind. Without `markdown` (text extracted from
    HTML) only blank and prose lines are told apart: the tags have already been read."""
    lines: list[Line] = []
    fence = ""
    in_comment = False
    for start, end in line_spans(original):
        raw = original[start:end]
        lead = len(raw) - len(raw.lstrip())
        line = Line(start, end, content_start=start + lead, content_end=start + len(raw.rstrip()),
                    indent=_width(raw[:lead]), plain=normalized(raw))
        lines.append(line)
        if not raw.strip():
            line.kind = "blank"
            continue
        if not markdown:
            continue
        previous = lines[-2] if len(lines) > 1 else None
        if fence:
            opened = _FENCE.match(raw)
            closes = raw.strip() == fence if fence[0] in "-.=" else (
                opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence)
                and not raw.strip().strip(fence[0]))
            line.kind = "fence" if closes else "code"
            fence = "" if closes else fence
            if not closes:
                line.content_start = start  # code keeps its indentation
            continue
        if in_comment:
            line.kind = "markup"
            in_comment = "-->" not in raw
            continue
        opened = _FENCE.match(raw)
        delimiter = _DELIMITED.match(raw)
        if opened:
            line.kind, fence = "fence", opened.group(1)
        elif delimiter and (previous is None or previous.kind == "blank" or previous.kind in MARKUP_KINDS) \
                and re.compile(rf"^{re.escape(delimiter.group(1))}[ \t]*$", re.MULTILINE).search(original, end):
            line.kind, fence = "fence", delimiter.group(1)  # an AsciiDoc listing or literal block
        elif raw.lstrip().startswith("<!--") and "-->" not in raw:
            line.kind, in_comment = "markup", True
        elif _HTML_ONLY.match(raw) or _LINK_DEFINITION.match(raw) or _IMAGE_ONLY.match(raw):
            line.kind = "markup"
        elif _SETEXT.match(raw) and previous is not None and previous.kind in ("prose", "heading"):
            line.kind, previous.kind = "underline", "heading"
        elif _RULE.match(raw):
            line.kind = "rule"
        elif _ATX.match(raw):
            _heading(line, original, _ATX.match(raw).end())
        elif _WIKI.match(raw):
            wiki = _WIKI.match(raw)
            line.kind = "heading"
            line.content_start, line.content_end = start + wiki.start(2), start + wiki.end(2)
            line.plain = normalized(wiki.group(2))
        else:
            _body_line(line, raw, previous)
    _mark_indented_code(lines)
    return lines


def _heading(line: Line, original: str, marker_end: int) -> None:
    line.kind = "heading"
    text = original[line.start + marker_end:line.end]
    close = _ATX_CLOSE.search(text)
    if close:
        text = text[:close.start()]
    body = text.strip()
    if not body:
        line.kind = "markup"  # a lone "#"
        return
    line.content_start = line.start + marker_end + (len(text) - len(text.lstrip()))
    line.content_end = line.content_start + len(body)
    line.plain = normalized(body)


def _body_line(line: Line, raw: str, previous: Line | None) -> None:
    quoted = _QUOTE.match(raw)
    if quoted:
        line.quote = quoted.group().count(">")
        line.content_start = line.start + quoted.end()
        raw_body = raw[quoted.end():]
        line.plain = normalized(raw_body)
        if not line.plain:
            line.kind = "markup"
            return
    else:
        raw_body = raw
    if _TABLE.search(raw_body):
        line.kind = "table"
    elif _MAIL_HEADER.match(raw_body):
        line.kind = "header"
    elif previous is not None and previous.kind in ("header", "header_cont") and raw_body[:1] in " \t":
        line.kind = "header_cont"  # a folded mail header
    else:
        item = LIST_ITEM.match(raw_body)
        if item:
            line.kind = "list"
            line.list_text = _width(raw_body[:item.end()].replace("•", " "))


def _mark_indented_code(lines: list[Line]) -> None:
    """A paragraph indented 4 or more columns deeper than the file's usual indentation is a
    code or literal block (unless it continues a list item, aligned with the item's text, or
    reads as prose: an indented quotation in a mail or a plain-text note is still sentences)."""
    indents = [line.indent for line in lines if line.kind in ("prose", "list")]
    if not indents:
        return
    base = max(set(indents), key=indents.count)
    list_column = -1
    paragraph_start, block = True, []
    for line in lines + [Line(0, 0, kind="blank")]:
        if line.kind == "blank" or line.kind in MARKUP_KINDS:
            _mark_block(block)
            paragraph_start, block = True, []
            continue
        if paragraph_start:
            paragraph_start = False
            if line.kind == "list":
                list_column = line.list_text
            elif line.kind == "heading":
                list_column = -1
            elif line.kind == "prose" and line.indent >= base + 4 and not (
                    list_column >= 0 and line.indent <= list_column + 1):
                block = [line]
                continue
            elif line.kind == "prose" and line.indent <= base:
                list_column = -1
            block = []
        elif line.kind == "prose" and block:
            block.append(line)


# Characters that mark code rather than prose.
_CODE_CHARACTERS = re.compile(r"[{}=;$<>\\/|_`*#@\[\]]")
_SENTENCE_END = re.compile(r"[.!?:][\"')\]]*$")


def _reads_as_prose(block: list[Line]) -> bool:
    """Mostly words, few code characters, and sentence punctuation: an indented quotation."""
    text = " ".join(line.plain for line in block)
    words = text.split()
    if len(words) < 6 * len(block) or not any(_SENTENCE_END.search(line.plain) for line in block):
        return False
    return len(_CODE_CHARACTERS.findall(text)) <= 0.02 * len(text)


def _mark_block(block: list[Line]) -> None:
    if block and not _reads_as_prose(block):
        for line in block:
            line.kind = "code"


__all__ = ["HTML_TAG", "LIST_ITEM", "Line", "MARKUP_KINDS", "classify", "line_spans", "normalized"]
