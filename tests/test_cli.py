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
