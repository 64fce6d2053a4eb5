"""The page a PDF citation comes from, as an image with the quoted sentences highlighted.

A citation's highlights are offsets in its passage text (cleaned text); the document is read
again (the reader's result is kept per file content, see corpus._read_paged) to map them back
through the cleaned text's offsets to the original text, whose offsets within a page are
PDFium's character indices. The page is rendered in the reader subprocess (qa.sandbox).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path

from .corpus import load_document
from .types import Citation


@dataclass(frozen=True)
class PageImage:
    page: int          # 1-based
    png: bytes
    highlighted: int   # boxes drawn over the quoted text (0: the text was not found on the page)


def citation_page(citation: Citation, corpus_dir: Path, width: int = 700) -> PageImage | None:
    """The page of a PDF citation holding its first quoted sentence (else the page the passage
    starts on), highlighted; None for a citation of another format or a file no longer there.
    ValueError when the file cannot be read."""
    from . import sandbox

    path = Path(corpus_dir) / citation.path
    if citation.page is None or path.suffix.lower() != ".pdf" or not path.is_file():
        return None
    doc = load_document(path, Path(corpus_dir))
    starts = doc.page_starts or (0,)
    spans = _original_spans(doc, citation)
    page = doc.page_at(spans[0][0]) if spans else citation.page
    page = page if page and 1 <= page <= len(starts) else citation.page
    page_start = starts[page - 1]
    page_end = starts[page] - 1 if page < len(starts) else len(doc.original)
    on_page = [[max(s, page_start) - page_start, min(e, page_end) - page_start]
               for s, e in spans if s < page_end and e > page_start]
    result = sandbox.run("render_page", path, page=page, spans=on_page, width=width)
    return PageImage(page, result["png"], int(result["boxes"]))


def _original_spans(doc, citation: Citation) -> list[tuple[int, int]]:
    """The citation's highlights as spans of the original text ([] when the passage is not in
    the document as it is now)."""
    cleaned = doc.cleaned
    at = bisect_left(cleaned.offsets, citation.start)
    if not doc.text.startswith(citation.text, at):
        at = doc.text.find(citation.text)
        if at < 0:
            return []
    spans = [cleaned.original_span(at + s, at + e) for s, e in citation.highlights if e > s]
    return sorted(span for span in spans if span[1] > span[0])


__all__ = ["PageImage", "citation_page"]
