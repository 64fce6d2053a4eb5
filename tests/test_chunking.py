"""Sentence-aware chunks of the shipped corpus: size, boundaries, overlap, coverage, ids."""

from __future__ import annotations

import re

import pytest
from conftest import CORPUS

from qa.chunking import chunk_document, count_tokens, split_sentences
from qa.config import Settings
from qa.corpus import load_corpus, load_document
from qa.embedding import MAX_WORD_PIECES, word_piece_count
from qa.index import chunk_to_node, embed_text

SETTINGS = Settings()


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.replace("\u00a0", " "))


def is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    rest = iter(haystack)
    return all(any(word == other for other in rest) for word in needle)


@pytest.fixture(scope="module")
def chunked():
    """[(doc, sentences, chunks)] for each shipped document, with the default settings."""
    docs = load_corpus(CORPUS).documents
    assert len(docs) == 5
    return [(doc, split_sentences(doc.text),
             chunk_document(doc, SETTINGS.chunk_tokens, SETTINGS.chunk_overlap_tokens)) for doc in docs]


def test_every_embedded_chunk_fits_the_model_window(chunked):
    for doc, _, chunks in chunked:
        for chunk in chunks:
            text = embed_text(chunk_to_node(chunk, doc.source))
            assert text.startswith(doc.title + "\n\n") and text.endswith(chunk.text)
            pieces = word_piece_count(text)
            assert pieces <= MAX_WORD_PIECES == 256, (chunk.doc_id, chunk.index, pieces)


def test_chunks_are_within_the_token_budget(chunked):
    for _, _, chunks in chunked:
        assert chunks
        for chunk in chunks:
            assert chunk.tokens == count_tokens(chunk.text) <= SETTINGS.chunk_tokens


def test_chunk_text_and_offsets(chunked):
    for doc, _, chunks in chunked:
        assert [c.index for c in chunks] == list(range(len(chunks)))
        for chunk in chunks:
            assert chunk.doc_id == doc.doc_id
            assert chunk.text == doc.text[chunk.clean_start:chunk.clean_end]
            assert (chunk.start, chunk.end) == doc.cleaned.original_span(chunk.clean_start, chunk.clean_end)
            # The original span starts and ends with the chunk's words and holds all of them in
            # order (it may also hold dropped boilerplate lines that fall between them).
            # Footnote markers are dropped by the cleaner, and so is "faqihassad", an image file
            # name glued to the alavi article's first word.
            original = words(re.sub(r"\[\d+\]|faqihassad", "", doc.original[chunk.start:chunk.end]))
            mine = words(chunk.text)
            assert (original[0], original[-1]) == (mine[0], mine[-1])
            assert is_subsequence(mine, original), (doc.doc_id, chunk.index)


def test_chunks_start_and_end_on_sentence_boundaries(chunked):
    for doc, sentences, chunks in chunked:
        starts = {s for s, _ in sentences}
        ends = {e for _, e in sentences}
        for chunk in chunks:
            assert chunk.clean_start in starts, (doc.doc_id, chunk.index, chunk.text[:40])
            assert chunk.clean_end in ends, (doc.doc_id, chunk.index, chunk.text[-40:])


def test_chunks_cover_every_sentence_in_order(chunked):
    for doc, sentences, chunks in chunked:
        for start, end in sentences:
            assert any(c.clean_start <= start and end <= c.clean_end for c in chunks), doc.text[start:end]
        for previous, following in zip(chunks, chunks[1:]):
            # Consecutive chunks never overlap completely: each moves forward.
            assert previous.clean_start < following.clean_start
            assert previous.clean_end < following.clean_end
            assert following.clean_start <= previous.clean_end + 2  # nothing skipped but "\n\n"


def test_consecutive_chunks_share_a_sentence(chunked):
    missing = []
    for doc, sentences, chunks in chunked:
        for previous, following in zip(chunks, chunks[1:]):
            shared = [(s, e) for s, e in sentences
                      if following.clean_start <= s and e <= previous.clean_end]
            last = next((s, e) for s, e in sentences if e == previous.clean_end)
            first_new = next((s, e) for s, e in sentences if s >= previous.clean_end)
            # An overlap is only impossible when the last sentence and the next one do not fit together.
            if not shared and count_tokens(doc.text[last[0]:first_new[1]]) <= SETTINGS.chunk_tokens:
                missing.append((doc.doc_id, previous.index))
    assert not missing, f"consecutive chunks without a shared sentence: {missing}"


def test_short_final_sentences_are_carried_over(chunked):
    """Where the last sentence of a chunk is within the overlap budget it starts the next chunk."""
    checked = 0
    for doc, sentences, chunks in chunked:
        for previous, following in zip(chunks, chunks[1:]):
            last = next((s, e) for s, e in sentences if e == previous.clean_end)
            if count_tokens(doc.text[last[0]:last[1]]) <= SETTINGS.chunk_overlap_tokens:
                assert following.clean_start <= last[0], (doc.doc_id, previous.index)
                checked += 1
    assert checked >= 20


def test_chunk_ids_are_stable_and_depend_on_settings(chunked):
    doc, _, chunks = chunked[0]
    again = chunk_document(load_document(doc.path, CORPUS), SETTINGS.chunk_tokens, SETTINGS.chunk_overlap_tokens)
    assert [c.id for c in again] == [c.id for c in chunks]
    all_ids = [c.id for _, _, cs in chunked for c in cs]
    assert len(set(all_ids)) == len(all_ids)
    smaller = chunk_document(doc, 120, SETTINGS.chunk_overlap_tokens)
    assert not {c.id for c in smaller} & {c.id for c in chunks}
    assert len(smaller) > len(chunks)
    other_overlap = chunk_document(doc, SETTINGS.chunk_tokens, 20)
    assert not {c.id for c in other_overlap} & {c.id for c in chunks}


def test_a_sentence_longer_than_the_budget_is_split_into_pieces_that_fit(tmp_path):
    long_sentence = "The convoy carried " + ", ".join(
        f"crate {n} of supplies for the garrison at outpost {n}" for n in range(60)) + "."
    path = tmp_path / "long.txt"
    path.write_text("Short opening sentence here.\n\n" + long_sentence + "\n\nA closing sentence.\n",
                    encoding="utf-8")
    doc = load_document(path, tmp_path)
    assert count_tokens(long_sentence) > 3 * SETTINGS.chunk_tokens
    chunks = chunk_document(doc, SETTINGS.chunk_tokens, SETTINGS.chunk_overlap_tokens)
    assert len(chunks) >= 4
    for chunk in chunks:
        assert chunk.tokens <= SETTINGS.chunk_tokens
        assert chunk.text == doc.text[chunk.clean_start:chunk.clean_end]
        assert chunk.text == chunk.text.strip()
        assert word_piece_count(embed_text(chunk_to_node(chunk, doc.source))) <= MAX_WORD_PIECES
    # Pieces are cut at word boundaries and together hold every word of the sentence.
    at = doc.text.index(long_sentence)
    for chunk in chunks:
        for edge in (chunk.clean_start, chunk.clean_end):
            if at < edge < at + len(long_sentence):
                assert doc.text[edge - 1].isspace() or doc.text[edge].isspace() or not doc.text[edge].isalnum() \
                    or not doc.text[edge - 1].isalnum(), "cut inside a word"
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.clean_start, chunk.clean_end))
    assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace())
    assert chunks[0].text.startswith("Short opening sentence here.")
    assert chunks[-1].text.endswith("A closing sentence.")


@pytest.mark.parametrize("text, expected", [
    ("Quds Force commander, Maj. Gen. Qasem Soleimani, was pictured this week. He left.",
     ["Quds Force commander, Maj. Gen. Qasem Soleimani, was pictured this week.", "He left."]),
    ("On Feb. 11, the US, Russia and Iran agreed in Munich to a ceasefire. But Russia kept bombing.",
     ["On Feb. 11, the US, Russia and Iran agreed in Munich to a ceasefire.", "But Russia kept bombing."]),
    ("Dr. Smith met Mr. J. Jones on Jan. 31. They talked.",
     ["Dr. Smith met Mr. J. Jones on Jan. 31.", "They talked."]),
    ("He said “thousands.” Then he left! Did they? 42 died.",
     ["He said “thousands.”", "Then he left!", "Did they?", "42 died."]),
    ("A heading\nThe first line. The second (in brackets.) Third.",
     ["A heading", "The first line.", "The second (in brackets.)", "Third."]),
    ("the figure was 2.5 per cent. It rose.", ["the figure was 2.5 per cent.", "It rose."]),
])
def test_split_sentences(text, expected):
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == expected
    shifted = split_sentences(text, offset=100)
    assert shifted == [(s + 100, e + 100) for s, e in spans]


def test_split_sentences_keeps_abbreviations_in_the_corpus(chunked):
    by_id = {doc.doc_id: (doc, sentences) for doc, sentences, _ in chunked}
    doc, sentences = by_id["trtworld-2015-10-iranian-troops-mobilise-for-aleppo.txt"]
    texts = [doc.text[s:e] for s, e in sentences]
    assert any(t.startswith("Quds Force commander, Maj. Gen. Qasem Soleimani, who") and
               t.endswith("this week.") for t in texts)
    doc, sentences = by_id["longwarjournal-2016-02-irgc-involvement-in-battle-for-aleppo.txt"]
    texts = [doc.text[s:e] for s, e in sentences]
    assert any(t.startswith("On Feb. 11, the US, Russia") and t.endswith("ceasefire in Syria.") for t in texts)
    assert any(t.startswith("Since the operation started on Jan. 31, the IRGC") for t in texts)
