"""Compare PDF and DOCX text extractors on generated documents: text fidelity and speed.

    PYTHONPATH=src:tests python benchmarks/document_readers.py [--pages 40]

A report of `--pages` pages (Chromium prints it from HTML; one section per page, paragraphs
that wrap over several lines, a two-column page, ligatures, figures and currency) and a DOCX
of the same text (python-docx) are read by each candidate library. Fidelity is the share of
the source's words that the extracted text has in the same order (difflib on word lists), and
"glued" counts source words that come out joined to a neighbour (a lost space). Speed is the
best of three runs. The figures are quoted in src/qa/pdf_text.py and src/qa/docx_text.py.
"""

from __future__ import annotations

import argparse
import difflib
import re
import tempfile
import time
from pathlib import Path

from documents import PARAGRAPHS, print_pdf, report_html, write_docx

EXTRA = ("The efficient office staff affirmed the final figures; the fjord-side flats were offline for "
         "five days.")


def sections(pages: int) -> list[tuple[str, list[str]]]:
    result = []
    for page in range(pages):
        shifted = PARAGRAPHS[page % len(PARAGRAPHS):] + PARAGRAPHS[:page % len(PARAGRAPHS)]
        # Paragraphs of three sentences: they wrap over several lines.
        paragraphs = [" ".join(shifted[i:i + 3]) for i in range(0, len(shifted), 3)] + [EXTRA]
        result.append((f"Section {page + 1}: findings of district {page % 7 + 1}", paragraphs * 2))
    return result


def words(text: str) -> list[str]:
    return re.findall(r"\w+(?:[.,']\w+)*|[€%;]", text.replace("\u00ad", ""))


def fidelity(source: list[str], extracted: str) -> tuple[float, int]:
    got = words(extracted)
    matcher = difflib.SequenceMatcher(None, source, got, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    vocabulary = set(source)
    glued = sum(1 for word in got if word not in vocabulary and any(
        word.startswith(v) and word[len(v):] in vocabulary for v in vocabulary if len(v) > 2))
    return matched / len(source), glued


def timed(function, *args) -> tuple[float, str]:
    best, text = float("inf"), ""
    for _ in range(3):
        started = time.perf_counter()
        text = function(*args)
        best = min(best, time.perf_counter() - started)
    return best, text


def pypdfium2_text(path: Path) -> str:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(path)
    try:
        return "\f".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()


def pypdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\f".join(page.extract_text() for page in PdfReader(path).pages)


def pdfminer_text(path: Path) -> str:
    from pdfminer.high_level import extract_text

    return extract_text(str(path))


def python_docx_text(path: Path) -> str:
    import docx

    return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)


def docx2txt_text(path: Path) -> str:
    import docx2txt

    return docx2txt.process(str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40)
    args = parser.parse_args()
    content = sections(args.pages)
    source = words(" ".join(["Water survey"] + [h + " " + " ".join(ps) for h, ps in content]))
    with tempfile.TemporaryDirectory() as tmp:
        pdf = print_pdf(report_html("Water survey", content, columns=True), Path(tmp) / "report.pdf")
        docx = write_docx(Path(tmp) / "report.docx", "Water survey", content)
        print(f"{args.pages} pages, {len(source)} words; PDF {pdf.stat().st_size / 1e3:.0f} kB, "
              f"DOCX {docx.stat().st_size / 1e3:.0f} kB")
        for name, function, path in (("pypdfium2", pypdfium2_text, pdf), ("pypdf", pypdf_text, pdf),
                                     ("pdfminer.six", pdfminer_text, pdf),
                                     ("python-docx", python_docx_text, docx), ("docx2txt", docx2txt_text, docx)):
            seconds, text = timed(function, path)
            share, glued = fidelity(source, text)
            print(f"{name:13} {seconds * 1000:8.1f} ms  {seconds * 1000 / args.pages:6.2f} ms/page  "
                  f"words in order {share:7.2%}  glued {glued}")


if __name__ == "__main__":
    main()
