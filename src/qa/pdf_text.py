"""The text layer of a PDF, page by page, its outline and title; and a page as an image with
quoted text highlighted.

Library: pypdfium2 (PDFium, the engine of Chromium's PDF viewer). Measured on a generated
40-page report (benchmarks/document_readers.py; one- and two-column pages): pypdfium2 read it
in 20-27 ms (0.5-0.7 ms a page), pypdf in 225-343 ms, pdfminer.six in 640-690 ms; pypdfium2
and pypdf kept 100% of the words in order, pdfminer.six 99.7% (it reorders a two-column
page). PDFium also gives each character's box, which the page image's highlight needs, and
renders pages without a browser plugin: one library for reading and showing.

read_pdf and render_page run in a subprocess with limits (qa.sandbox); they raise
ReaderError with a reason a person can act on. The text of a page is PDFium's, character
for character (lines end with "\\r\\n"), so an offset into it is a PDFium character index.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from .paged import PAGE_BREAK, PagedText, ReaderError, usable_title
from .structure import Heading, plain_title

MAX_PAGES = 5000          # a longer PDF is split first: a 5,000-page book is ~2.5 s of PDFium
MAX_OUTLINE_ENTRIES = 5000
MAX_OUTLINE_DEPTH = 6     # headings deeper than h6 are not sections
_SENTENCE_END = re.compile(r"[.!?:;][\"'”’)\]]*$")
_LIST_ITEM = re.compile(r"^\s*(?:[•▪‣◦·\-*–]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


def _open(path: Path):
    import pypdfium2 as pdfium

    with open(path, "rb") as handle:
        head = handle.read(1024)
    if b"%PDF-" not in head:
        kind = "HTML" if b"<html" in head.lower() else "a ZIP archive" if head.startswith(b"PK") else "something else"
        raise ReaderError(f"not a PDF: it has no %PDF header (it looks like {kind}); "
                          f"give it its real file extension or export it as a PDF again")
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ReaderError("encrypted (password protected): save an unprotected copy, e.g. "
                              f"qpdf --decrypt --password=PASSWORD '{path.name}' out.pdf") from None
        raise ReaderError(f"damaged or not a PDF ({exc}); repair it (e.g. qpdf '{path.name}' repaired.pdf) "
                          f"or export it as a PDF again") from None


def read_pdf(path: Path) -> dict[str, Any]:
    """{"pages": [text of each page], "outline": [[level, title, page index]], "title": str}."""
    import pypdfium2 as pdfium

    document = _open(path)
    try:
        count = len(document)
        if count > MAX_PAGES:
            raise ReaderError(f"{count:,} pages; the limit is {MAX_PAGES:,}: split it (e.g. qpdf --split-pages)")
        pages = []
        for index in range(count):
            try:
                page = document[index]
                text = page.get_textpage().get_text_range()
            except pdfium.PdfiumError as exc:
                raise ReaderError(f"page {index + 1} cannot be read ({exc}); repair the file "
                                  f"(e.g. qpdf '{path.name}' repaired.pdf)") from None
            pages.append(text.replace(PAGE_BREAK, " "))  # a form feed in a page would shift every page after it
        if not any(text.strip() for text in pages):
            raise ReaderError("no text layer (a scanned or image-only PDF): run OCR first, e.g. "
                              f"ocrmypdf '{path.name}' ocr.pdf, and put the result in the corpus")
        outline = []
        try:
            for mark in document.get_toc(max_depth=MAX_OUTLINE_DEPTH):
                if len(outline) >= MAX_OUTLINE_ENTRIES:
                    break
                dest = mark.get_dest()
                index = dest.get_index() if dest is not None else None
                if index is not None and 0 <= index < count:
                    outline.append([mark.level + 1, mark.get_title(), index])
        except pdfium.PdfiumError:
            outline = []  # a broken outline costs the sections, not the text
        title = str(document.get_metadata_dict().get("Title") or "")
        return {"pages": pages, "outline": outline, "title": title}
    finally:
        document.close()


def render_page(path: Path, page: int, spans: list[list[int]], width: int = 700) -> dict[str, Any]:
    """Page `page` (1-based) as a PNG `width` pixels wide, the characters of `spans` (offsets in
    the page's text, i.e. PDFium character indices) under a translucent highlight."""
    from PIL import Image, ImageDraw

    document = _open(path)
    try:
        if not 1 <= page <= len(document):
            raise ReaderError(f"has no page {page}")
        pdf_page = document[page - 1]
        page_width, page_height = pdf_page.get_size()
        scale = width / page_width
        image = pdf_page.render(scale=scale).to_pil().convert("RGB")
        textpage = pdf_page.get_textpage()
        chars = textpage.count_chars()
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        boxes = 0
        for start, end in spans:
            start, end = max(0, start), min(chars, end)
            if end <= start:
                continue
            for number in range(textpage.count_rects(start, end - start)):
                left, bottom, right, top = textpage.get_rect(number)
                box = (left * scale - 2, (page_height - top) * scale - 2, right * scale + 2,
                       (page_height - bottom) * scale + 2)
                draw.rectangle(box, fill=(255, 214, 0, 110), outline=(230, 160, 0, 255))
                boxes += 1
        image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return {"png": out.getvalue(), "boxes": boxes, "size": list(image.size)}
    finally:
        document.close()


# In the main process: the reader's result as a PagedText --------------------------------------
def paged_pdf(result: dict[str, Any], file_name: str = "") -> PagedText:
    pages = [str(p) for p in result["pages"]]
    starts, at = [], 0
    for text in pages:
        starts.append(at)
        at += len(text) + len(PAGE_BREAK)
    original = PAGE_BREAK.join(pages)
    headings = _outline_headings(original, pages, starts, result.get("outline") or [])
    blocks = _paragraphs(original, pages, starts, headings)
    return PagedText(original, tuple(starts), tuple(blocks), tuple(headings), (),
                     usable_title(str(result.get("title") or ""), file_name))


def _outline_headings(original: str, pages: list[str], starts: list[int], outline: list) -> list[Heading]:
    """Outline entries found as text on their page (an entry not found is left out rather than
    placed where it might not be)."""
    headings: list[Heading] = []
    for level, title, index in outline:
        words = plain_title(str(title)).split()
        if not words or not 0 <= int(index) < len(pages):
            continue
        pattern = re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)
        text = pages[int(index)]
        found = [m for m in pattern.finditer(text)]
        on_line = [m for m in found if m.start() == 0 or text[m.start() - 1] in "\r\n"]
        match = (on_line or found or [None])[0]
        if match is None:
            continue
        start = starts[int(index)] + match.start()
        end = start + match.end() - match.start()
        headings.append(Heading(min(int(level), 6), plain_title(str(title)), start, end))
    headings.sort(key=lambda h: h.start)
    kept: list[Heading] = []
    for heading in headings:  # two entries for one line (a title and its first section): the first
        if not kept or heading.start >= kept[-1].end:
            kept.append(heading)
    return kept


def _paragraphs(original: str, pages: list[str], starts: list[int], headings: list[Heading]) -> list[tuple[int, int]]:
    """Join a PDF's printed lines into paragraphs. A line ends its paragraph when it is blank,
    a heading, ends a sentence well short of the page's line width, or is a short line (a
    title, a label) before a capitalised one; a list item starts one."""
    lines: list[tuple[int, int, float]] = []  # (start, end, the width lines wrap at on the page)
    for page_start, text in zip(starts, pages):
        spans = []
        for match in _LINE.finditer(text):
            content = match.group().rstrip("\r\n")
            if match.start() == len(text) and not content:
                break
            spans.append((page_start + match.start(), page_start + match.start() + len(content.rstrip())))
        lengths = sorted(e - s for s, e in spans if e > s)
        wrap = lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0
        lines += [(s, e, wrap) for s, e in spans]
        lines.append((-1, -1, 0))  # a page break: decided below like a line break
    blocks: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    previous: tuple[int, int, float] | None = None
    for start, end, wrap in lines:
        if start < 0 or end <= start or not original[start:end].strip():
            if start >= 0 and current is not None:  # a blank line
                blocks.append(current)
                current, previous = None, None
            continue
        if current is not None and previous is not None and _breaks(original, previous, (start, end, wrap)):
            blocks.append(current)
            current = None
        current = (current[0], end) if current else (start, end)
        previous = (start, end, wrap)
    if current:
        blocks.append(current)
    return _split_at(original, blocks, headings)


def _breaks(original: str, a: tuple[int, int, float], b: tuple[int, int, float]) -> bool:
    line, following = original[a[0]:a[1]].strip(), original[b[0]:b[1]].strip()
    wrap = a[2] or len(line)
    if _LIST_ITEM.match(following):
        return True
    if _SENTENCE_END.search(line) and len(line) < 0.85 * wrap:
        return True
    if following[:1].isupper() and len(line) < 0.6 * wrap and not line.endswith((",", "-")):
        return True
    return False


def _split_at(original: str, blocks: list[tuple[int, int]], headings: list[Heading]) -> list[tuple[int, int]]:
    """Each heading a block of its own, cut out of the paragraph it was joined to."""
    result: list[tuple[int, int]] = []
    for start, end in blocks:
        inside = [h for h in headings if start <= h.start < end]
        at = start
        for heading in inside:
            if heading.start > at:
                result.append((at, heading.start))
            result.append((heading.start, min(heading.end, end)))
            at = min(heading.end, end)
        if at < end:
            result.append((at, end))
    trimmed = []
    for start, end in result:
        while start < end and original[start].isspace():
            start += 1
        while end > start and original[end - 1].isspace():
            end -= 1
        if end > start:
            trimmed.append((start, end))
    return trimmed


__all__ = ["ReaderError", "read_pdf", "render_page", "paged_pdf", "MAX_PAGES"]
