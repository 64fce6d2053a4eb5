"""Chroma server mode (QA_CHROMA_URL), what only a server does: URL checks, a local index refused,
the server going away and coming back. What every store does is in test_store_contract.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from conftest import copy_corpus, settings_for
from helpers import TRT, ChromaServer, edit_trt, expected_chunks

import qa
from qa.assistant import Assistant
from qa.config import ConfigError, Settings, load_settings
from qa.index import CorpusIndex, StoreUnavailable

pytestmark = pytest.mark.slow

QUESTION = "How many Hezbollah fighters had died in Syria?"


def test_chroma_url_is_validated_and_normalised():
    assert Settings(chroma_url=" http://127.0.0.1:8000/ ").chroma_url == "http://127.0.0.1:8000"
    assert load_settings(environ={"QA_CHROMA_URL": "https://chroma.internal:443"}).chroma_url == \
        "https://chroma.internal:443"
    assert Settings().chroma_url == ""
    for bad in ("127.0.0.1:8000", "http://localhost", "ftp://host:21", "http://host:8000/api", "http://host:99999"):
        with pytest.raises(ConfigError, match="chroma_url"):
            Settings(chroma_url=bad)


def test_a_local_index_is_not_used_in_server_mode(chroma_server, shipped, tmp_path):
    server = chroma_server
    shutil.copytree(shipped.index_dir, tmp_path / "index")
    local = replace(shipped, index_dir=tmp_path / "index")
    remote = replace(local, chroma_url=server.url)
    assert CorpusIndex(local).status()[0] == "current"
    state, why = CorpusIndex(remote).status()
    assert state == "incompatible" and "local Chroma store" in why and server.url in why

    with pytest.raises(qa.IndexUnavailable, match="qa ingest"):
        Assistant(remote, auto_ingest=False).ask(QUESTION)

    bot = Assistant(remote)
    try:
        assert bot.ask(QUESTION).citations
        report = bot.last_ingest
        assert report.rebuilt and "local Chroma store" in report.reason
        assert report.embedded == report.chunks == CorpusIndex(shipped).manifest()["chunks"]
    finally:
        bot.close()
    assert CorpusIndex(remote).manifest()["store"]["url"] == server.url
    # ... and the other way round.
    state, why = CorpusIndex(local).status()
    assert state == "incompatible" and f"Chroma server at {server.url}" in why


def test_the_server_going_away_gives_a_clear_error_and_coming_back_restores_service(shipped, tmp_path):
    data = ChromaServer(tmp_path / "chroma-data", tmp_path / "chroma.log")
    data.start()
    try:
        corpus = copy_corpus(tmp_path / "corpus")
        settings = settings_for(tmp_path, corpus, chroma_url=data.url)
        bot = Assistant(settings)
        first = bot.ask(QUESTION)
        assert first.citations and not first.abstained

        data.kill()
        for _ in range(2):  # the failure, then a reconnection that fails as quickly
            started = time.perf_counter()
            with pytest.raises(StoreUnavailable) as failed:
                bot.ask(QUESTION)
            assert time.perf_counter() - started < 5
            message = str(failed.value)
            assert data.url in message and "is not answering" in message
            assert f"chroma run --path <its data folder> --host 127.0.0.1 --port {data.port}" in message
            assert isinstance(failed.value, qa.IndexUnavailable)

        # An update while the server is down fails the same way and changes nothing.
        build = CorpusIndex(settings).current_build()
        edit_trt(corpus)
        with pytest.raises(StoreUnavailable, match="is not answering"):
            bot.ingest()
        assert CorpusIndex(settings).current_build() == build
        assert sorted(p.name for p in build.parent.iterdir()) == [build.name]

        # The command line says so in one line and exits 1.
        env = {**os.environ, "QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(settings.index_dir),
               "QA_PROGRESS": "false", "QA_CHROMA_URL": data.url}
        done = subprocess.run([sys.executable, "-m", "qa.cli", "ask", QUESTION], capture_output=True,
                              text=True, env=env, timeout=300)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr and data.url in done.stderr and "chroma run" in done.stderr

        data.start()  # same port, same data folder; the same Assistant answers again
        again = bot.ask(QUESTION)
        assert again.text == first.text
        where = [(c.path, c.start, c.end) for c in first.citations]
        assert [(c.path, c.start, c.end) for c in again.citations] == where
        report = bot.ingest()
        assert report.updated == [TRT] and report.embedded == expected_chunks(settings, corpus, TRT)
        assert "Zanzibar Spaceport" in bot.ask("Which spaceport did the Iranian troops arrive through?").text
        bot.close()
    finally:
        data.kill()
