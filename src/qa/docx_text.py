"""The text of a Word (.docx) file: paragraphs and tables in order, heading styles, the title
in its document properties, and its pages as Word last laid them out.

Library: python-docx. Measured on a generated 40-page report (benchmarks/document_readers.py):
python-docx read it in 16-18 ms and docx2txt in 2 ms, both with 100% of the words in order.
docx2txt returns one string: no paragraph styles (so no headings for the section path), no
tables as rows, no page breaks. python-docx gives all three, at a cost that is small next to
embedding the text (about 1 s for 40 pages).

Pages: a .docx stores no pages; Word records where its layout broke pages when it saved the
file (w:lastRenderedPageBreak). Those become the form feeds of the original text and give
each character its page. A file without them (written by another program) has no known pages:
its citations carry page None rather than a guess.

Zip bombs: every part's size is read from the ZIP directory before anything is inflated; a
package that would unpack beyond MAX_UNPACKED_BYTES is refused. Python's zipfile never inflates
a member beyond its recorded size (it stops there and fails the CRC check), so the recorded
sizes bound memory; the subprocess limits of qa.sandbox are a second line.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from .paged import PAGE_BREAK, PagedText, ReaderError, usable_title
from .structure import Heading, Table, plain_title

MAX_UNPACKED_BYTES = 300_000_000
CELL_SEPARATOR = " | "
_HEADING_STYLE = re.compile(r"^heading ([1-9])$", re.IGNORECASE)


def _check_package(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as package:
            members = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ReaderError(f"not a Word .docx file ({exc}); an old .doc must be saved as .docx first") from None
    names = {m.filename for m in members}
    if "word/document.xml" not in names:
        raise ReaderError("a ZIP file without word/document.xml, so not a Word .docx; save it from Word as .docx")
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise ReaderError(f"unpacks to {unpacked / 1e6:,.0f} MB (the limit is {MAX_UNPACKED_BYTES / 1e6:.0f} MB): "
                          f"a zip bomb, or a document with very large embedded files; "
                          f"save a copy without them (e.g. as PDF)")


def read_docx(path: Path) -> dict[str, Any]:
    """The document as JSON-ready data (see paged_docx): its original text with a form feed at
    each page Word laid out, its blocks, headings and tables in offsets of that text."""
    import docx
    from docx.table import Table as DocxTable

    _check_package(path)
    try:
        document = docx.Document(str(path))
    except MemoryError:
        raise  # the sandbox names it
    except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds for a damaged package
        raise ReaderError(f"damaged .docx ({type(exc).__name__}: {str(exc)[:200]}); open and save it again in "
                          f"Word or LibreOffice") from None
    builder = _Text()
    for block in document.iter_inner_content():
        if isinstance(block, DocxTable):
            builder.table(block)
        else:
            builder.paragraph(block)
    title = ""
    try:
        title = document.core_properties.title or ""
    except Exception:  # noqa: BLE001 - a malformed core.xml costs the title only
        title = ""
    return {"text": "".join(builder.parts), "page_breaks": builder.page_breaks, "blocks": builder.blocks,
            "headings": builder.headings, "tables": builder.tables, "title": title}


class _Text:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.blocks: list[list[int]] = []
        self.headings: list[list[Any]] = []
        self.tables: list[list[Any]] = []
        self.page_breaks = 0

    def _add(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def _separate(self) -> None:
        if self.length:
            self._add("\n\n")

    def _runs_text(self, paragraph) -> str:
        from docx.text.hyperlink import Hyperlink
        from docx.text.pagebreak import RenderedPageBreak

        pieces: list[str] = []
        for item in paragraph.iter_inner_content():
            runs = item.runs if isinstance(item, Hyperlink) else [item]
            for run in runs:
                for content in run.iter_inner_content():
                    if isinstance(content, str):
                        pieces.append(content.replace(PAGE_BREAK, " "))
                    elif isinstance(content, RenderedPageBreak):
                        pieces.append(PAGE_BREAK)
                        self.page_breaks += 1
        return "".join(pieces)

    def paragraph(self, paragraph) -> None:
        text = self._runs_text(paragraph)
        if not text.strip():
            if PAGE_BREAK in text:  # an empty paragraph that starts a page: the break still counts
                self._separate()
                self._add(PAGE_BREAK * text.count(PAGE_BREAK))
            return
        self._separate()
        lead = len(text) - len(text.lstrip(PAGE_BREAK + " \t"))
        self._add(text[:lead])
        start = self.length
        self._add(text[lead:].rstrip())
        self.blocks.append([start, self.length])
        style = ""
        try:
            style = paragraph.style.name if paragraph.style is not None else ""
        except (KeyError, ValueError):
            style = ""
        level = 1 if style.lower() == "title" else int(m.group(1)) if (m := _HEADING_STYLE.match(style or "")) else 0
        if level:
            self.headings.append([min(level, 6), plain_title(text), start, self.length])

    def table(self, table) -> None:
        rows: list[list[int]] = []
        header: list[Any] | None = None
        for number, row in enumerate(table.rows):
            cells, seen = [], set()
            for cell in row.cells:
                if id(cell._tc) in seen:
                    continue  # a merged cell is listed once per column it spans
                seen.add(id(cell._tc))
                cells.append(" ".join(cell.text.replace(PAGE_BREAK, " ").split()))
            line = CELL_SEPARATOR.join(cells)
            if not line.replace("|", "").strip():
                continue
            self._separate()
            start = self.length
            self._add(line)
            self.blocks.append([start, self.length])
            if number == 0 and len(table.rows) > 1:
                header = [plain_title(line), [start, self.length]]
            else:
                rows.append([start, self.length])
        if rows or header:
            self.tables.append([header[0] if header else "", header[1] if header else None, rows])


def paged_docx(result: dict[str, Any], file_name: str = "") -> PagedText:
    original = str(result["text"])
    starts: tuple[int, ...] | None = None
    if result.get("page_breaks"):
        starts = (0,) + tuple(m.end() for m in re.finditer(PAGE_BREAK, original))
    headings = tuple(Heading(int(level), str(text), int(s), int(e)) for level, text, s, e in result["headings"])
    tables = tuple(Table(str(header), tuple(span) if span else None, tuple(tuple(r) for r in rows))
                   for header, span, rows in result["tables"])
    return PagedText(original, starts, tuple(tuple(b) for b in result["blocks"]), headings, tables,
                     usable_title(str(result.get("title") or ""), file_name))


__all__ = ["read_docx", "paged_docx", "MAX_UNPACKED_BYTES"]
