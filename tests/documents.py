"""Test documents made on the spot: PDFs printed by Debian's Chromium from HTML, DOCX files
written with python-docx, and hostile files crafted byte by byte. No binary document is
downloaded or committed."""

from __future__ import annotations

import html
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# Paragraphs of ordinary report prose, with figures and punctuation a text layer must keep.
PARAGRAPHS = [
    "The survey covered 1,240 households in three districts between March and June 2021.",
    "Water use per person fell by 14% after the new tariff took effect; the drop was largest in the north.",
    "Field teams reported that 62 wells had run dry, most of them shallow hand-dug wells near the river.",
    "The committee recommends a second survey in 2023, with the same sampling frame and questionnaire.",
    "Costs rose from €3.2 million to €4.1 million, mainly because fuel prices doubled during the year.",
    "Interviewers noted that older residents remembered the drought of 1984 as worse than this one.",
]


def report_html(title: str, sections: list[tuple[str, list[str]]], page_breaks: bool = True,
                columns: bool = False) -> str:
    """An HTML report: <title>, an h1, then an h2 section per page (a CSS page break before each).
    With `columns`, every other section is set in two justified, hyphenated columns."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for number, (heading, paragraphs) in enumerate(sections):
        style = ' style="break-before: page"' if page_breaks and number else ""
        body.append(f"<h2{style}>{html.escape(heading)}</h2>")
        paragraphs_html = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        if columns and number % 2:
            paragraphs_html = f'<div class="columns">{paragraphs_html}</div>'
        body.append(paragraphs_html)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>body {{ font: 12pt serif; }} .columns {{ columns: 2; text-align: justify; hyphens: auto; }}"
            f"</style></head><body lang='en'>{''.join(body)}</body></html>")


def print_pdf(page_html: str, target: Path, outline: bool = True) -> Path:
    """Print an HTML page to PDF with headless Chromium (no header or footer lines); with
    `outline`, Chromium writes the headings as the PDF's bookmarks."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "page.html"
        source.write_text(page_html, encoding="utf-8")
        command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                   f"--user-data-dir={tmp}/profile", f"--print-to-pdf={target}", source.as_uri()]
        if outline:
            command.insert(4, "--generate-pdf-document-outline")
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    if not target.is_file() or target.stat().st_size == 0:
        raise RuntimeError(f"chromium did not print {target}")
    return target


def write_docx(target: Path, title: str, sections: list[tuple[str, list[str]]], core_title: str = "",
               rendered_breaks: bool = True) -> Path:
    """A DOCX with a Title paragraph, a Heading 1 per section and body paragraphs. With
    `rendered_breaks`, each section after the first starts on a new page the way Word records
    the pages it laid out (w:lastRenderedPageBreak) after an explicit page break."""
    import docx
    from docx.enum.text import WD_BREAK
    from docx.oxml import OxmlElement

    document = docx.Document()
    if core_title:
        document.core_properties.title = core_title
    document.add_paragraph(title, style="Title")
    for number, (heading, paragraphs) in enumerate(sections):
        if number and rendered_breaks:
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        paragraph = document.add_heading(heading, level=1)
        if number and rendered_breaks:
            paragraph.runs[0]._r.insert(0, OxmlElement("w:lastRenderedPageBreak"))
        for text in paragraphs:
            document.add_paragraph(text)
    document.save(str(target))
    return target


def minimal_docx_parts(body_xml: str) -> dict[str, bytes]:
    """The three parts a DOCX needs, around a w:body."""
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    document = ('<?xml version="1.0" encoding="UTF-8"?>'
                '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                f'<w:body>{body_xml}</w:body></w:document>')
    return {"[Content_Types].xml": content_types.encode(), "_rels/.rels": rels.encode(),
            "word/document.xml": document.encode()}


def bomb_docx(target: Path, inflated_mb: int = 1500) -> Path:
    """A DOCX that is a zip bomb: word/document.xml inflates to `inflated_mb` MB of one
    paragraph (about 1/1000 of that on disk), written in a stream so the test stays small."""
    parts = minimal_docx_parts("")
    head, tail = parts["word/document.xml"].split(b"<w:body></w:body>")
    block = b"<w:p><w:r><w:t>" + b"a" * (1024 * 1024 - 32) + b"</w:t></w:r></w:p>"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            if name != "word/document.xml":
                archive.writestr(name, data)
        with archive.open("word/document.xml", "w", force_zip64=True) as stream:
            stream.write(head + b"<w:body>")
            for _ in range(inflated_mb):
                stream.write(block)
            stream.write(b"</w:body>" + tail)
    return target


def pdf_bytes(objects: list[bytes], root: int = 1, trailer_extra: bytes = b"") -> bytes:
    """A PDF file from numbered object bodies (object n is objects[n - 1]), with a correct xref."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, root, trailer_extra, xref)
    return bytes(out)


def text_page_pdf(text: str) -> bytes:
    """A one-page PDF with `text` in Helvetica (a text layer, no fonts embedded)."""
    stream = b"BT /F1 12 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET"
    return pdf_bytes([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >>"
        b" /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])


def image_only_pdf() -> bytes:
    """A 'scanned' page: an image and no text layer."""
    pixels = b"\x80" * (50 * 50)
    stream = b"q 500 0 0 500 50 150 cm /Im1 Do Q"
    return pdf_bytes([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 5 0 R >> >>"
        b" /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /XObject /Subtype /Image /Width 50 /Height 50 /ColorSpace /DeviceGray /BitsPerComponent 8"
        b" /Length %d >>\nstream\n" % len(pixels) + pixels + b"\nendstream",
    ])


def cyclic_pages_pdf() -> bytes:
    """A page tree whose Kids point back at itself: a naive walk never ends."""
    stream = b"BT /F1 12 Tf 72 720 Td (cycle) Tj ET"
    return pdf_bytes([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ])


def deeply_nested_pdf(depth: int = 200_000) -> bytes:
    """A page whose dictionary holds an array nested `depth` deep: a recursive parser overflows."""
    nested = b"[" * depth + b"]" * depth
    return pdf_bytes([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Junk " + nested + b" >>",
    ])


def many_pages_pdf(pages: int) -> bytes:
    """A page tree that claims `pages` pages, all one shared page object with text."""
    stream = b"BT /F1 12 Tf 72 720 Td (page) Tj ET"
    kids = b" ".join([b"3 0 R"] * pages)
    return pdf_bytes([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >>"
        b" /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])


def encrypt_pdf(source: Path, target: Path, password: str = "secret") -> Path:
    """`source` encrypted with a user password (pypdf, AES-256)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-256")
    with target.open("wb") as out:
        writer.write(out)
    return target
