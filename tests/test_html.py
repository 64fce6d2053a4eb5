"""HTML documents: text extraction, boilerplate removal and offsets into the HTML file."""

from __future__ import annotations

import html
import re
from pathlib import Path

from conftest import copy_corpus, settings_for

from qa.assistant import Assistant
from qa.chunking import split_sentences
from qa.corpus import load_corpus
from qa.html_text import clean_html, html_to_text
from qa.index import CorpusIndex

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Storks &amp; Cranes over the Zarqa Valley</title>
  <style>body { font-family: serif; } .hidden-style-marker { display: none; }</style>
  <script>var trackingMarker = "do not index this script text";</script>
</head>
<body>
  <nav class="menu"><ul><li><a href="/">Home page</a></li><li><a href="/birds">Bird news</a></li></ul></nav>
  <article>
    <h1>Migration season in the Zarqa Valley</h1>
    <p>The <b>Zarqa Valley</b> observatory counted 412 white storks on 3 March 2016.
       Its director, Dr. Layla Haddad, called it the valley&rsquo;s largest flock since 1998.</p>
    <p>Volunteers &amp; rangers walked the   ridge&nbsp;at dawn.
       They logged <a href="/cranes">common cranes</a>, black kites and a single osprey.</p>
    <ul>
      <li>Storks arrived from the north.</li>
      <li>Cranes followed a week later.</li>
    </ul>
    <p>This website uses cookies to improve your experience. See our privacy policy.
       By continuing you agree to their use.</p>
  </article>
  <footer><p>Copyright 2016 Valley Birders. All rights reserved.</p></footer>
</body>
</html>
"""
HIDDEN = ["trackingMarker", "do not index", "font-family", "hidden-style-marker", "Home page", "Bird news",
          "uses cookies", "privacy policy", "Copyright", "Valley Birders", "&amp;", "&rsquo;", "&nbsp;", "<", ">"]
SHOWN = ["Storks & Cranes over the Zarqa Valley", "Migration season in the Zarqa Valley",
         "The Zarqa Valley observatory counted 412 white storks on 3 March 2016.",
         "called it the valley’s largest flock since 1998.",
         "Volunteers & rangers walked the ridge at dawn.",
         "They logged common cranes, black kites and a single osprey.",
         "Storks arrived from the north.", "Cranes followed a week later."]


def visible_words(markup: str) -> str:
    """The words of a piece of HTML, as a reader sees them: tags out, entities decoded."""
    text = re.sub(r"<!--.*?-->|<[^>]*>", "", markup, flags=re.DOTALL)
    return " ".join(html.unescape(text).split())


def test_page_text_keeps_the_article_and_drops_the_rest():
    cleaned = clean_html(PAGE)
    text = cleaned.text
    assert text.startswith("Storks & Cranes over the Zarqa Valley\n\n"), text[:80]
    for shown in SHOWN:
        assert shown in text, shown
    for hidden in HIDDEN:
        assert hidden not in text, hidden
    assert "\u00a0" not in text and "  " not in text
    assert "\n\n\n" not in text and not text.startswith("\n") and not text.endswith("\n")
    paragraphs = text.split("\n\n")
    assert all(p.strip() == p and p for p in paragraphs)


def test_every_sentence_maps_to_its_words_in_the_html():
    cleaned = clean_html(PAGE)
    sentences = split_sentences(cleaned.text)
    assert len(sentences) >= 8
    for start, end in sentences:
        o_start, o_end = cleaned.original_span(start, end)
        assert 0 <= o_start < o_end <= len(PAGE)
        assert visible_words(PAGE[o_start:o_end]) == " ".join(cleaned.text[start:end].split()), \
            (cleaned.text[start:end], PAGE[o_start:o_end])


def test_each_character_points_at_itself_or_at_its_entity():
    for cleaned in (html_to_text(PAGE), clean_html(PAGE)):
        assert len(cleaned.offsets) == len(cleaned.ends) == len(cleaned.text)
        assert all(a <= b for a, b in zip(cleaned.offsets, cleaned.offsets[1:])), "offsets go backwards"
        for i, ch in enumerate(cleaned.text):
            piece = PAGE[cleaned.offsets[i]:cleaned.ends[i]]
            if ch == " ":
                assert not visible_words(piece), repr(piece)     # whitespace or tags only
            elif ch != "\n":
                assert piece == ch or (piece.startswith("&") and html.unescape(piece) == ch), (ch, piece)
    text = html_to_text(PAGE)
    at = text.text.index("’")
    assert PAGE[text.offsets[at]:text.ends[at]] == "&rsquo;"
    at = text.text.index("ridge at") + len("ridge")
    assert PAGE[text.offsets[at]:text.ends[at]] == "&nbsp;"
    at = text.text.index("walked the ridge") + len("walked the")
    assert PAGE[text.offsets[at]:text.ends[at]] == "   "


def test_script_and_event_handlers_do_not_become_text():
    page = ('<p>Before the payload.</p><script>alert(1)</script>'
            '<p>An image <img src=x onerror=alert(1)> follows the text.</p>'
            '<p>Unfinished <img src=y onerror=alert(2)')
    text = clean_html(page).text
    assert "alert" not in text and "<" not in text and "onerror" not in text
    assert "Before the payload." in text and "An image follows the text." in text


def test_whitespace_entities_and_blocks():
    text = html_to_text("<div>a&amp;b\n\n  c&#8217;d&#x2014;e&nbsp;&nbsp; f<br>g<br><br><p></p>h"
                        "<table><tr><td>x</td><td>y</td></tr></table></div>").text
    assert text == "a&b c’d—e f\n\ng\n\nh\n\nx | y"


def test_html_files_load_through_the_corpus_loader(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "storks.html").write_text(PAGE, encoding="utf-8")
    (corpus / "broken.htm").write_text(
        "<html><body><div><p>Unclosed paragraph about <b>herons and <i>egrets\n"
        "<p>Another one &amp; more <a href='x'>link text<div>Last words", encoding="utf-8")
    (corpus / "menu-only.html").write_text(
        "<html><body><nav>Home | News</nav><script>x()</script></body></html>", encoding="utf-8")
    loaded = load_corpus(corpus)
    docs = {doc.doc_id: doc for doc in loaded.documents}
    assert set(docs) == {"storks.html", "broken.htm"}
    assert [(s.path.name, s.reason) for s in loaded.skipped] == [
        ("menu-only.html", "no article text left after removing boilerplate")]
    storks = docs["storks.html"]
    assert storks.original == PAGE
    assert storks.title == "Storks & Cranes over the Zarqa Valley"
    assert "412 white storks" in storks.text and "trackingMarker" not in storks.text
    broken = docs["broken.htm"]
    assert broken.text == "Unclosed paragraph about herons and egrets\n\nAnother one & more link text\n\nLast words"
    start, end = broken.cleaned.original_span(0, len(broken.text))
    assert broken.original[start:end].startswith("Unclosed") and broken.original[start:end].endswith("Last words")


def test_an_html_file_is_indexed_and_cited(tmp_path):
    corpus = copy_corpus(tmp_path / "corpus")
    (corpus / "zarqa-2016-03-storks.html").write_text(PAGE, encoding="utf-8")
    settings = settings_for(tmp_path, corpus)
    report = CorpusIndex(settings).ingest()
    assert "zarqa-2016-03-storks.html" in report.added
    bot = Assistant(settings)
    try:
        answer = bot.ask("How many white storks did the Zarqa Valley observatory count?")
    finally:
        bot.close()
    assert not answer.abstained, answer.text
    assert "412" in answer.text
    cited = [c for c in answer.citations if c.path.endswith(".html")]
    assert cited, [c.path for c in answer.citations]
    original = Path(cited[0].path if Path(cited[0].path).is_absolute() else corpus / cited[0].path).read_text(
        encoding="utf-8")
    assert original == PAGE
    words = visible_words(original[cited[0].start:cited[0].end])
    assert "The Zarqa Valley observatory counted 412 white storks on 3 March 2016." in words
