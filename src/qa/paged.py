"""Text of a PDF or Word file, page by page, and how it becomes a Document's cleaned text.

A PDF or DOCX has no text file on disk for offsets to point into, so its "original text" is
defined as the text the reader extracts: the pages' text joined by a form feed ("\\f"), one
character between pages. Citation.start/end are offsets in that text, and every character's
page is where it falls between the form feeds (`page_starts`).

The reader (pdf_text, docx_text; run in a limited subprocess, see qa.sandbox) also says where
the paragraphs are (`blocks`): a PDF's lines are joined into paragraphs here, since its text
has a line break at the end of every printed line. `assemble` copies each block with the
line and page breaks inside it made spaces, separates blocks by blank lines, runs the plain
text cleaner over that, and composes the offset maps so the cleaned text points into the
original text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from .cleaning import CleanText, TextBuilder, clean
from .html_text import _compose
from .structure import Heading, Structure, Table, next_text, on_own_lines

PAGE_BREAK = "\f"
_BREAKS = re.compile(r"[ \t]*[\r\n\f\v\u2028\u2029][\s]*")  # a line or page break and the spaces around it
_HYPHEN_END = re.compile(r"(?<=[A-Za-z])-$")
# Titles that document properties often carry and that name nothing: the program, a template,
# the file the document was converted from.
_JUNK_TITLE = re.compile(r"^(untitled|no title|title|document\d*|microsoft word - .*|.*\.(docx?|pdf|rtf|odt|"
                         r"indd|qxd|tex|dvi|html?|txt|ps))$", re.IGNORECASE)


class ReaderError(ValueError):
    """A file that cannot be read; the message says why and what to do."""


@dataclass(frozen=True)
class PagedText:
    """A paged document as its reader saw it. Spans are offsets in `original`."""
    original: str
    page_starts: tuple[int, ...] | None   # where each page starts; None: the format has no pages
    blocks: tuple[tuple[int, int], ...]    # paragraphs, headings and table rows, in order
    headings: tuple[Heading, ...] = ()
    tables: tuple[Table, ...] = ()
    title: str = ""                        # the document properties' title, when it names something

    def page_at(self, offset: int) -> int | None:
        return page_at(self.page_starts, offset)


def page_at(page_starts: tuple[int, ...] | None, offset: int) -> int | None:
    """The 1-based page holding original offset `offset` (None for a format without pages)."""
    if page_starts is None:
        return None
    return max(1, bisect_right(page_starts, offset))


def usable_title(title: str, file_name: str = "") -> str:
    """A document-properties title, or "" when it names nothing ("Untitled", "Microsoft Word -
    draft.docx", the file's own name)."""
    title = " ".join(title.split())
    names = (file_name.lower(), file_name.rsplit(".", 1)[0].lower())
    if not title or _JUNK_TITLE.match(title) or title.lower() in names:
        return ""
    return title


def assemble(paged: PagedText) -> tuple[CleanText, Structure]:
    """The cleaned text of a paged document (offsets into paged.original) and its structure."""
    original = paged.original
    words = frozenset(re.findall(r"[a-z]+", original.lower()))
    builder = TextBuilder(original)
    starts: list[int] = []  # in the built text: where a heading or a table row starts
    heading_spans = {(h.start, h.end) for h in paged.headings}
    row_spans = {span for t in paged.tables for span in ([t.header_span] if t.header_span else []) + list(t.rows)}
    for number, (start, end) in enumerate(paged.blocks):
        if number:
            builder.emit("\n\n", start)
        if (start, end) in heading_spans or (start, end) in row_spans:
            starts.append(len(builder.offsets))
        at = start
        for match in _BREAKS.finditer(original, start, end):
            piece_end = match.start()
            joined = ""
            hyphen = _HYPHEN_END.search(original, at, piece_end)
            follows = re.match(r"[a-z]+", original[match.end():end])
            if hyphen and follows:
                word = re.search(r"[A-Za-z]+$", original[at:piece_end - 1])
                if word and (word.group().lower() + follows.group()) in words:
                    piece_end -= 1  # "elabor-" + "ate": the word appears unbroken elsewhere
            else:
                joined = " "
            builder.copy(at, piece_end)
            if joined:
                builder.emit(joined, match.start(), match.end())
            at = match.end()
        builder.copy(at, end)
    built = builder.build()
    structure = Structure(paged.headings, paged.tables, "", splits_documents=False)
    cleaned = clean(built.text, markdown=False)
    cleaned = on_own_lines(cleaned, [next_text(built.text, s) for s in starts])
    return _compose(built, cleaned), structure


__all__ = ["PAGE_BREAK", "PagedText", "ReaderError", "assemble", "page_at", "usable_title"]
