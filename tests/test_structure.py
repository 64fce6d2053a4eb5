"""Document structure: sections, several documents in one file, naming, tables; offsets kept."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from conftest import settings_for

from qa.assistant import Assistant
from qa.chunking import chunk_document
from qa.config import Settings
from qa.corpus import Document, load_document, readable_file_name
from qa.embedding import MAX_WORD_PIECES, word_piece_count
from qa.index import CorpusIndex, chunk_to_node, embed_text
from qa.structure import text_structure
from qa.types import Citation, Passage

SETTINGS = Settings()
FILLER = ("The licensor grants a perpetual, worldwide, non-exclusive, no-charge, royalty-free, irrevocable "
          "licence to make, use, sell and import the work. ")
GRANT = "Each contributor grants a patent licence covering claims its contribution infringes."


def load(tmp_path: Path, name: str, text: str, meta: dict | None = None) -> Document:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    if meta is not None:
        (tmp_path / f"{name}.meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return load_document(path, tmp_path)


def chunks_of(doc: Document, chunk_tokens: int = SETTINGS.chunk_tokens):
    chunks = chunk_document(doc, chunk_tokens, SETTINGS.chunk_overlap_tokens)
    assert chunks
    for chunk in chunks:
        assert_maps_back(doc, chunk)
    return chunks


def visible_words(markup: str) -> list[str]:
    text = html.unescape(re.sub(r"<!--.*?-->|<[^>]*>", " ", markup, flags=re.DOTALL))
    return re.findall(r"\w+", text)


def assert_maps_back(doc: Document, chunk) -> None:
    """The chunk is a slice of the cleaned text, and its offsets hold its words in the file."""
    assert chunk.text == doc.text[chunk.clean_start:chunk.clean_end]
    assert (chunk.start, chunk.end) == doc.cleaned.original_span(chunk.clean_start, chunk.clean_end)
    original = doc.original[chunk.start:chunk.end]
    found = visible_words(original) if doc.path.suffix == ".html" else re.findall(r"\w+", original)
    mine = re.findall(r"\w+", chunk.text)
    assert (found[0], found[-1]) == (mine[0], mine[-1]), (chunk.text[:60], original[:60])
    rest = iter(found)
    assert all(any(word == other for other in rest) for word in mine), chunk.text[:60]


def chunk_with(chunks, needle: str):
    return next(c for c in chunks if needle in c.text)


# Sections ------------------------------------------------------------------------------------
SYNTAXES = {
    "atx.md": "# Apache License\n\n{intro}\n\n## Terms and Conditions\n\n{filler}\n\n"
              "### 3. Grant of Patent License\n\n{grant}\n",
    "setext.md": "Apache License\n==============\n\n{intro}\n\nTerms and Conditions\n--------------------\n\n"
                 "{filler}\n\n### 3. Grant of Patent License ###\n\n{grant}\n",
    "wiki.txt": "= Apache License =\n\n{intro}\n\n== Terms and Conditions ==\n\n{filler}\n\n"
                "=== 3. Grant of Patent License ===\n\n{grant}\n",
    "page.html": "<html><head><title>Apache License</title></head><body><h1>Apache License</h1><p>{intro}</p>"
                 "<h2>Terms and Conditions</h2><p>{filler}</p><h3>3. Grant of <em>Patent</em> License</h3>"
                 "<p>{grant}</p></body></html>",
}


@pytest.mark.parametrize("name", sorted(SYNTAXES))
def test_chunks_carry_their_section_path(tmp_path, name):
    text = SYNTAXES[name].format(intro="An introduction to the licence. " * 8, filler=FILLER * 3, grant=GRANT)
    doc = load(tmp_path, name, text)
    assert doc.title == "Apache License"
    chunks = chunks_of(doc)
    grant = chunk_with(chunks, GRANT)
    assert grant.metadata["section"] == "Terms and Conditions › 3. Grant of Patent License"
    # A heading starts a chunk: the grant's chunk starts at its heading, with nothing of the section before.
    assert re.sub(r"^[#=\s]+", "", grant.text).startswith("3. Grant of")  # markers may be cleaned away
    assert chunk_with(chunks, "licence to make").metadata["section"] == "Terms and Conditions"
    assert chunk_with(chunks, "An introduction").metadata["section"] == ""
    # The section is embedded with the chunk, under the title, within the model's window.
    embedded = embed_text(chunk_to_node(grant))
    assert embedded.startswith("Apache License\nTerms and Conditions › 3. Grant of Patent License\n\n")
    assert word_piece_count(embedded) <= MAX_WORD_PIECES


def test_code_blocks_and_rules_are_not_headings():
    text = ("Guide\n=====\n\nRun this:\n\n```\n# not a heading\n```\n\nOr this:\n\n------------\n"
            "$ git log\n------------\n\nA rule line\n\n----\n\nmore text\n")
    assert [h.text for h in text_structure(text).headings] == ["Guide"]


def test_page_markers_and_urls_are_not_headings():
    text = "## The Article\n\n" + "".join(
        f"### START: SCAN{n}_0.tif.txt ###\n#### Source: http://example.org/scan{n}.tif\n\nPage {n} text.\n\n"
        f"### END: SCAN{n}_0.tif.txt ###\n\n" for n in range(4))
    assert [h.text for h in text_structure(text).headings] == ["The Article"]


# Several documents in one file ----------------------------------------------------------------
MULTI = {
    "articles.md": "# Aardvark\n\n{a}\n\n## Diet\n\n{a}\n\n# Zebra\n\n{z}\n\n## Stripes\n\n{z}\n",
    "articles.txt": "= Aardvark =\n\n{a}\n\n== Diet ==\n\n{a}\n\n= Zebra =\n\n{z}\n\n== Stripes ==\n\n{z}\n",
    "articles-setext.md": "Aardvark\n========\n\n{a}\n\nDiet\n----\n\n{a}\n\nZebra\n=====\n\n{z}\n\n"
                          "Stripes\n-------\n\n{z}\n",
}
AARDVARK = "The aardvark is a burrowing mammal of Africa that eats ants and termites at night. "
ZEBRA = "The zebra is an African equine with black and white stripes that lives in herds. "


@pytest.mark.parametrize("name", sorted(MULTI))
def test_each_document_of_a_file_is_credited_with_its_own_title(tmp_path, name):
    doc = load(tmp_path, name, MULTI[name].format(a=AARDVARK * 3, z=ZEBRA * 3))
    assert doc.title == readable_file_name(Path(name))  # the file is a collection: named by its file name
    chunks = chunks_of(doc)
    for chunk in chunks:
        assert not ("aardvark" in chunk.text and "zebra" in chunk.text), "a chunk spans two documents"
        expected = "Zebra" if "zebra" in chunk.text else "Aardvark"
        assert chunk.metadata["title"] == expected, chunk.text[:40]
        assert chunk_to_node(chunk).metadata["source"] == expected
    assert chunk_with(chunks, "stripes that").metadata["section"] in ("", "Stripes")
    assert any(c.metadata["section"] == "Stripes" for c in chunks)
    assert embed_text(chunk_to_node(chunk_with(chunks, "zebra"))).startswith("Zebra\n")


def test_the_sidecar_title_keeps_a_file_whole(tmp_path):
    doc = load(tmp_path, "notes.md", MULTI["articles.md"].format(a=AARDVARK * 3, z=ZEBRA * 3),
               meta={"title": "Field notes"})
    chunks = chunks_of(doc)
    assert {c.metadata["title"] for c in chunks} == {"Field notes"}
    assert any(c.metadata["section"] == "Zebra › Stripes" for c in chunks)


# Naming ---------------------------------------------------------------------------------------
BODY = "<p>The quarterly report shows revenue of approximately $16 million.</p>"


@pytest.mark.parametrize("name, text, meta, expected", [
    ("a.html", f"<title>Page title</title><h1>Heading</h1>{BODY}", {"title": "Sidecar title"}, "Sidecar title"),
    ("b.html", f"<title>Page title</title><h1>Heading</h1>{BODY}", None, "Page title"),
    ("c.html", f'<head><meta property="og:title" content="Open Graph title"></head><h2>Heading</h2>{BODY}',
     None, "Open Graph title"),
    ("d.html", f"<body><h2>The <b>first</b> heading</h2>{BODY}</body>", None, "The first heading"),
    ("e.md", "Intro sentence that is body text.\n\n## **Results** for [2023](http://x.org)\n\nText.\n", None,
     "Results for 2023"),
    ("annual-report_2023.md", "[{'content': 'a JSON dump', 'id': 3}]\n\nMore text.\n", None, "Annual report 2023"),
    ("GPL-3.txt", "the first sentence of a financial report, lower-cased.\n\nMore.\n", None, "GPL-3"),
    ("f.html", BODY, None, "F"),
])
def test_sources_are_named_by_metadata_title_heading_or_file_name(tmp_path, name, text, meta, expected):
    doc = load(tmp_path, name, text, meta)
    assert doc.title == expected
    assert not re.search(r"[#*<>\[\]]", doc.title)


@pytest.mark.parametrize("name, expected", [
    ("annual-report_2023.md", "Annual report 2023"), ("GPL-3.txt", "GPL-3"), ("Apache-2.0.txt", "Apache-2.0"),
    ("keep-history-correct.txt", "Keep history correct"), ("start.en.html", "Start"),
])
def test_readable_file_names(name, expected):
    assert readable_file_name(Path(name)) == expected


def test_an_html_title_repeated_by_the_main_heading_is_said_once(tmp_path):
    page = ("<html><head><title>tmux release notes</title></head><body><h1>tmux release notes</h1>"
            "<p>version 3.4 adds extended keys.</p></body></html>")
    doc = load(tmp_path, "notes.html", page)
    assert doc.title == "tmux release notes"
    assert doc.text.count("tmux release notes") == 1
    assert re.match(r"tmux release notes\n\n?version 3\.4", doc.text), doc.text  # a heading is a line of its own
    assert_maps_back(doc, chunks_of(doc)[0])
    # A title the page does not repeat stays in the text.
    other = load(tmp_path, "other.html", page.replace("<h1>tmux release notes</h1>", "<h1>Changes</h1>"))
    assert other.text.startswith("tmux release notes\n\nChanges")


# Tables ---------------------------------------------------------------------------------------
ROWS = [(2000 + n, f"approximately ${n * 7 + 3} million", f"{n * 11 % 97} offices in {n % 9 + 2} regions")
        for n in range(40)]


def markdown_table() -> str:
    lines = ["| Year | Revenue | Presence |", "|------|---------|----------|"]
    lines += [f"| {year} | {revenue} | {presence} |" for year, revenue, presence in ROWS]
    return "# Annual figures\n\nThe table below lists the figures.\n\n" + "\n".join(lines) + "\n\nThat is all.\n"


def html_table() -> str:
    rows = "".join(f"<tr><td><p>{year}</p></td><td>{revenue}</td><td>{presence}</td></tr>\n"
                   for year, revenue, presence in ROWS)
    return ("<html><head><title>Annual figures</title></head><body><p>The table below lists the figures.</p>"
            "<table><thead><tr><th>Year</th><th>Revenue</th><th>Presence</th></tr></thead>"
            f"<tbody>{rows}</tbody></table><p>that is all.</p></body></html>")


@pytest.mark.parametrize("name, text", [("figures.md", markdown_table()), ("figures.html", html_table())])
def test_tables_are_chunked_by_rows_with_their_header(tmp_path, name, text):
    doc = load(tmp_path, name, text)
    assert doc.title == "Annual figures"
    chunks = chunks_of(doc)
    table_chunks = [c for c in chunks if "approximately" in c.text]
    assert len(table_chunks) >= 3
    for year, revenue, presence in ROWS:
        row = re.compile(rf"^\|? ?{year} \| {re.escape(revenue)} \| {presence}( \|)?$", re.MULTILINE)
        assert any(row.search(c.text) for c in table_chunks), f"row {year} is not whole in any chunk"
    for chunk in table_chunks:
        assert chunk.metadata["table_header"] == "Year | Revenue | Presence"
        lines = [line for line in chunk.text.splitlines() if "approximately" in line]
        assert all(row_line(line) for line in lines), lines   # no chunk starts or ends inside a row
        embedded = embed_text(chunk_to_node(chunk))
        assert "Year | Revenue | Presence" in embedded
        assert word_piece_count(embedded) <= MAX_WORD_PIECES
    assert "that is all." in chunks[-1].text.lower() and "that is all" not in table_chunks[-1].text.splitlines()[-2]


def row_line(line: str) -> bool:
    return bool(re.fullmatch(r"\|? ?20\d\d \| approximately \$\d+ million \| \d+ offices in \d+ regions( \|)?", line))


def test_html_cells_are_separated_and_rows_are_lines(tmp_path):
    doc = load(tmp_path, "figures.html", html_table())
    assert re.search(r"Year \| Revenue \| Presence\n\n?2000 \| approximately \$3 million \| 0 offices in 2 regions\n",
                     doc.text)
    assert "\nthat is all." in doc.text  # the text after the table is not glued to its last row


# Through the index: Passage and Citation -------------------------------------------------------
def test_citations_name_the_section_and_passages_carry_the_table_header(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "licence.md").write_text(SYNTAXES["atx.md"].format(
        intro="An introduction to the licence. " * 8, filler=FILLER * 3, grant=GRANT), encoding="utf-8")
    (corpus / "figures.md").write_text(markdown_table(), encoding="utf-8")
    settings = settings_for(tmp_path, corpus)
    CorpusIndex(settings).ingest()
    bot = Assistant(settings)
    try:
        answer = bot.ask("What does each contributor grant a patent licence for?")
        passages = bot.retriever().retrieve("revenue in 2031", top_k=3)
    finally:
        bot.close()
    assert not answer.abstained, answer.text
    cited = next(c for c in answer.citations if c.path.endswith("licence.md"))
    assert cited.section == "Terms and Conditions › 3. Grant of Patent License"
    assert cited.source == "Apache License › Terms and Conditions › 3. Grant of Patent License"
    assert cited.to_dict()["section"] == cited.section
    table = next(p for p in passages if "2031" in p.text)
    assert table.metadata["table_header"] == "Year | Revenue | Presence"
    assert table.metadata["title"] == "Annual figures"


def test_citation_source_without_a_section_is_the_document():
    passage = Passage(["c"], "a.txt", "text", 0, 4, 0, 4, 1.0, {"source": "A report", "title": "A report"})
    citation = Citation.from_passage(1, passage, [])
    assert (citation.source, citation.section) == ("A report", "")
    passage.metadata["section"] = "Results"
    assert Citation.from_passage(1, passage, []).source == "A report › Results"
