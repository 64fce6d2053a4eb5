"""`qa.eval` end to end: both pipelines on the real index and model, a failing question
that does not stop the run, saved runs, comparison, and the `qa eval` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from qa.eval import compare, evaluate, load_run

SMALL_SET = [
    {"id": "s1", "question": "How many IRGC deaths were announced after the operation began on Jan. 31?",
     "answers": [["42"]], "evidence": ["the IRGC has announced at least 42 fatalities"], "type": "single",
     "reference_answer": "At least 42 IRGC deaths were announced."},
    {"id": "u1", "question": "What did Javad Zarif say about the fall of Aleppo?", "answers": [], "evidence": [],
     "type": "unanswerable", "reference_answer": "The corpus does not say."},
    {"id": "f1", "question": "Was he wounded?", "history": [["Who commands the Quds Force?", "Qassem Soleimani."]],
     "answers": [["wounded"]], "evidence": ["Qassem Soleimani, was seriously wounded"], "type": "followup",
     "reference_answer": "Reports said Qassem Soleimani was seriously wounded in a battle near Aleppo."},
    {"id": "x1", "question": "Why? " * 600, "answers": [["n/a"]], "evidence": ["n/a"], "type": "single"},
]


@pytest.fixture()
def small_set(tmp_path):
    path = tmp_path / "small.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in SMALL_SET), encoding="utf-8")
    return path


def test_both_pipelines_are_scored_and_a_failing_question_does_not_stop_the_run(assistant, small_set, tmp_path):
    run = evaluate([small_set], assistant=assistant)
    assert [r.name for r in run.runs] == ["ours", "baseline"]
    for pipeline in run.runs:
        by_id = {r.item.id: r for r in pipeline.results}
        assert "QuestionError" in by_id["x1"].error or "characters long" in by_id["x1"].error, by_id["x1"].error
        assert all(not by_id[i].error for i in ("s1", "u1", "f1"))
        assert pipeline.metrics()["errors"] == 1
    ours = {r.item.id: r for r in run.runs[0].results}
    assert ours["s1"].scores.key_facts and ours["s1"].scores.hit == 1.0
    assert ours["s1"].scores.citation_recall == 1.0 and ours["s1"].sentences[0].supported
    shown = ours["s1"].sentences[0]
    assert shown.text.startswith("FDD’s Long War Journal (February 2016) wrote: ") and shown.text.endswith(" [1].")
    assert shown.claim.startswith("Since the operation")   # the attribution is not part of the claim
    assert ours["u1"].scores.abstained and ours["u1"].scores.abstention_correct
    assert ours["f1"].scores.key_facts   # condensed with the history
    assert 0.0 < ours["s1"].scores.similarity <= 1.0 and 0.0 < ours["s1"].scores.token_f1 <= 1.0
    baseline = {r.item.id: r for r in run.runs[1].results}
    assert len(baseline["s1"].retrieved) >= 2   # two 1,024-token nodes, re-split into citation sources
    assert "s1" in [q["id"] for q in run.to_dict()["pipelines"]["baseline"]["questions"]]

    saved = tmp_path / "run.json"
    run.save_json(saved)
    data = load_run(saved)
    assert data["pipelines"]["ours"]["metrics"]["errors"] == 1
    assert data["pipelines"]["ours"]["questions"][0]["answer"]["citations"][0]["path"].startswith("longwarjournal")
    assert "0 of 4 questions changed" in compare(data, data)
    table = run.table()
    assert table.splitlines()[0].split() == ["metric", "ours", "baseline"]


def test_a_line_with_documents_is_asked_about_those_documents_in_both_pipelines(assistant, tmp_path):
    trt = "trtworld-2015-10-iranian-troops-mobilise-for-aleppo.txt"
    lines = [{"id": "scoped", "question": "How many Hezbollah fighters had died in Syria?", "answers": [["1,600"]],
              "evidence": ["at least 1,600 of its fighters"], "documents": ["trtworld-*"]},
             {"id": "whole", "question": "How many Hezbollah fighters had died in Syria?", "answers": [["1,600"]],
              "evidence": ["at least 1,600 of its fighters"]},
             {"id": "typo", "question": "Who commands the Quds Force?", "type": "unanswerable",
              "documents": ["trtwrold-*"]}]
    path = tmp_path / "scoped.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    run = evaluate([path], assistant=assistant)
    for pipeline in run.runs:
        by_id = {r.item.id: r for r in pipeline.results}
        scoped = by_id["scoped"]
        assert scoped.item.documents == ["trtworld-*"] and scoped.retrieved
        assert {p.path for p in scoped.retrieved} == {trt}, pipeline.name   # the gold passage is elsewhere
        assert scoped.scores.hit == 0.0 and not scoped.scores.key_facts
        assert {c.path for c in scoped.answer.citations} <= {trt}
        assert "DocumentScopeError" in by_id["typo"].error and "trtwrold-*" in by_id["typo"].error
    assert {r.item.id: r for r in run.runs[0].results}["whole"].scores.hit == 1.0   # ours finds it unscoped
    ours = run.runs[0].to_dict()["questions"]
    assert ours[0]["documents"] == ["trtworld-*"] and ours[0]["answer"]["documents"] == [trt]
    assert ours[1]["documents"] is None and ours[1]["answer"]["documents"] is None


def test_similarity_to_reference_uses_the_embedding_model(assistant):
    from qa.eval.run import _similarity

    similarity = _similarity(assistant.embedder)
    same = similarity("Iran sent thousands of troops to Aleppo.", "Iran sent thousands of troops to Aleppo.")
    close = similarity("Tehran deployed thousands of soldiers to Aleppo.", "Iran sent thousands of troops to Aleppo.")
    far = similarity("The recipe needs two eggs and flour.", "Iran sent thousands of troops to Aleppo.")
    assert same == pytest.approx(1.0, abs=1e-4)
    assert close > 0.6 > far


@pytest.mark.slow
def test_qa_eval_command_writes_json_and_report_and_compares(shipped, small_set, tmp_path):
    environ = {**os.environ, "QA_CORPUS_DIR": str(shipped.corpus_dir), "QA_INDEX_DIR": str(shipped.index_dir),
               "QA_PROGRESS": "false"}

    def qa(*args):
        return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True,
                              env=environ, timeout=600)

    out, report = tmp_path / "a.json", tmp_path / "a.html"
    done = qa("eval", str(small_set), "--pipeline", "ours", "--json", str(out), "--report", str(report))
    assert done.returncode == 1, done.stderr           # one question failed, and says so
    assert "question x1" in done.stderr and "Traceback" not in done.stderr
    assert "key facts in answer" in done.stdout and "baseline" not in done.stdout.splitlines()[0]
    assert list(load_run(out)["pipelines"]) == ["ours"]
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")
    assert "Was he wounded?" in html

    done = qa("eval", "--compare", str(out), str(out))
    assert done.returncode == 0 and "0 of 4 questions changed" in done.stdout

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?", "answers": [["a"]]}\n{"question": 3}\n', encoding="utf-8")
    done = qa("eval", str(bad))
    assert done.returncode == 2 and "bad.jsonl:2: missing 'question'" in done.stderr

    started = time.monotonic()   # refused before the model loads
    for args, message in [(("eval", str(small_set), "--pipeline", "foo"), "unknown pipeline 'foo'"),
                          (("eval", str(small_set), "--json", str(tmp_path / "no" / "run.json")), "cannot write"),
                          (("eval", str(small_set), "--compare", str(out), str(out)), "runs nothing")]:
        done = qa(*args)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert time.monotonic() - started < 20


def test_baseline_reads_raw_files_and_a_footnote_mark_in_a_quote_is_not_a_citation(tmp_path):
    from conftest import settings_for

    from qa.assistant import Assistant
    from qa.eval.baseline import BaselinePipeline

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "depot.txt").write_text("Depot report\n\nThe depot logged 41 crates of lentils on Monday [3]. "
                                      "Rain fell in the afternoon.\n\n[3] http://example.org/ledger\n",
                                      encoding="utf-8")
    (corpus / "depot.txt.meta.json").write_text('{"title": "ignored by the baseline"}', encoding="utf-8")
    bot = Assistant(settings_for(tmp_path, corpus))
    bot.ingest()
    baseline = BaselinePipeline(bot.settings, bot.embedder, bot.vectors)
    answer, passages = baseline.trace("How many crates of lentils did the depot log on Monday?")
    assert "41" in answer.text and "[3]" not in answer.text
    assert [c.number for c in answer.citations] == [1] and answer.citations[0].path == "depot.txt"
    assert "[3]" in passages[0].text   # raw text: no boilerplate removal in the baseline
    assert (tmp_path / "index" / "baseline").is_dir()
    bot.close()
