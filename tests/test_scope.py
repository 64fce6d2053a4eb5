"""Questions scoped to some documents: patterns resolved against the indexed documents (unit
tests, no index), then the real pipeline on the shipped corpus's index (retrieval filtered
before ranking, citations within the scope, clear errors)."""

from __future__ import annotations

import time

import pytest
from conftest import CORPUS, EVAL_SET
from helpers import GUARDIAN, TRT

import qa
from qa.citations import is_remark
from qa.eval import load_eval_set
from qa.scope import DocumentScopeError, checked_patterns, describe, matches, resolve

INDEXED = ["annual/2023.md", "notes.md", "reports/2023-q4.pdf", "reports/2024-q1.pdf", "reports/2024-q2.pdf",
           "reports/archive/2024-old.pdf", "site/index.html", "site/docs/api.html", "site/docs/deep/faq.html"]


# Resolving patterns ------------------------------------------------------------------------
@pytest.mark.parametrize(("patterns", "expected"), [
    (["notes.md"], ["notes.md"]),
    (["./notes.md"], ["notes.md"]),
    (["reports/2024-*.pdf"], ["reports/2024-q1.pdf", "reports/2024-q2.pdf"]),    # * stays in its folder
    (["reports/*/*.pdf"], ["reports/archive/2024-old.pdf"]),
    (["reports/2024-q?.pdf"], ["reports/2024-q1.pdf", "reports/2024-q2.pdf"]),
    (["reports/2024-q[2-9].pdf"], ["reports/2024-q2.pdf"]),
    (["**/*.html"], ["site/docs/api.html", "site/docs/deep/faq.html", "site/index.html"]),
    (["site/**/*.html"], ["site/docs/api.html", "site/docs/deep/faq.html", "site/index.html"]),  # ** may be none
    (["**/2024-*.pdf"], ["reports/2024-q1.pdf", "reports/2024-q2.pdf", "reports/archive/2024-old.pdf"]),
    (["*.md"], ["notes.md"]),                                                    # top level only
    (["**/*.md"], ["annual/2023.md", "notes.md"]),
    (["reports"], ["reports/2023-q4.pdf", "reports/2024-q1.pdf", "reports/2024-q2.pdf",
                   "reports/archive/2024-old.pdf"]),                             # a folder: all under it
    (["site/docs/"], ["site/docs/api.html", "site/docs/deep/faq.html"]),
    (["notes.md", "notes.md", "site/index.html"], ["notes.md", "site/index.html"]),  # union, each once
])
def test_paths_globs_and_folders_name_the_indexed_documents(patterns, expected):
    assert resolve(patterns, INDEXED) == expected


def test_a_single_string_is_one_pattern_and_patterns_are_trimmed():
    assert checked_patterns("reports/*.pdf") == ("reports/*.pdf",)
    assert checked_patterns(["  notes.md ", ("x")]) == ("notes.md", "x")
    assert checked_patterns(None) is None


def test_matching_is_by_whole_segments_and_case_sensitive():
    assert not matches("reports/2024", "reports/2024-q1.pdf")      # a prefix of a name is not a folder
    assert not matches("notes.md/", "notes.md")                     # a trailing slash names only a folder
    assert not matches("Notes.md", "notes.md")
    assert matches("**", "a/b/c.txt") and matches("*", "notes.md")


@pytest.mark.parametrize(("documents", "says"), [
    (5, "not int"),
    ({"notes.md"}, "not set"),
    (b"notes.md", "not bytes"),
    ([], r"names no document; leave it out \(None\)"),
    ([""], r"documents\[0\] is empty"),
    (["notes.md", "  "], r"documents\[1\] is empty"),
    (["notes.md", 3], r"documents\[1\] must be a path or glob pattern \(a string\), not int"),
    ([None], "not NoneType"),
    (["a\x00b"], "NUL"),
    (["x" * 1001], "1,001 characters long"),
    (["a"] * 1001, "1,001 patterns"),
])
def test_documents_that_are_not_a_list_of_patterns_are_refused_with_why(documents, says):
    with pytest.raises(DocumentScopeError, match=says) as refused:
        checked_patterns(documents)
    assert isinstance(refused.value, qa.QuestionError) and isinstance(refused.value, ValueError)


def test_a_pattern_that_names_nothing_is_an_error_that_lists_the_documents_and_near_matches():
    with pytest.raises(DocumentScopeError) as refused:
        resolve(["notes.md", "Reports/2024-*.pdf", "nothing/*.txt"], INDEXED)
    message = str(refused.value)
    assert refused.value.unmatched == ["Reports/2024-*.pdf", "nothing/*.txt"]   # every pattern that failed
    assert "'Reports/2024-*.pdf', 'nothing/*.txt'" in message and "'notes.md'" not in message.split(";")[0]
    assert "did you mean: reports/2024-q1.pdf, reports/2024-q2.pdf" in message   # the case differs
    assert "the index holds 9 document(s): annual/2023.md, notes.md" in message and "and 1 more" in message
    assert "qa documents" in message
    with pytest.raises(DocumentScopeError, match="did you mean: annual/2023.md"):
        resolve(["2023.md"], INDEXED)     # the file name, in another folder
    with pytest.raises(DocumentScopeError, match="holds no documents; add files .* qa ingest"):
        resolve(["a.txt"], [])


def test_a_path_written_from_the_working_folder_or_absolute_names_the_document_inside_the_corpus(tmp_path,
                                                                                                  monkeypatch):
    corpus = tmp_path / "my docs"
    monkeypatch.chdir(tmp_path)
    assert resolve(["my docs/reports/2024-*.pdf"], INDEXED, corpus) == ["reports/2024-q1.pdf", "reports/2024-q2.pdf"]
    assert resolve([str(corpus / "notes.md")], INDEXED, corpus) == ["notes.md"]
    assert resolve([str(corpus / "site") + "/"], INDEXED, corpus)[0] == "site/docs/api.html"
    with pytest.raises(DocumentScopeError):
        resolve([str(tmp_path / "notes.md")], INDEXED, corpus)   # outside the corpus folder: not a document


def test_a_pattern_full_of_stars_does_not_backtrack():
    paths = ["a" * 200 + f"/{'a' * 200}{n}.txt" for n in range(200)]
    started = time.perf_counter()
    with pytest.raises(DocumentScopeError):
        resolve(["*a" * 40 + "b/" + "**/" * 40 + "*a" * 40 + "b"], paths)
    assert time.perf_counter() - started < 5.0


def test_scopes_are_described_briefly():
    assert describe(None, 5) == "all 5 documents"
    assert describe(["a.md"]) == "1 document: a.md"
    assert describe(["a", "b", "c", "d"]) == "4 documents: a, b, c and 1 more"


# On the shipped corpus's index -----------------------------------------------------------------
HEZBOLLAH = "How many Hezbollah fighters had died in Syria?"   # the Guardian answers: 1,600
LONG_WAR = "longwarjournal-2016-02-irgc-involvement-in-battle-for-aleppo.txt"


def test_resolved_against_the_index_not_the_folder(assistant):
    assert assistant.resolve_documents(None) == sorted(p.name for p in CORPUS.glob("*.txt"))
    assert assistant.resolve_documents("guardian-*") == [GUARDIAN]
    assert assistant.resolve_documents(["**/*.txt"]) == assistant.resolve_documents(None)
    with pytest.raises(DocumentScopeError, match=f"did you mean: {GUARDIAN}"):
        assistant.resolve_documents([f"{GUARDIAN}.meta.json"])   # in the folder, but not an indexed document


def _chunk_documents(passages):
    return [passage.doc_id for passage in passages for _ in passage.chunk_ids]


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_retrieval_is_filtered_before_ranking(assistant, mode):
    retriever = assistant.retriever()
    vector = assistant._query_vector(HEZBOLLAH).tolist()
    everywhere = retriever.retrieve(HEZBOLLAH, top_k=5, mode=mode, query_embedding=vector, candidates=10)
    scoped = retriever.retrieve(HEZBOLLAH, top_k=5, mode=mode, query_embedding=vector, candidates=10,
                                documents=[LONG_WAR])
    # None of the corpus's 10 best chunks is the Long War Journal's: filtering them afterwards
    # would leave nothing. Filtered before ranking, its own best chunks come back.
    assert LONG_WAR not in _chunk_documents(everywhere)
    assert set(_chunk_documents(scoped)) == {LONG_WAR} and len(_chunk_documents(scoped)) >= 5


def test_keyword_retrieval_keeps_k_passages_of_the_scope(assistant):
    retriever = assistant.retriever()
    two = ["alavi-2015-12-inside-irans-secret-war-in-syria.txt", TRT]
    scoped = retriever.retrieve("Iranian commanders in Syria", top_k=4, mode="keyword", candidates=20, documents=two)
    assert len(scoped) == 4 and {p.doc_id for p in scoped} <= set(two)
    everything = retriever.retrieve("Iranian commanders in Syria", top_k=4, mode="keyword", candidates=20,
                                    documents=assistant.resolve_documents(None))
    assert [p.chunk_ids for p in everything] == [p.chunk_ids for p in retriever.retrieve(
        "Iranian commanders in Syria", top_k=4, mode="keyword", candidates=20)]   # all documents: no filter


def test_an_answer_scoped_away_from_its_best_source_cites_only_the_scope(assistant):
    unscoped = assistant.ask(HEZBOLLAH)
    assert GUARDIAN in {c.path for c in unscoped.citations} and unscoped.documents is None
    answer, passages = assistant.trace(HEZBOLLAH, documents=[TRT])
    assert {p.doc_id for p in passages} == {TRT}
    assert answer.abstained or {c.path for c in answer.citations} == {TRT}
    assert "1,600" not in answer.text and answer.documents == [TRT]
    assert answer.to_dict()["documents"] == [TRT]


def test_every_citation_stays_within_the_scope_across_the_shipped_questions(assistant):
    items = [item for item in load_eval_set(EVAL_SET) if item.type in ("single", "multi")][:8]
    documents = assistant.resolve_documents(None)
    cited = 0
    for number, item in enumerate(items):
        scope = [documents[number % len(documents)], documents[(number + 2) % len(documents)]]
        answer = assistant.ask(item.question, history=item.history, documents=scope)
        assert {c.path for c in answer.citations} <= set(scope), (item.id, scope, answer.text)
        cited += len(answer.citations)
    assert cited > 0   # the scopes answered some of them


def test_a_scoped_abstention_names_the_chosen_documents_and_stays_a_remark(assistant):
    one = assistant.ask("How long should lentil soup simmer?", documents=[GUARDIAN])
    assert one.abstained and one.text.startswith("The chosen document does not ") and is_remark(one.text)
    two = assistant.ask("How long should lentil soup simmer?", documents=["guardian-*", "trtworld-*"])
    assert two.text.startswith("The 2 chosen documents do not ") and is_remark(two.text)
    assert "so it cannot" not in two.text


def test_stream_and_the_module_function_take_documents(assistant):
    *drafts, (text, answer) = list(assistant.stream(HEZBOLLAH, documents=GUARDIAN))
    assert answer is not None and answer.documents == [GUARDIAN] and "1,600" in text
    assert {c.path for c in answer.citations} == {GUARDIAN}


def test_a_pattern_that_names_nothing_is_refused_before_anything_is_retrieved(assistant):
    with pytest.raises(qa.DocumentScopeError, match="no indexed document matches 'reports/\\*.pdf'") as refused:
        assistant.ask(HEZBOLLAH, documents=["reports/*.pdf"])
    assert GUARDIAN in str(refused.value)
    with pytest.raises(qa.QuestionError, match="not dict"):
        assistant.ask(HEZBOLLAH, documents={"path": GUARDIAN})
    with pytest.raises(qa.QuestionError, match="empty"):   # the question is checked first
        assistant.ask("  ", documents=["reports/*.pdf"])


def test_documents_is_an_argument_not_a_setting(assistant):
    with pytest.raises(qa.ConfigError, match="unknown setting"):
        qa.Assistant(assistant.settings, documents=[GUARDIAN])
    assert "documents" not in qa.config.PER_CALL


def test_a_language_model_is_shown_only_the_chosen_documents_passages(shipped):
    from fakes import ScriptedChatModel

    model = ScriptedChatModel(["Since Jan. 31 the IRGC has announced at least 42 fatalities [1]."])
    bot = qa.Assistant(shipped, chat_model=model)
    answer = bot.ask("How many IRGC deaths were announced after the operation began on Jan. 31?",
                     documents=["longwarjournal-*", "guardian-*"])
    _, user, _ = model.calls[0]
    shown = user.count('<passage number="')
    assert shown >= 2 and user.count('source="FDD’s Long War Journal') + user.count('source="The Guardian') == shown
    assert answer.answerer == "llm" and "42 fatalities" in answer.text
    assert {c.path for c in answer.citations} == {LONG_WAR} and answer.documents == [GUARDIAN, LONG_WAR]
    bot.close()


def test_a_scope_of_most_documents_is_filtered_by_those_left_out(assistant):
    from qa.retrieve import document_where

    retriever = assistant.retriever()
    every = retriever.documents
    most = [d for d in every if d != GUARDIAN]
    assert document_where(most, every) == {"doc_id": {"$nin": [GUARDIAN]}}
    assert document_where(most[:2], every) == {"doc_id": {"$in": sorted(most[:2])}}
    for mode in ("dense", "hybrid"):
        found = retriever.retrieve(HEZBOLLAH, top_k=10, mode=mode, candidates=20, documents=most,
                                   query_embedding=assistant._query_vector(HEZBOLLAH).tolist())
        assert len(found) >= 5 and GUARDIAN not in {p.doc_id for p in found}
