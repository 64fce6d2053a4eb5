"""The `qa` command, run as a user runs it: a subprocess with real models and a real index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _qa(*args: str, settings, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "QA_CORPUS_DIR": str(settings.corpus_dir), "QA_INDEX_DIR": str(settings.index_dir),
               "QA_PROGRESS": "false", **env}
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True,
                          env=environ, timeout=300)


def test_ask_json_prints_answer_dict(shipped):
    done = _qa("ask", "How many IRGC deaths were announced after the operation began on Jan. 31?", "--json",
               settings=shipped)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert "42" in data["text"] and data["citations"][0]["path"].startswith("longwarjournal")


def test_empty_question_exits_2_with_message(shipped):
    done = _qa("ask", "  ", settings=shipped)
    assert done.returncode == 2
    assert "empty" in done.stderr and "Traceback" not in done.stderr


def test_oversized_question_exits_2(shipped):
    done = _qa("ask", "x" * 50, settings=shipped, QA_MAX_QUESTION_CHARS="20")
    assert done.returncode == 2 and "limit is 20" in done.stderr


def test_help_has_examples():
    done = subprocess.run([sys.executable, "-m", "qa.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "examples:" in done.stdout and "qa ask" in done.stdout


def test_bad_setting_is_explained(shipped):
    done = _qa("ask", "Who?", settings=shipped, QA_RETRIEVAL_MODE="magic")
    assert done.returncode == 2 and "retrieval_mode" in done.stderr


def test_chat_follow_up_in_terminal(shipped):
    environ = {**os.environ, "QA_CORPUS_DIR": str(shipped.corpus_dir), "QA_INDEX_DIR": str(shipped.index_dir)}
    done = subprocess.run([sys.executable, "-m", "qa.cli", "chat"],
                          input="Who commands the Quds Force?\nWas he wounded?\n\n",
                          capture_output=True, text=True, env=environ, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("you>") >= 2 and "wounded" in done.stdout


def test_a_subprocess_started_elsewhere_imports_the_qa_under_test(tmp_path):
    import qa

    done = subprocess.run([sys.executable, "-c", "import qa; print(qa.__file__)"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve() == Path(qa.__file__).resolve()


GUARDIAN = "guardian-2016-12-14-iran-hails-victory-in-aleppo.txt"
TRT = "trtworld-2015-10-iranian-troops-mobilise-for-aleppo.txt"


def test_ask_with_doc_answers_from_those_documents_only(shipped):
    done = _qa("ask", "How many Hezbollah fighters had died in Syria?", "--doc", "trtworld-*", "--doc", "alavi-*",
               "--json", settings=shipped)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["documents"] == ["alavi-2015-12-inside-irans-secret-war-in-syria.txt", TRT]
    assert {c["path"] for c in data["citations"]} <= set(data["documents"]) and "1,600" not in data["text"]
    shown = _qa("ask", "How many Hezbollah fighters had died in Syria?", "--doc", GUARDIAN, settings=shipped)
    assert shown.returncode == 0 and "1,600" in shown.stdout
    assert f"(asked about 1 document: {GUARDIAN})" in shown.stdout


def test_a_doc_pattern_that_names_nothing_exits_2_and_lists_the_documents(shipped):
    done = _qa("ask", "Who commands the Quds Force?", "--doc", "reports/*.pdf", settings=shipped)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no indexed document matches 'reports/*.pdf'" in done.stderr and GUARDIAN in done.stderr
    listed = _qa("documents", settings=shipped)
    assert listed.returncode == 0 and listed.stdout.count("\n") == 5 and listed.stdout.startswith("alavi-2015-12")
    assert json.loads(_qa("documents", "--json", settings=shipped).stdout)[2]["path"] == GUARDIAN


def test_chat_doc_sets_shows_and_lifts_the_scope(shipped):
    environ = {**os.environ, "QA_CORPUS_DIR": str(shipped.corpus_dir), "QA_INDEX_DIR": str(shipped.index_dir)}
    lines = ["/doc", "/doc trtworld-*", "How many Hezbollah fighters had died in Syria?", "/doc nothing-*", "/doc",
             "/doc all", "How many Hezbollah fighters had died in Syria?", ""]
    done = subprocess.run([sys.executable, "-m", "qa.cli", "chat"], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, env=environ, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "(asking about all 5 documents; /doc PATTERN... limits the questions to some)" in out
    assert f"(asking about 1 document: {TRT}; /doc all asks about every document)" in out
    scoped, _, rest = out.partition("qa: no indexed document matches 'nothing-*'")
    assert "[1 document] you>" in scoped and "1,600" not in scoped   # the prompt shows the scope
    assert "the scope is unchanged" in rest and f"(asking about 1 document: {TRT}" in rest
    assert "(asking about all 5 documents again)" in rest and "1,600" in rest.split("again)")[-1]
