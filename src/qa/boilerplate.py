"""What cleaning removes from a document, and why: each rule recognises one kind of text
(a cookie notice, a comment section, a citation list, an author box...) by what it
contains, and every removal is returned as a Removal with the rule and a reason.

A section rule (comments, references, author box) removes that section only: it never
runs past the next heading, so a file holding several documents keeps all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from .text_lines import LIST_ITEM, Line


@dataclass(frozen=True)
class Removal:
    start: int    # span of the original text removed
    end: int
    rule: str
    reason: str
    chars: int    # non-whitespace characters removed


# A line matching one of these is dropped on its own: (rule, pattern, reason).
_DROP_LINE = [(rule, re.compile(p, re.IGNORECASE), reason) for rule, p, reason in (
    ("photo-credit",
     r"^photo( by)?\s*:|^(image|photograph|picture)( credit)?\s*:|^\(?(photo|image) credit", "a photo credit"),
    ("page-furniture",
     r"^(tags|found in|filed under|categories|share( this)?( article)?|related( articles)?)\s*:",
     "a tag, category or sharing line"),
    ("page-furniture",
     r"^(also read|next for you|article summary|read more|advertisement|p\.\s?s\.?|share|print)$",
     "a navigation or advertising label"),
    ("bare-url", r"^\[?\d*\]?\s*<?https?://\S+>?$", "a line that is only a URL"),
    ("broken-link", r"^\[[^\]\s]*\]\(#\)$", "the residue of a broken link"),
    ("subscription-prompt",
     r"continue reading this article|registering at no cost|subscribe (now|today|to our)"
     r"|sign up for (our|the) newsletter", "a subscription prompt"),
    ("cookie-notice",
     r"^(?=.{0,600}$)(?=.*\b(this|our|the) (web)?site\b|.*\bwe use\b|.*\buses? cookies\b)"
     r".*\bcookies?\b.*\b(privacy|consent|agree|browsing)\b", "a cookie notice"),
    ("post-footer", r"^this entry was posted in|bookmark the permalink", "a blog post's filing line"),
    ("comment-form",
     r"your email address will not be published|required fields are marked|uses akismet to reduce spam",
     "a comment form"),
    ("correction-notice", r"^\*?\s*this article was (amended|updated|corrected) on\b", "a correction notice"),
    ("publication-stamp",
     r"^\*?\s*[\w’' .]{2,40}\. \w+day,? \d{1,2} \w+ \d{4},? \d\d?[.:]\d\d( \w+)?:?$", "a publication stamp"),
)]
_PHOTO_CREDIT = _DROP_LINE[0][1]
_SUBSCRIPTION = _DROP_LINE[5][1]
_BULLET = re.compile(r"^\s*[•·▪◦]")
SENTENCE_END = re.compile(r"[.!?:;\"”’)\]]$")

# Comment sections. Names are capitalised, so the header patterns are case-sensitive.
_COMMENTS_OPEN = re.compile(r"^(leave a (reply|comment)|post a comment|add a comment|join the discussion)",
                            re.IGNORECASE)
_COMMENTS_COUNTED = re.compile(r"^\d+ (comments?|responses?|replies)$", re.IGNORECASE)
_COMMENTS_TITLE = re.compile(r"^(comments?|responses?)$", re.IGNORECASE)
_COMMENT_HEADER = re.compile(r"^•\s*[^\s].{0,60}\bsays:$|^[A-Z][\w'.-]*( [A-Z][\w'.-]*){0,3} says:$")
_BULLETED_HEADER = re.compile(r"^•")

# Citation lists: a heading, then entries judged one by one.
_REFERENCES_TITLE = re.compile(
    r"^(?:\d+\.?\s+)?(footnotes|end ?notes|notes|references|bibliography|works cited|sources|citations"
    r"|literature( cited)?|further reading)\s*:?$", re.IGNORECASE)
_REFERENCE_SIGNS = [re.compile(p) for p in (
    r"https?://|www\.\w|\bdoi\b|\b10\.\d{4,}/",                     # a URL or DOI
    r"\bet al\b",
    r"(?i)\b(vol|no|pp?)\.\s*\d|\bISBN\b|\bibid\b|\bop\. cit\b|\bretrieved\b|\baccessed\b",
    r"\b\d+\s*\(\d+\)\s*[:,]\s*\d+",                                # journal 12(3): 45
    r"\(\s*(1[6-9]|20)\d{2}[a-z]?\s*\)",                              # (2010)
    r"^\s*(?:\d{1,3}[.)]\s*)?[A-Z][\w'’-]+,\s+(?:[A-Z]\.\s*)+",      # Smith, J.
    r"^\s*(?:\d{1,3}[.)]\s*)?[A-Z][\w'’-]+ [A-Z]{1,3}[,.]",            # Smith JA,
    r"^\s*(?:\d{1,3}[.)]\s*)?[A-Z][\w'’-]+,\s+[A-Z].{0,80}\b(1[6-9]|20)\d{2}\b",  # Smith, John. 2010.
    r"^\s*\[\d{1,3}\]",                                              # a numbered [n] entry
)]
_REFERENCE_SHARE = 0.6   # of the entries up to the last one removed, at least this share look like references
_MAX_ENTRY_CHARS = 600   # a longer entry is prose, whatever it cites
_MAX_ENTRY_LINES = 12    # an entry is never longer; reading stops there
_PROSE_ENDS_LIST = 3     # this many entries in a row that are not references: the document goes on

# An author box: "About <Name>" or "About the author", then a short biography.
_AUTHOR_TITLE = re.compile(r"^About (the author|[A-Z][\w'.-]+( [A-Za-z][\w'.-]+){0,3})$")
_BIOGRAPHY = re.compile(
    r"\b(writes|tweets|author|journalist|editor|contributor|analyst|activist|reporter|correspondent"
    r"|columnist|researcher|fellow|professor|follow (him|her|them))\b", re.IGNORECASE)
_MAX_BIOGRAPHY_CHARS = 600


def find_removals(original: str, lines: list[Line]) -> list[Removal]:
    """Mark the removed lines (line.removed) and return the removals, in order."""
    marked: list[tuple[int, int, str, str]] = []  # (first line, last line, rule, reason)
    document = _Document(lines)
    index = 0
    while index < len(lines):
        section = None
        if lines[index].kind not in ("blank", "code", "fence", "markup", "underline", "rule"):
            section = _comments(document, index) or _references(lines, index) or _author_box(lines, index)
        if section is None:
            index += 1
            continue
        last, rule, reason = section
        marked.append((index, last, rule, reason))
        index = last + 1
    taken = set()
    for first, last, _, _ in marked:
        taken.update(range(first, last + 1))
    marked += _dropped_lines(lines, taken)
    marked.sort()
    removals = []
    for first, last, rule, reason in _merged(lines, marked):
        for line in lines[first:last + 1]:
            line.removed = True
        start, end = lines[first].start, lines[last].end
        chars = sum(1 for ch in original[start:end] if not ch.isspace())
        removals.append(Removal(start, end, rule, reason, chars))
    return removals


def _merged(lines: list[Line], marked: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, str]]:
    """Consecutive removals by one rule (blank lines between) become one."""
    merged: list[tuple[int, int, str, str]] = []
    for first, last, rule, reason in marked:
        if merged:
            p_first, p_last, p_rule, p_reason = merged[-1]
            between = lines[p_last + 1:first]
            if p_rule == rule and p_reason == reason and all(line.kind == "blank" for line in between):
                merged[-1] = (p_first, last, rule, reason)
                continue
        merged.append((first, last, rule, reason))
    return merged


class _Document:
    """Where each line's document ends (before the next heading) and how many comment
    headers come before each line, computed once so that each rule's check is cheap."""

    def __init__(self, lines: list[Line]) -> None:
        self.lines = lines
        self.end = [0] * len(lines)
        last = len(lines) - 1
        for position in range(len(lines) - 1, -1, -1):
            self.end[position] = last
            if lines[position].kind == "heading":
                last = position - 1
        self.headers = [0]
        for line in lines:
            self.headers.append(self.headers[-1] + bool(_COMMENT_HEADER.search(line.plain)))

    def last_line(self, index: int) -> int:
        """The last non-blank line of the document lines[index] is in."""
        last = max(index, self.end[index])
        while last > index and self.lines[last].kind == "blank":
            last -= 1
        return last


def _comments(document: _Document, index: int) -> tuple[int, str, str] | None:
    text = document.lines[index].plain
    opens = _COMMENTS_OPEN.search(text) or _COMMENTS_COUNTED.search(text)
    if not (opens or _COMMENTS_TITLE.search(text) or _COMMENT_HEADER.search(text)):
        return None
    last = document.last_line(index)
    headers = document.headers[last + 1] - document.headers[index]
    if opens:
        pass
    elif _COMMENTS_TITLE.search(text):
        if not headers:
            return None  # a section called "Comments" without a single comment in it
    elif headers < 2 and not _BULLETED_HEADER.search(text):
        return None  # one "Name says:" line is a quotation, not a comment section
    described = f"{headers} comment(s)" if headers else "a comment form"
    return last, "comments", f"comment section from “{_short(text)}” to the end of the document ({described})"


def _entries(lines: list[Line], first: int) -> Iterator[tuple[int, int]]:
    """Entries of a list starting at lines[first], up to the next heading: a new entry starts
    after a blank line or at a list or [n] marker."""
    current: tuple[int, int] | None = None
    for position in range(first, len(lines)):
        line = lines[position]
        if line.kind == "heading":
            break
        if line.kind == "blank":
            if current:
                yield current
            current = None
            continue
        starts = LIST_ITEM.match(line.plain) or line.plain.startswith("[")
        if current is None or starts:
            if current:
                yield current
            current = (position, position)
        elif position - current[0] >= _MAX_ENTRY_LINES:
            yield current  # a long run of lines: prose, and no list goes on after it
            return
        else:
            current = (current[0], position)
    if current:
        yield current


def _looks_like_reference(text: str) -> bool:
    return len(text) <= _MAX_ENTRY_CHARS and any(sign.search(text) for sign in _REFERENCE_SIGNS)


def _references(lines: list[Line], index: int) -> tuple[int, str, str] | None:
    heading = lines[index].plain
    if not _REFERENCES_TITLE.search(heading):
        return None
    entries: list[tuple[int, int]] = []
    cited = 0
    last_entry = -1
    prose_run = 0
    for number, (first, last) in enumerate(_entries(lines, index + 1)):
        text = " ".join(line.plain for line in lines[first:last + 1])
        if _REFERENCES_TITLE.search(text):
            break  # the next list
        entries.append((first, last))
        if _looks_like_reference(text):
            cited += 1
            prose_run = 0
            if cited >= _REFERENCE_SHARE * (number + 1):
                last_entry = number
        else:
            prose_run += 1
            if prose_run >= _PROSE_ENDS_LIST:
                break
    if last_entry < 0:
        return None  # a heading followed by prose: not a citation list
    taken = entries[:last_entry + 1]
    cited = sum(1 for first, last in taken
                if _looks_like_reference(" ".join(line.plain for line in lines[first:last + 1])))
    return taken[-1][1], "references", (f"citation list under “{_short(heading)}”: {cited} of {len(taken)} "
                                        f"entries look like references (URLs, DOIs, authors and years)")


def _author_box(lines: list[Line], index: int) -> tuple[int, str, str] | None:
    heading = lines[index].plain
    title = _AUTHOR_TITLE.search(heading)
    if not title:
        return None
    first, last = next(_entries(lines, index + 1), (-1, -1))
    if first < 0:
        return None
    if any(lines[p].kind == "list" for p in range(first, last + 1)):
        return None
    biography = " ".join(line.plain for line in lines[first:last + 1])
    name = title.group(1)
    names_author = name == "the author" or name.split()[0].lower() in biography.lower()
    if len(biography) > _MAX_BIOGRAPHY_CHARS or not names_author or not _BIOGRAPHY.search(biography):
        return None
    return last, "author-box", f"author box “{_short(heading)}” and its biography"


def _dropped_lines(lines: list[Line], taken: set[int]) -> list[tuple[int, int, str, str]]:
    """Single lines of page furniture, with the caption after a photo credit and the bullet
    list after a subscription prompt."""
    dropped = []
    after_credit = in_promo = False
    for position, line in enumerate(lines):
        if position in taken or line.kind in ("code", "fence", "markup", "underline", "rule"):
            continue
        text = line.plain
        if not text:
            continue
        if in_promo and _BULLET.match(text):
            dropped.append((position, position, "subscription-prompt", "a subscription prompt's list"))
            continue
        in_promo = False
        if _PHOTO_CREDIT.search(text):
            after_credit = True
            dropped.append((position, position, "photo-credit", "a photo credit"))
            continue
        if after_credit:
            after_credit = False
            if not SENTENCE_END.search(text) and len(text) <= 200:
                dropped.append((position, position, "photo-caption", "the caption of the photo credited above"))
                continue
        if _SUBSCRIPTION.search(text):
            in_promo = True
        for rule, pattern, reason in _DROP_LINE:
            if pattern.search(text):
                dropped.append((position, position, rule, reason))
                break
    return dropped


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


__all__ = ["Removal", "SENTENCE_END", "find_removals"]
