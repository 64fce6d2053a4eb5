"""Shared fixtures: a copy of the shipped corpus and a real index built from it, in tmp dirs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers import ChromaServer

import qa
from qa.assistant import Assistant
from qa.config import Settings

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
EVAL_SET = CORPUS / "eval" / "aleppo.jsonl"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]

# Subprocesses the tests start (app.py, python -m qa.cli, ...) must run the qa under test. A relative
# PYTHONPATH (PYTHONPATH=src) does not hold in a subprocess started in another folder (test_ui starts
# the app in a tmp dir), which then imported whatever qa the environment had installed instead.
QA_SOURCE = str(Path(qa.__file__).resolve().parents[1])
os.environ["PYTHONPATH"] = os.pathsep.join(
    [QA_SOURCE, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != QA_SOURCE)])


def copy_corpus(target: Path) -> Path:
    shutil.copytree(CORPUS, target, ignore=shutil.ignore_patterns("eval"))
    return target


def settings_for(tmp: Path, corpus: Path | None = None, **overrides) -> Settings:
    return Settings(corpus_dir=corpus or tmp / "corpus", index_dir=tmp / "index", progress=False).replace(**overrides)


def copy_built(source: Path, target: Path) -> Settings:
    """Settings for a private copy of a corpus and its built index (mtimes kept, so it is current)."""
    from qa.index import CorpusIndex

    shutil.copytree(source / "corpus", target / "corpus")
    shutil.copytree(source / "index", target / "index")
    settings = settings_for(target)
    assert CorpusIndex(settings).status()[0] == "current"
    return settings


@pytest.fixture(scope="session")
def shipped(tmp_path_factory) -> Settings:
    """Settings for a read-only index of the shipped corpus (built once per test session)."""
    root = tmp_path_factory.mktemp("shipped")
    settings = Settings(corpus_dir=CORPUS, index_dir=root / "index", progress=False)
    Assistant(settings).ingest()
    return settings


@pytest.fixture(scope="session")
def assistant(shipped) -> Assistant:
    bot = Assistant(shipped)
    yield bot
    bot.close()


@pytest.fixture()
def corpus_copy(tmp_path) -> Path:
    return copy_corpus(tmp_path / "corpus")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` on 127.0.0.1 and a free port, shared by the session; stopped at its end.
    Every index that uses it makes its own collections (named after its builds)."""
    root = tmp_path_factory.mktemp("chroma-server")
    running = ChromaServer(root / "data", root / "chroma.log")
    running.start()
    yield running
    running.kill()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
