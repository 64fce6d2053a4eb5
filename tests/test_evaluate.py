"""Evaluation sets and metrics: each metric against small hand-computed cases, the set
formats (ours and llama-index's), saved runs and their comparison."""

from __future__ import annotations

import json

import pytest

from qa.eval import (
    EvalSetError,
    QuestionResult,
    aggregate,
    compare,
    load_eval_set,
    load_run,
    parse_item,
    score_answer,
    summary_table,
)
from qa.eval.scoring import citation_scores, contains_evidence, has_key_facts, is_gold, retrieval_scores, token_f1
from qa.eval.stats import median, percentile
from qa.types import Answer, Citation


def _item(**kw):
    data = {"id": "t", "question": "q?", "answers": [["6,000-8,000"]], "evidence": ["force of 6,000-8,000"]}
    data.update(kw)
    return parse_item(data, "test", 1, "set.jsonl")


def _answer(text, citations=(), abstained=False, ms=10.0):
    return Answer(question="q?", text=text, abstained=abstained, timings_ms={"total": ms},
                  citations=[Citation(i, t, "source", "path.txt", 0, len(t)) for i, t in enumerate(citations, start=1)])


def words_judge(claim, passages):
    """Supported when every word of the claim (minus punctuation) is in the passages."""
    def words(text):
        return set(text.lower().replace(".", " ").replace(",", " ").split())

    return words(claim) <= words(" ".join(passages))


# Answers ---------------------------------------------------------------------------------
def test_key_facts_every_group_any_alternative_case_quote_space_insensitive():
    groups = [["Soleimani", "Suleimani"], ["“hundreds”"]]
    assert has_key_facts('Gen. SULEIMANI said   "hundreds" died', groups)
    assert not has_key_facts("Suleimani said many died", groups)


def test_key_facts_are_whole_words():
    assert not has_key_facts("It was 2013.", [["13"]]) and has_key_facts("13 were killed.", [["13"]])
    assert not has_key_facts("a network of militias", [["two"]])
    assert has_key_facts("a force of 6,000-8,000 troops", [["6,000-8,000"]])


def test_key_facts_are_not_found_in_the_question_quoted_back():
    from qa.citations import NOT_ANSWERED_TEXT

    answer = _answer(f"According to X (May 2016), 18 were wounded [1]. {NOT_ANSWERED_TEXT} “were 13 captured”.",
                     ["18 were wounded"])
    result = score_answer(_item(answers=[["13"]], evidence=["18 were wounded"]), answer, ["18 were wounded"],
                          words_judge)
    assert result.scores.key_facts is False
    dated = score_answer(_item(answers=[["May 2016"]]), answer, [], words_judge)
    assert dated.scores.key_facts is True   # who and when the answer attributes count


def test_token_f1_hand_computed():
    # prediction tokens {cat, sat}, reference {cat, sat, down}: precision 1, recall 2/3
    assert token_f1("The cat sat.", "A cat sat down") == pytest.approx(0.8)
    assert token_f1("6,000-8,000 troops", "6,000-8,000 troops") == 1.0
    assert token_f1("nothing in common", "entirely different") == 0.0
    # repeated tokens count only as often as the reference has them: P 2/4, R 2/2
    assert token_f1("troops troops troops troops", "troops troops") == pytest.approx(2 * 0.5 * 1 / 1.5)


# Retrieval -------------------------------------------------------------------------------
def test_gold_passage_by_evidence_substring():
    assert is_gold("an estimated  force of 6,000-8,000 troops", ["force of 6,000-8,000"])
    assert not is_gold("an estimated force of thousands", ["force of 6,000-8,000"])


def test_evidence_copied_from_a_text_dump_matches_despite_spacing_at_punctuation():
    # The passage holds the page as a browser shows it; the evidence was copied with spaces
    # around inline elements. Words still have to match: "uscan1" is not "uscan (1)".
    assert is_gold("The watch file format is documented in the uscan(1) manpage.",
                   ["documented in the uscan (1) manpage ."])
    assert is_gold("To get the date in the required format, use LANG=C date -R.", ["use LANG=C date -R ."])
    assert not is_gold("The format is documented in the uscan1 manpage.", ["documented in the uscan (1) manpage"])


def test_a_long_reference_context_is_found_by_any_of_its_sentences():
    context = "The first sentence is about Aleppo and its siege. The second one is about Khan Tuman fighting."
    assert contains_evidence("… text before. The second one is about Khan Tuman fighting. After.", context)
    assert not contains_evidence("Khan Tuman", context)


def test_retrieval_scores_hand_computed():
    passages = ["nothing here", "an estimated force of 6,000-8,000 troops", "other", "Najaf burials"]
    scores = retrieval_scores(passages, ["force of 6,000-8,000", "buried in Najaf"])
    assert scores.hit == 1.0
    assert scores.rr == pytest.approx(1 / 2)          # first gold passage at rank 2
    assert scores.gold_recall == pytest.approx(1 / 2)  # one of the two evidence strings found
    both = retrieval_scores(["buried in Najaf", "force of 6,000-8,000"], ["force of 6,000-8,000", "buried in Najaf"])
    assert (both.hit, both.rr, both.gold_recall) == (1.0, 1.0, 1.0)
    none = retrieval_scores(["nothing", "here"], ["force of 6,000-8,000"])
    assert (none.hit, none.rr, none.gold_recall) == (0.0, 0.0, 0.0)


# Citations -------------------------------------------------------------------------------
def test_citation_recall_and_precision_follow_alce():
    passages = {1: "iran sent troops to aleppo", 2: "hezbollah lost fighters", 3: "iran sent troops"}
    statements = [
        ("Iran sent troops.", [1]),                              # supported, 1 precise citation
        ("Iran sent troops to Aleppo.", [1, 3]),                 # [1] alone supports; [3] is redundant
        ("Iran sent troops, Hezbollah lost fighters.", [1, 2]),  # needs both: both precise
        ("Russia sent jets.", [1]),                              # unsupported: its citation is imprecise
        ("Iran sent troops.", []),                               # no citation: unsupported
        ("Iran sent troops.", [9]),                              # cites a passage not shown
    ]
    scores = citation_scores(statements, passages, words_judge)
    assert [s.supported for s in scores.sentences] == [True, True, True, False, False, False]
    assert scores.recall == pytest.approx(3 / 6)
    # citations: 1 + 2 + 2 + 1 + 0 + 1 = 7; precise: 1 + 1 + 2 + 0 + 0 + 0 = 4
    assert scores.precision == pytest.approx(4 / 7)
    assert citation_scores([], passages, words_judge) is None


def test_percentile_and_median_hand_computed():
    values = [50, 10, 40, 20, 30]
    assert median(values) == 30 and median([1, 2, 3, 4]) == 2.5
    assert percentile(values, 95) == 50 and percentile(values, 50) == 30 and percentile(values, 20) == 10
    assert percentile([], 95) != percentile([], 95)  # NaN


# Scoring and aggregation -----------------------------------------------------------------
def test_question_scores_and_aggregate_hand_computed():
    passage = "an estimated force of 6,000-8,000 troops"
    results = [
        score_answer(_item(reference_answer="A force of 6,000-8,000."),
                     _answer("Force of 6,000-8,000 [1].", [passage], ms=10), [passage], words_judge),
        score_answer(_item(), _answer("Thousands of troops [1].", ["unrelated passage"], ms=20),
                     ["unrelated passage", passage], words_judge),
        score_answer(_item(answers=[], evidence=[], type="unanswerable"),
                     _answer("The corpus does not say.", abstained=True, ms=30), [], words_judge),
        score_answer(_item(answers=[], evidence=[], type="unanswerable"),
                     _answer("Made up [1].", ["x"], ms=40), [], words_judge),
        score_answer(_item(), _answer("The corpus does not say.", abstained=True, ms=50), ["nothing"], words_judge),
        QuestionResult(_item(), None, error="QuestionError: too long"),
    ]
    first = results[0].scores
    assert first.key_facts is True and first.gold_cited is True
    assert (first.hit, first.rr) == (1.0, 1.0)
    assert first.token_f1 == pytest.approx(1.0)   # "force of 6,000-8,000" both ways after normalising
    assert first.citation_recall == 1.0
    assert results[1].scores.rr == pytest.approx(0.5) and results[1].scores.citation_recall == 0.0
    assert results[2].scores.key_facts is None and results[2].scores.citation_recall is None
    abstained = score_answer(_item(reference_answer="The corpus does not say q?"),
                             _answer("The corpus does not say: “q?”.", abstained=True), [], words_judge,
                             similarity=lambda a, b: 0.9)
    assert abstained.scores.token_f1 == 0.0 and abstained.scores.similarity == 0.0
    m = aggregate(results)
    assert m["questions"] == 6 and m["errors"] == 1
    assert m["key_facts"] == pytest.approx(1 / 3)       # answerable: hit, miss, abstained
    assert m["gold_cited"] == pytest.approx(1 / 3)
    assert m["hit_rate"] == pytest.approx(2 / 3)        # the abstained one retrieved nothing gold
    assert m["mrr"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert m["abstention_recall"] == pytest.approx(1 / 2)
    assert m["abstention_precision"] == pytest.approx(1 / 2)
    assert m["citation_recall"] == pytest.approx((1 + 0 + 0) / 3)  # three answers made statements
    assert m["latency_median_ms"] == 30 and m["latency_p95_ms"] == 50


def test_a_question_record_is_typed_and_round_trips_through_the_saved_format():
    from qa.eval import QuestionResult, QuestionScores

    passage = "an estimated force of 6,000-8,000 troops"
    result = score_answer(_item(reference_answer="A force of 6,000-8,000."),
                          _answer("Force of 6,000-8,000 [1].", [passage], ms=10), [passage], words_judge)
    assert isinstance(result.scores, QuestionScores) and isinstance(result.answer, Answer)
    assert [(s.text, s.citations, s.supported) for s in result.sentences] == [("Force of 6,000-8,000 [1].", [1], True)]
    data = json.loads(json.dumps(result.to_dict()))
    assert list(data["scores"]) == ["hit", "rr", "gold_recall", "key_facts", "gold_cited", "token_f1", "similarity",
                                    "citation_recall", "citation_precision", "abstained", "abstention_correct",
                                    "latency_ms", "generated", "fell_back", "tokens_per_s"]
    assert data["answer"]["citations"][0]["text"] == passage and data["sentences"][0]["claim"]
    assert QuestionResult.from_dict(data).to_dict() == data
    scoped = QuestionResult(_item(documents=["reports/*.pdf"]), None, error="DocumentScopeError: x").to_dict()
    assert scoped["documents"] == ["reports/*.pdf"] and QuestionResult.from_dict(scoped).item.documents == [
        "reports/*.pdf"]
    failed = QuestionResult(_item(), None, error="QuestionError: too long").to_dict()
    assert failed["answer"] is None and failed["scores"] == {} and QuestionResult.from_dict(failed).error


# Loading ---------------------------------------------------------------------------------
def test_bad_lines_are_reported_with_line_numbers(tmp_path):
    path = tmp_path / "set.jsonl"
    ok = '{"question": "ok?", "answers": [["a"]]}'
    cases = [
        (f'{ok}\n\n{{"question": "x", "answers": "a"}}\n', r"set.jsonl:3: 'answers'"),
        (f'{ok}\n{{not json}}\n', r"set.jsonl:2: invalid JSON"),
        ('{"answers": [["a"]]}\n', r"set.jsonl:1: missing 'question'"),
        ('{"question": "a?", "evidence": "x"}\n', r"set.jsonl:1: 'evidence' must be a list"),
        ('{"question": "a?", "answers": [["a"]], "history": [["only one"]]}\n', r"set.jsonl:1: 'history'"),
        ('{"question": "a?", "answers": [["a"]], "type": "trivia"}\n', r"set.jsonl:1: 'type' must be one of"),
        ('{"id": "a", "question": "a?", "answers": [["a"]]}\n{"id": "a", "question": "b?", "answers": [["b"]]}\n',
         r"set.jsonl:2: id 'a' is used twice"),
        ('{"question": "a?", "evidence": [""]}\n', r"set.jsonl:1: an 'evidence' string is empty"),
        ('{"question": "a?", "answers": [[""]]}\n', r"set.jsonl:1: an 'answers' group is empty"),
        ('{"question": "a?", "answers": [[]]}\n', r"set.jsonl:1: an 'answers' group is empty"),
        ('{"question": "a?"}\n', r"set.jsonl:1: no 'answers'.*unanswerable"),
        ('{"question": "a\\u0000?", "type": "unanswerable"}\n', r"set.jsonl:1: 'question' contains a NUL"),
        ('{"question": "a\\ud83d?", "type": "unanswerable"}\n', r"unpaired surrogate"),
        ('{"question": "a?", "type": "unanswerable", "documents": "a.md"}\n', r"'documents' .* must be a list"),
        ('{"question": "a?", "type": "unanswerable", "documents": []}\n', r"'documents' is empty"),
        ('{"question": "a?", "type": "unanswerable", "documents": [" "]}\n', r"'documents' is empty or has an empty"),
        ("\n\n", r"no questions"),
    ]
    for text, message in cases:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(EvalSetError, match=message):
            load_eval_set(path)
    path.write_bytes(b'{"question": "caf\xe9?"}\n')
    with pytest.raises(EvalSetError, match="not UTF-8"):
        load_eval_set(path)
    with pytest.raises(EvalSetError, match="cannot read"):
        load_eval_set(tmp_path / "missing.jsonl")
    with pytest.raises(EvalSetError, match="is a folder"):
        load_eval_set(tmp_path)


def test_valid_sets_with_a_bom_or_a_raw_line_separator_are_read(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('\ufeff{"question": "a\u2028b?", "type": "unanswerable"}\n'
                    '{"question": "c?", "answers": [["c"]]}\n', encoding="utf-8")
    first, second = load_eval_set(path)
    assert first.question == "a\u2028b?" and first.unanswerable and second.line == 2


def test_a_set_given_twice_is_refused(tmp_path):
    from qa.eval import load_sets

    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "a", "question": "a?", "answers": [["a"]]}\n', encoding="utf-8")
    with pytest.raises(EvalSetError, match="appears twice"):
        load_sets([path, path])


def test_llama_index_labelled_rag_dataset_is_read(tmp_path):
    """The JSON that LabelledRagDataset.save_json writes."""
    path = tmp_path / "rag_dataset.json"
    path.write_text(json.dumps({"examples": [
        {"query": "Where are Iraqi militia fighters buried?", "query_by": {"model_name": "gpt-4", "type": "ai"},
         "reference_contexts": ["Their bodies are buried in Najaf. Families mourn them."],
         "reference_answer": "In Najaf.", "reference_answer_by": {"model_name": "", "type": "human"}},
        {"query": "Who leads the Quds Force?", "query_by": None, "reference_contexts": [],
         "reference_answer": "Qassem Soleimani.", "reference_answer_by": None},
    ]}), encoding="utf-8")
    first, second = load_eval_set(path)
    assert first.question.startswith("Where are Iraqi")
    assert first.evidence == ["Their bodies are buried in Najaf. Families mourn them."]
    assert first.reference_answer == "In Najaf." and first.answers == [] and not first.unanswerable
    assert second.evidence == [] and second.type == "single"
    path.write_text(json.dumps({"examples": [{"query_by": None}]}), encoding="utf-8")
    with pytest.raises(EvalSetError, match="example 1: missing 'question'"):
        load_eval_set(path)
    path.write_text('{\n  "examples": [\n    {"query": "a?",}\n  ]\n}\n', encoding="utf-8")
    with pytest.raises(EvalSetError, match=r"rag_dataset.json:3: invalid JSON"):
        load_eval_set(path)


def test_llama_index_retrieval_dataset_is_read(tmp_path):
    """The JSON that EmbeddingQAFinetuneDataset.save_json writes."""
    path = tmp_path / "retrieval.json"
    data = {"queries": {"q1": "Where are they buried?"}, "corpus": {"n1": "buried in Najaf", "n2": "other"},
            "relevant_docs": {"q1": ["n1"]}, "mode": "text"}
    path.write_text(json.dumps(data), encoding="utf-8")
    (item,) = load_eval_set(path)
    assert (item.id, item.evidence, item.answers, item.unanswerable) == ("q1", ["buried in Najaf"], [], False)
    data["relevant_docs"] = {"q1": ["n9"]}
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(EvalSetError, match="'n9' is not in 'corpus'"):
        load_eval_set(path)


def test_shipped_set_is_valid_and_its_evidence_is_in_the_corpus():
    from conftest import CORPUS, EVAL_SET

    items = load_eval_set(EVAL_SET)
    texts = [p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt")]
    assert len(items) >= 60
    assert {i.type for i in items} == {"single", "multi", "conflict", "unanswerable", "followup"}
    for item in items:
        assert item.reference_answer, item.id
        assert item.unanswerable == (not item.answers), item.id
        for evidence in item.evidence:
            assert any(contains_evidence(t, evidence) for t in texts), (item.id, evidence)


# Saved runs ------------------------------------------------------------------------------
def _run(scores_by_key, latency=10.0):
    questions = [{"key": k, "id": k, "question": f"{k}?", "error": "", "scores": dict(s, latency_ms=latency)}
                 for k, s in scores_by_key.items()]
    return {"format": "qa-eval-run/1", "pipelines": {"ours": {
        "metrics": {"questions": len(questions), "errors": 0,
                    "key_facts": sum(q["scores"]["key_facts"] for q in questions) / len(questions),
                    "latency_median_ms": latency},
        "by_type": {}, "questions": questions}}}


def test_compare_shows_metric_changes_and_each_changed_question():
    before = _run({"a#1": {"key_facts": True, "abstention_correct": True},
                   "a#2": {"key_facts": False, "abstention_correct": True},
                   "a#3": {"key_facts": True, "abstention_correct": True}}, latency=20)
    after = _run({"a#1": {"key_facts": True, "abstention_correct": True},
                  "a#2": {"key_facts": True, "abstention_correct": True},
                  "a#3": {"key_facts": False, "abstention_correct": False}}, latency=15)
    text = compare(before, after, "before", "after")
    assert "2 of 3 questions changed" in text
    assert "a#2: key facts better (false -> true)" in text
    assert "a#3: key facts worse (true -> false); abstention worse (true -> false)" in text
    assert "a#1" not in text
    assert "-5" in text   # latency median 20 -> 15
    other = _run({"b#1": {"key_facts": True, "abstention_correct": True}})
    assert "share no question" in compare(before, other)
    with pytest.raises(EvalSetError, match="share no pipeline"):
        compare(before, {"pipelines": {"baseline": before["pipelines"]["ours"]}})


def test_a_file_that_is_not_a_saved_run_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "old.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(EvalSetError, match="qa eval SET --json"):
        load_run(path)


def test_summary_table_puts_pipelines_side_by_side():
    run = {"pipelines": {name: {"metrics": {"questions": 2, "key_facts": value, "latency_median_ms": 12.4},
                                "by_type": {"single": {"questions": 2, "key_facts": value}}}
                         for name, value in (("ours", 1.0), ("baseline", 0.5))}}
    lines = summary_table(run).splitlines()
    assert lines[0].split() == ["metric", "ours", "baseline"]
    assert next(line for line in lines if line.startswith("key facts in answer")).split()[-2:] == ["1.00", "0.50"]
    assert next(line for line in lines if line.startswith("single")).split() == ["single", "2", "1.00", "0.50"]
    assert next(line for line in lines if line.startswith("citation recall")).split()[-2:] == ["-", "-"]


def test_the_answerers_remarks_are_not_claims():
    from qa.citations import NOT_ANSWERED_TEXT, statements

    text = ("Sources disagree on this. TRT World (October 2015) wrote: Substantial number of troops [1]. "
            "According to Maj. Gen. X (SOHR), the troops arrived [1][2]. "
            f"{NOT_ANSWERED_TEXT} “how many captured? Where did Iran suffer its losses”.")
    assert statements(text) == [("Substantial number of troops.", [1]), ("the troops arrived.", [1, 2])]


def test_markers_inside_a_sentence_and_lists_of_numbers_count():
    from qa.citations import statements

    assert statements("Iran sent troops [1], and Russia bombed Aleppo [2].") == [
        ("Iran sent troops, and Russia bombed Aleppo.", [1, 2])]
    assert statements("Iran sent troops [1, 2]. Russia bombed it [Source 3].") == [
        ("Iran sent troops.", [1, 2]), ("Russia bombed it.", [3])]


def test_pipeline_names_are_checked_before_anything_loads():
    from qa.eval import pipeline_names

    assert pipeline_names("ours, baseline") == ["ours", "baseline"]
    with pytest.raises(EvalSetError, match="no pipeline"):
        pipeline_names(",")
    with pytest.raises(EvalSetError, match="unknown pipeline 'foo'"):
        pipeline_names(["ours", "foo"])
