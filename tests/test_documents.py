"""PDF and Word documents: text by page, page-accurate citations, headings and titles, files that
cannot be read (scanned, encrypted, damaged, pretending) and hostile files (zip bomb, cyclic or
deeply nested objects, a huge page count), each bounded and skipped with a reason.

Every document is made by the test: PDFs printed by Debian's Chromium from HTML, DOCX files
written with python-docx, hostile files crafted byte by byte (tests/documents.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, settings_for
from documents import (
    PARAGRAPHS,
    bomb_docx,
    cyclic_pages_pdf,
    deeply_nested_pdf,
    encrypt_pdf,
    image_only_pdf,
    many_pages_pdf,
    minimal_docx_parts,
    print_pdf,
    report_html,
    text_page_pdf,
    write_docx,
)

from qa import sandbox
from qa.assistant import Assistant
from qa.chunking import chunk_document
from qa.corpus import load_corpus, load_document
from qa.paged import ReaderError, page_at, usable_title

pytestmark = pytest.mark.slow  # every file is read in a subprocess (qa.sandbox)
ARTIFACTS = REPO / "tests" / "artifacts"

# One fact per page, each found on its own page only.
FACTS = [
    "The southern reservoir held 12 million cubic metres in April.",
    "The northern reservoir held 41 million cubic metres in August.",
    "The eastern reservoir was drained for repairs in November.",
]
SECTIONS = [(f"Reservoir report part {n + 1}", [fact] + PARAGRAPHS) for n, fact in enumerate(FACTS)]


@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pdf")
    return print_pdf(report_html("Reservoirs 2021", SECTIONS).replace(
        "<title>Reservoirs 2021</title>", "<title>Annual reservoir statistics</title>"), folder / "report.pdf")


def _corpus(tmp_path: Path, *files: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    for file in files:
        (corpus / file.name).write_bytes(file.read_bytes())
    return corpus


def test_every_character_keeps_its_page(report_pdf, tmp_path):
    corpus = _corpus(tmp_path, report_pdf)
    doc = load_document(corpus / "report.pdf", corpus)
    assert doc.page_starts is not None and len(doc.page_starts) == 3
    # The original text is the extracted text with a form feed between pages.
    assert doc.original.count("\f") == 2
    assert all(doc.original[start - 1] == "\f" for start in doc.page_starts[1:])
    for number, fact in enumerate(FACTS, start=1):
        at = doc.original.find(fact)
        assert at >= 0, fact
        assert doc.page_at(at) == doc.page_at(at + len(fact) - 1) == number
        # The cleaned text keeps the sentence whole (printed lines joined) and maps back to it.
        clean_at = doc.text.find(fact)
        assert clean_at >= 0
        assert doc.cleaned.original_span(clean_at, clean_at + len(fact)) == (at, at + len(fact))
    chunks = chunk_document(doc, 120, 20)
    assert {c.metadata["page"] for c in chunks} == {1, 2, 3}
    assert all(c.metadata["page"] == doc.page_at(c.start) for c in chunks)


def test_outline_headings_are_sections_and_name_the_source(report_pdf, tmp_path):
    corpus = _corpus(tmp_path, report_pdf)
    doc = load_document(corpus / "report.pdf", corpus)
    # First heading (the h1, an outline entry) names the source before the PDF's Title metadata.
    assert doc.title == "Reservoirs 2021"
    chunks = chunk_document(doc, 120, 20)
    page_two = [c for c in chunks if FACTS[1] in c.text]
    assert page_two and page_two[0].metadata["section"] == "Reservoir report part 2"


def test_pdf_title_metadata_names_a_source_without_headings(tmp_path):
    html = report_html("Reservoirs 2021", SECTIONS[:1]).replace(
        "<title>Reservoirs 2021</title>", "<title>Annual reservoir statistics</title>")
    pdf = print_pdf(html, tmp_path / "stats_2021.pdf", outline=False)
    corpus = _corpus(tmp_path, pdf)
    doc = load_document(corpus / pdf.name, corpus)
    assert doc.title == "Annual reservoir statistics"
    untitled = tmp_path / "plain" / "water-levels.pdf"
    untitled.parent.mkdir()
    untitled.write_bytes(text_page_pdf("Water levels rose in spring."))
    assert load_document(untitled, untitled.parent).title == "Water levels"


def test_docx_headings_tables_and_recorded_pages(tmp_path):
    sections = [(f"Reservoir report part {n + 1}", [fact] + PARAGRAPHS[:2]) for n, fact in enumerate(FACTS)]
    path = write_docx(tmp_path / "report.docx", "Reservoirs 2021", sections, core_title="Ignored: a heading wins")
    import docx

    document = docx.Document(str(path))
    table = document.add_table(rows=3, cols=2)
    for row, cells in enumerate([("Reservoir", "Volume"), ("North", "41"), ("South", "12")]):
        for column, text in enumerate(cells):
            table.cell(row, column).text = text
    document.save(str(path))
    corpus = _corpus(tmp_path, path)
    doc = load_document(corpus / "report.docx", corpus)
    assert doc.title == "Reservoirs 2021"
    assert [doc.page_at(doc.original.find(f)) for f in FACTS] == [1, 2, 3]
    chunks = chunk_document(doc, 80, 10)
    by_fact = {f: next(c for c in chunks if f in c.text) for f in FACTS}
    assert [by_fact[f].metadata["section"] for f in FACTS] == [s for s, _ in sections]
    assert [by_fact[f].metadata["page"] for f in FACTS] == [1, 2, 3]
    row = next(c for c in chunks if "North | 41" in c.text)
    assert row.metadata["table_header"] == "Reservoir | Volume"


def test_docx_without_recorded_pages_has_no_page_and_its_properties_title_names_it(tmp_path):
    import docx

    path = tmp_path / "notes.docx"
    document = docx.Document()
    document.core_properties.title = "Reservoir field notes"
    for text in FACTS:
        document.add_paragraph(text)
    document.save(str(path))
    corpus = _corpus(tmp_path, path)
    doc = load_document(corpus / "notes.docx", corpus)
    assert doc.page_starts is None and doc.page_at(10) is None
    assert doc.title == "Reservoir field notes"
    assert all("page" not in c.metadata for c in chunk_document(doc, 80, 10))


def test_unreadable_and_hostile_files_are_skipped_with_why_and_what_to_do(report_pdf, tmp_path):
    corpus = _corpus(tmp_path, report_pdf)
    (corpus / "scanned.pdf").write_bytes(image_only_pdf())
    encrypt_pdf(report_pdf, corpus / "locked.pdf")
    (corpus / "truncated.pdf").write_bytes(report_pdf.read_bytes()[:1500])
    (corpus / "page.pdf").write_bytes(b"<!doctype html><html><body>Not a PDF at all</body></html>")
    (corpus / "garbage.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 500)
    (corpus / "cyclic.pdf").write_bytes(cyclic_pages_pdf())
    (corpus / "nested.pdf").write_bytes(deeply_nested_pdf(200_000))
    (corpus / "million-pages.pdf").write_bytes(many_pages_pdf(1_000_000))
    bomb_docx(corpus / "bomb.docx", inflated_mb=400)
    (corpus / "old.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 2000)  # an OLE .doc renamed
    (corpus / "notes.txt").write_text("The western reservoir is the oldest of the four.\n")
    started = time.perf_counter()
    result = load_corpus(corpus)
    seconds = time.perf_counter() - started
    assert sorted(d.doc_id for d in result.documents) == ["notes.txt", "report.pdf"]  # nothing else lost
    reasons = {s.path.name: s.reason for s in result.skipped}
    assert "no text layer" in reasons["scanned.pdf"] and "ocrmypdf" in reasons["scanned.pdf"]
    assert "encrypted" in reasons["locked.pdf"] and "qpdf --decrypt" in reasons["locked.pdf"]
    assert "damaged or not a PDF" in reasons["truncated.pdf"] and "repair" in reasons["truncated.pdf"]
    assert "not a PDF" in reasons["page.pdf"] and "HTML" in reasons["page.pdf"]
    assert "damaged or not a PDF" in reasons["garbage.pdf"]
    assert "cannot be read" in reasons["cyclic.pdf"] or "damaged" in reasons["cyclic.pdf"]
    assert "no text layer" in reasons["nested.pdf"]  # PDFium skips the nesting; nothing readable is left
    assert "1,000,000 pages; the limit is 5,000" in reasons["million-pages.pdf"]
    assert "zip bomb" in reasons["bomb.docx"] and "unpacks to" in reasons["bomb.docx"]
    assert "not a Word .docx" in reasons["old.docx"] and "save" in reasons["old.docx"]
    assert len(reasons) == 10
    assert seconds < 60, seconds  # about 0.15 s a file here


def test_a_reader_over_its_memory_limit_is_stopped(tmp_path):
    """The second line behind the zip-bomb check: a package under the unpacked-size limit whose
    parse needs more memory than the reader may have."""
    path = bomb_docx(tmp_path / "big.docx", inflated_mb=150)
    with pytest.raises(ReaderError, match="more than 200 MB of memory"):
        sandbox.run("read_docx", path, memory_bytes=200 * 2**20)


def test_a_reader_over_its_time_limit_is_stopped(report_pdf):
    with pytest.raises(ReaderError, match="longer than 0.01 s"):
        sandbox.run("read_pdf", report_pdf, wall_seconds=0.01)


def test_a_crafted_docx_with_a_lying_size_is_refused(tmp_path):
    """A member whose data inflates past its recorded size: zipfile stops at the recorded size
    and the damaged package is named, not read."""
    path = tmp_path / "lying.docx"
    parts = minimal_docx_parts("<w:p><w:r><w:t>" + "a" * 100_000 + "</w:t></w:r></w:p>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    raw = bytearray(path.read_bytes())
    # Shrink document.xml's recorded size (central directory) to 1,000 bytes.
    central = raw.rfind(b"PK\x01\x02", 0, raw.rfind(b"word/document.xml"))
    central = raw.find(b"PK\x01\x02", central)
    while raw[central + 46:central + 46 + 17] != b"word/document.xml":
        central = raw.find(b"PK\x01\x02", central + 4)
    raw[central + 24:central + 28] = (1000).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    with pytest.raises(ReaderError, match="damaged|not a Word"):
        sandbox.run("read_docx", path)


def test_junk_titles_and_pages():
    assert usable_title("Microsoft Word - draft3.docx") == ""
    assert usable_title("Untitled") == ""
    assert usable_title("report.pdf", "report.pdf") == ""
    assert usable_title("  Annual   report ") == "Annual report"
    assert page_at(None, 5) is None
    assert [page_at((0, 10, 20), at) for at in (0, 9, 10, 25)] == [1, 1, 2, 3]


def test_citations_carry_the_page_in_the_api_json_and_cli(report_pdf, tmp_path):
    corpus = _corpus(tmp_path, report_pdf)
    (corpus / "notes.txt").write_text("The western reservoir was built in 1911 by the city council.\n")
    settings = settings_for(tmp_path, corpus)
    bot = Assistant(settings)
    try:
        report = bot.ingest()
        assert sorted(report.added) == ["notes.txt", "report.pdf"]
        manifest = bot.index.manifest()
        assert manifest["files"]["report.pdf"]["pages"] == 3 and "pages" not in manifest["files"]["notes.txt"]
        answer = bot.ask("How much water did the northern reservoir hold in August?")
        cited = [c for c in answer.citations if "41 million" in c.text]
        assert cited, answer.text
        citation = cited[0]
        assert citation.path == "report.pdf" and citation.page == 2
        assert citation.to_dict()["page"] == 2
        # The offsets point into the extracted text, and the page is where they start.
        doc = load_document(corpus / "report.pdf", corpus)
        assert doc.page_at(citation.start) == 2
        image = bot.citation_page(citation)
        assert image is not None and image.page == 2 and image.highlighted >= 1
        assert image.png.startswith(b"\x89PNG")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "pdf-citation-page.png").write_bytes(image.png)
        text_answer = bot.ask("When was the western reservoir built?")
        text_citations = [c for c in text_answer.citations if c.path == "notes.txt"]
        assert text_citations, text_answer.text
        assert text_citations[0].page is None and text_citations[0].to_dict()["page"] is None
        assert bot.citation_page(text_citations[0]) is None
    finally:
        bot.close()
    env = {"QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(settings.index_dir), "QA_PROGRESS": "false"}
    import os

    done = subprocess.run([sys.executable, "-m", "qa.cli", "ask", "How much water did the northern reservoir hold "
                           "in August?"], capture_output=True, text=True, env={**os.environ, **env}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "report.pdf, p. 2, characters" in done.stdout
    as_json = subprocess.run([sys.executable, "-m", "qa.cli", "ask", "--json", "How much water did the northern "
                              "reservoir hold in August?"], capture_output=True, text=True,
                             env={**os.environ, **env}, timeout=300)
    assert any(c["page"] == 2 for c in json.loads(as_json.stdout)["citations"])


def test_the_page_survives_a_saved_evaluation_run():
    from qa.eval.records import answer_from_dict
    from qa.types import Answer, Citation

    answer = Answer("q", "Held 41 million. [1]", [Citation(1, "x", "s", "report.pdf", 0, 1, page=2),
                                                   Citation(2, "y", "s", "notes.txt", 0, 1)], False)
    restored = answer_from_dict(json.loads(json.dumps(answer.to_dict())))
    assert [c.page for c in restored.citations] == [2, None]
