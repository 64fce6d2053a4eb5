"""Evaluation-set parsing and the metrics, on small hand-computed cases."""

from __future__ import annotations

import pytest

from qa.evaluate import EvalSetError, Report, has_key_facts, is_gold, load_eval_set, score_item, parse_item


def _item(**kw):
    data = {"id": "t", "question": "q?", "answers": [["6,000-8,000"]], "evidence": ["force of 6,000-8,000"]}
    data.update(kw)
    return parse_item(data, "test", 1)


def test_key_facts_every_group_any_alternative_case_quote_space_insensitive():
    groups = [["Soleimani", "Suleimani"], ["“hundreds”"]]
    assert has_key_facts('Gen. SULEIMANI said   "hundreds" died', groups)
    assert not has_key_facts("Suleimani said many died", groups)


def test_gold_passage_by_evidence_substring():
    assert is_gold("an estimated  force of 6,000-8,000 troops", ["force of 6,000-8,000"])
    assert not is_gold("an estimated force of thousands", ["force of 6,000-8,000"])


def _answer(text, citations=(), abstained=False, ms=10.0):
    return {"text": text, "abstained": abstained, "timings_ms": {"total": ms},
            "citations": [{"text": t} for t in citations]}


def test_report_metrics_hand_computed():
    results = [
        score_item(_item(), _answer("a force of 6,000-8,000 [1].", ["estimated force of 6,000-8,000 troops"], ms=10)),
        score_item(_item(), _answer("thousands [1].", ["unrelated passage"], ms=20)),
        score_item(_item(answers=[], evidence=[], type="unanswerable"), _answer("The corpus does not say.", abstained=True, ms=30)),
        score_item(_item(answers=[], evidence=[], type="unanswerable"), _answer("made up [1].", ["x"], ms=40)),
        score_item(_item(), _answer("The corpus does not say.", abstained=True, ms=50)),
    ]
    m = Report(results).metrics()
    assert m["key_facts"] == pytest.approx(1 / 3)       # answerable: hit, miss, abstained
    assert m["gold_cited"] == pytest.approx(1 / 3)
    assert m["abstention_recall"] == pytest.approx(1 / 2)
    assert m["abstention_precision"] == pytest.approx(1 / 2)
    assert m["latency_median_ms"] == 30


def test_bad_lines_are_reported_with_line_numbers(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"question": "ok?", "answers": [["a"]]}\n\n{"question": "x", "answers": "a"}\n', encoding="utf-8")
    with pytest.raises(EvalSetError, match=r"set.jsonl:3: 'answers'"):
        load_eval_set(path)
    path.write_text('{"question": "ok?"}\n{not json}\n', encoding="utf-8")
    with pytest.raises(EvalSetError, match=r"set.jsonl:2: invalid JSON"):
        load_eval_set(path)
    path.write_text('{"answers": [["a"]]}\n', encoding="utf-8")
    with pytest.raises(EvalSetError, match=r"set.jsonl:1: missing 'question'"):
        load_eval_set(path)


def test_shipped_set_is_valid_and_its_evidence_is_in_the_corpus():
    from conftest import CORPUS, EVAL_SET

    items = load_eval_set(EVAL_SET)
    texts = [p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt")]
    assert {i.type for i in items} == {"single", "multi", "conflict", "unanswerable", "followup"}
    for item in items:
        for evidence in item.evidence:
            assert any(evidence in t for t in texts), (item.id, evidence)
