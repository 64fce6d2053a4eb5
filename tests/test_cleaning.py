"""Boilerplate removal and the offset map, on the five shipped articles and on small cases."""

from __future__ import annotations

import re

import pytest
from conftest import CORPUS

from qa.chunking import split_sentences
from qa.cleaning import clean
from qa.corpus import load_corpus

# Text that must not survive cleaning, in any of the five files (each is present in the
# original files, which test_boilerplate_is_in_the_originals checks, so this cannot pass
# vacuously).
BOILERPLATE = [
    "uses cookies",                                   # almonitor cookie notice
    "Continue reading this article", "registering at no cost",
    "Archived articles", "Exclusive events", "The Week in Review", "Lobbying newsletter",
    "The award-winning Middle East Lobbying",
    "Joseph Shoemaker", "says:", "John Houdini", "tid for tat", "Rosario", "the people rejoiced",
    "MANPADS", "Boko Haram", "Al shabaab",             # longwarjournal comments and sidebar
    "Leave a Reply", "Your email address will not be published", "Required fields are marked",
    "Akismet", "Bookmark the permalink", "This entry was posted in",
    "About Heshmat alavi", "Resistance Activist",    # alavi author box
    "Photo by", "Syrian soldiers celebrate",          # trtworld photo credit and caption
    "Tags:", "Found in:", "Next for you", "Also read", "Article Summary",
    "<https://", "https://", "Footnotes", "ESSF", "sefire-deal-assad", "P.S.",
    "](#)", "[CHULOV", "*takfiris*",
    "faqihassad", "\u00a0",
    "This article was amended", "18.16 GMT",         # guardian correction notice, publication stamp
]

# Lines of the original files that look like article prose (long, end like a sentence)
# but are boilerplate: a substring of each. Every other such line must survive cleaning.
BOILERPLATE_PROSE_LINES = {
    "alavi-2015-12-inside-irans-secret-war-in-syria.txt": [
        "This entry was posted in", "This site uses Akismet"],
    "almonitor-2016-05-iranian-officials-blame-aleppo-ceasefire-violations.txt": [
        "The website uses cookies"],
    "guardian-2016-12-14-iran-hails-victory-in-aleppo.txt": [
        "[3] ESSF (article 39759)",                   # a footnote
        "This article was amended"],                  # the publisher's correction notice
    "longwarjournal-2016-02-irgc-involvement-in-battle-for-aleppo.txt": [
        "Unlike the Saudi aggression in Yemen",       # John Houdini's comment
        "It make no sense to me"],                    # Rosario's comment
    "trtworld-2015-10-iranian-troops-mobilise-for-aleppo.txt": [],
}
GLUED_RESIDUE = "faqihassad"  # image file name glued to the first word of the alavi article


def normalize(text: str) -> str:
    """Compare text ignoring what the cleaner is meant to change: markup, markers, spacing."""
    text = text.replace("\u00a0", " ")
    text = re.sub(r"\[([^\]\n]+)\]\((?:#|https?://[^)\s]*)\)", r"\1", text)   # [text](#) -> text
    text = re.sub(r"\s?\[\d{1,3}\]", "", text)                                 # footnote markers
    text = text.replace("*", "")                                                # emphasis, bullets
    text = " ".join(text.split())
    return re.sub(r" ([,;])", r"\1", text)                                      # "Turkey ," -> "Turkey,"


@pytest.fixture(scope="module")
def documents():
    loaded = load_corpus(CORPUS)
    assert not loaded.skipped
    docs = {doc.doc_id: doc for doc in loaded.documents}
    assert set(docs) == set(BOILERPLATE_PROSE_LINES)
    return docs


def prose_lines(original: str) -> list[str]:
    lines = []
    for line in original.splitlines():
        line = " ".join(line.replace("\u00a0", " ").split())
        if len(line) >= 60 and line.endswith((".", "”", '"', ")")):
            lines.append(line)
    return lines


def test_boilerplate_is_in_the_originals(documents):
    originals = "\n".join(doc.original for doc in documents.values())
    for needle in BOILERPLATE:
        assert needle in originals, needle
    for doc_id, needles in BOILERPLATE_PROSE_LINES.items():
        for needle in needles:
            assert any(needle in line for line in prose_lines(documents[doc_id].original)), needle


@pytest.mark.parametrize("needle", BOILERPLATE)
def test_no_boilerplate_in_cleaned_text(documents, needle):
    for doc in documents.values():
        assert needle not in doc.text, f"{needle!r} left in {doc.doc_id}"


def test_no_footnote_markers_in_cleaned_text(documents):
    for doc in documents.values():
        assert not re.search(r"\[\d+\]", doc.text), doc.doc_id
    guardian = documents["guardian-2016-12-14-iran-hails-victory-in-aleppo.txt"]
    assert "[1]" in guardian.original and "[5]" in guardian.original
    assert "the Syrian leadership, who had controlled" in guardian.text
    assert "Maj Gen Qassem Suleimani, who was tasked" in guardian.text
    # A bracketed phrase that is not a footnote marker stays.
    assert '"terrorists and takfiris [a term used in Iran for Sunni jihadists]"' in guardian.text


@pytest.mark.parametrize("doc_id", sorted(BOILERPLATE_PROSE_LINES))
def test_no_article_sentence_is_lost(documents, doc_id):
    doc = documents[doc_id]
    cleaned = normalize(doc.text)
    article = [line for line in prose_lines(doc.original)
               if not any(b in line for b in BOILERPLATE_PROSE_LINES[doc_id])]
    assert len(article) >= 8
    missing = []
    for line in article:
        line = normalize(line)
        if line.startswith(GLUED_RESIDUE):
            line = line[len(GLUED_RESIDUE):]
        if line not in cleaned:
            missing.append(line[:80])
    assert not missing, f"article lines dropped from {doc_id}: {missing}"
    for needle in BOILERPLATE_PROSE_LINES[doc_id]:
        assert needle not in doc.text


def test_short_article_lines_are_kept(documents):
    # Titles, standfirsts, bylines and subheadings are not "prose lines" but are article text.
    expect = {
        "alavi-2015-12-inside-irans-secret-war-in-syria.txt": [
            "Inside Iran’s Secret War in Syria", "Dictators are generally known",
            "He tweets at @HeshmatAla"],
        "almonitor-2016-05-iranian-officials-blame-aleppo-ceasefire-violations.txt": [
            "Iranian officials blame Aleppo cease-fire violations for military casualties",
            "Arash Karami is a contributor to Al-Monitor."],
        "guardian-2016-12-14-iran-hails-victory-in-aleppo.txt": [
            "Iran hails victory in Aleppo as Shia militias boost Syria's Bashar al-Assad",
            "by CHULOV Martin, KAMALI DEHGHAN Saeed, WINTOUR Patrick (Date first published"],
        "longwarjournal-2016-02-irgc-involvement-in-battle-for-aleppo.txt": [
            "The IRGC’s involvement in the battle for Aleppo", "Follow them on Twitter"],
        "trtworld-2015-10-iranian-troops-mobilise-for-aleppo.txt": [
            "amassing on Aleppo in preparation for massive assault",
            "ISIS advance despite air strikes", "TRTWorld and agencies"],
    }
    for doc_id, needles in expect.items():
        for needle in needles:
            assert needle in documents[doc_id].text, (doc_id, needle)


def test_paragraph_broken_mid_sentence_is_rejoined(documents):
    doc = documents["guardian-2016-12-14-iran-hails-victory-in-aleppo.txt"]
    assert "and the\n\nNujaba Front" in doc.original and "what happens\n\nnext." in doc.original
    assert "Abu al-Fadhil al-Abbas, and the Nujaba Front, which is affiliated" in doc.text
    assert "giving them a driving role in what happens next." in doc.text
    sentences = [doc.text[s:e] for s, e in split_sentences(doc.text)]
    assert any(s.startswith("Under Suleimani's control") and s.endswith("Hezbollah militia.")
               for s in sentences), "the rejoined sentence is split"
    assert any(s.startswith("But after the air campaign") and s.endswith("in what happens next.")
               for s in sentences)
    # Real paragraph breaks stay paragraph breaks.
    assert "Russia scaled back its bombardment.\n\nPro-Assad forces" in doc.text


@pytest.mark.parametrize("doc_id", sorted(BOILERPLATE_PROSE_LINES))
def test_offsets_map_every_character_back(documents, doc_id):
    doc = documents[doc_id]
    cleaned, original = doc.cleaned, doc.original
    assert len(cleaned.offsets) == len(cleaned.text)
    assert all(a <= b for a, b in zip(cleaned.offsets, cleaned.offsets[1:])), "offsets go backwards"
    assert all(0 <= o < len(original) for o in cleaned.offsets)
    for i, ch in enumerate(cleaned.text):
        if ch.isalnum():
            assert original[cleaned.offsets[i]] == ch, (i, ch, original[cleaned.offsets[i] - 10:][:20])


@pytest.mark.parametrize("doc_id", sorted(BOILERPLATE_PROSE_LINES))
def test_sentence_spans_map_to_the_same_words_in_the_original(documents, doc_id):
    doc = documents[doc_id]
    sentences = split_sentences(doc.text)
    assert len(sentences) > 20
    for start, end in sentences:
        o_start, o_end = doc.cleaned.original_span(start, end)
        assert normalize(doc.original[o_start:o_end]) == normalize(doc.text[start:end])
        assert doc.original[o_start] == doc.text[start]


def test_mojibake_is_repaired_with_offsets():
    original = "Iranâ€™s army said â€œhundredsâ€\x9d. Itâ€”the cafÃ© â€“ left."
    cleaned = clean(original)
    assert cleaned.text == "Iran’s army said “hundreds”. It—the café – left."
    apostrophe = cleaned.text.index("’")
    assert cleaned.offsets[apostrophe] == original.index("â€™")
    assert original[cleaned.offsets[apostrophe + 1]] == "s"
    start, end = cleaned.original_span(0, cleaned.text.index(" army"))
    assert original[start:end].startswith("Iranâ€™")


def test_mojibake_no_break_space_is_repaired():
    assert clean("troops\u00c2\u00a0arrived in Aleppo.").text == "troops arrived in Aleppo."


def test_span_ending_on_repaired_mojibake_covers_it():
    original = "He said â€œhundreds.â€\x9d Then he left."
    cleaned = clean(original)
    end = cleaned.text.index("”") + 1
    start, stop = cleaned.original_span(0, end)
    assert original[start:stop] == "He said â€œhundreds.â€\x9d"


def test_comment_block_at_the_end_is_dropped():
    original = ("The army advanced on the city at dawn. It met little resistance.\n\n"
                "Troops reached the centre by noon.\n\n"
                "Tags: syria, aleppo\n\n"
                "  • John Smith says:\n\n    Great article, thanks for the facts.\n\n"
                "  • jane says:\n\n    I disagree with every word of this.\n")
    cleaned = clean(original)
    assert cleaned.text == ("The army advanced on the city at dawn. It met little resistance.\n\n"
                            "Troops reached the centre by noon.")
    original = "The army advanced on the city.\n\nLeave a Reply\n\nNice post. Thanks a lot for this."
    assert clean(original).text == "The army advanced on the city."


def test_cookie_and_subscription_lines_are_dropped_but_the_article_continues():
    original = ("The army advanced on the city.\n\n"
                "This site uses cookies to improve your browsing experience; see our privacy policy.\n\n"
                "Continue reading this article by registering at no cost and get unlimited access to:\n\n"
                "  • Archived articles\n  • Exclusive events\n"
                "The talks resumed on Monday.")
    cleaned = clean(original)
    assert cleaned.text == "The army advanced on the city.\n\nThe talks resumed on Monday."
    second = cleaned.text.index("The talks")
    assert original[cleaned.offsets[second]:].startswith("The talks resumed")


def test_photo_credit_and_caption_are_dropped_but_a_sentence_after_a_credit_is_kept():
    caption = "Photo by: Reuters\n\nSyrian soldiers celebrate in Damascus, July 20, 2012\n\nThe army advanced."
    assert clean(caption).text == "The army advanced."
    prose = "Photo by: AFP\n\nThe army advanced on the city at dawn and met little resistance."
    assert clean(prose).text == "The army advanced on the city at dawn and met little resistance."


def test_nbsp_and_markup_are_normalised_with_offsets():
    original = "By [Jane Doe](#), in *Aleppo*:\u00a0troops [1] arrived ."
    cleaned = clean(original)
    assert cleaned.text == "By Jane Doe, in Aleppo: troops arrived ."
    at = cleaned.text.index("Aleppo")
    assert original[cleaned.offsets[at]:cleaned.offsets[at] + 6] == "Aleppo"
    start, end = cleaned.original_span(cleaned.text.index("troops"), len(cleaned.text))
    assert original[start:end] == "troops [1] arrived ."


@pytest.mark.parametrize("heading", ["The full statement says:", "About the deal"])
def test_article_line_that_looks_like_a_tail_header_keeps_the_rest(heading):
    original = f"The ministry issued a statement.\n\n{heading}\n\nThe troops will stay in Aleppo until spring."
    assert "The troops will stay in Aleppo until spring." in clean(original).text


def test_no_boilerplate_reaches_the_index(shipped):
    """What is stored in Chroma (and so retrievable and citable) holds none of the boilerplate."""
    from qa.index import COLLECTION, CorpusIndex, all_nodes, chroma_client

    client = chroma_client(CorpusIndex(shipped).current_build() / "chroma")
    try:
        stored = " ".join(node.get_content() for node in all_nodes(client.get_collection(COLLECTION)))
    finally:
        client.close()
    assert "Shia militias have also played a decisive role." in stored  # the index is not empty
    leaked = [needle for needle in BOILERPLATE if needle in stored]
    assert not leaked, leaked
