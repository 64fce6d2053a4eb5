"""Chroma server mode (QA_CHROMA_URL): a real `chroma run` on 127.0.0.1 holds the vectors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

import qa
from conftest import copy_corpus, settings_for
from helpers import free_port
from qa.assistant import Assistant
from qa.config import ConfigError, Settings, load_settings
from qa.index import CorpusIndex, StoreUnavailable
from test_index import FIVE, GUARDIAN, TRT, collection_contents, edit_trt, expected_chunks

pytestmark = pytest.mark.slow

CHROMA = Path(sys.executable).with_name("chroma")
QUESTIONS = ("How many Hezbollah fighters had died in Syria?",
             "How many IRGC deaths were announced after the operation began on Jan. 31?",
             "Who commands the Quds Force?")


class ChromaServer:
    """`chroma run --path <path> --host 127.0.0.1 --port <port>` as a subprocess."""

    def __init__(self, path: Path, log: Path) -> None:
        self.path, self.log, self.port = path, log, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"chroma run exited with {self.process.returncode}:\n{self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.kill()
        pytest.fail(f"chroma run did not answer within {timeout} s:\n{self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def collections(self) -> dict[str, dict[str, tuple]]:
        """{collection name: {id: (doc_id, text, embedding)}}, read straight from the server."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.HttpClient(host="127.0.0.1", port=self.port,
                                     settings=ChromaSettings(anonymized_telemetry=False))
        try:
            found = {}
            for collection in client.list_collections():
                got = collection.get(include=["documents", "metadatas", "embeddings"])
                found[collection.name] = {
                    i: (m["doc_id"], d, tuple(round(float(x), 6) for x in e))
                    for i, d, m, e in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])}
            return found
        finally:
            client.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("chroma-server")
    running = ChromaServer(root / "data", root / "chroma.log")
    running.start()
    yield running
    running.kill()


def test_chroma_url_is_validated_and_normalised():
    assert Settings(chroma_url=" http://127.0.0.1:8000/ ").chroma_url == "http://127.0.0.1:8000"
    assert load_settings(environ={"QA_CHROMA_URL": "https://chroma.internal:443"}).chroma_url == \
        "https://chroma.internal:443"
    assert Settings().chroma_url == ""
    for bad in ("127.0.0.1:8000", "http://localhost", "ftp://host:21", "http://host:8000/api", "http://host:99999"):
        with pytest.raises(ConfigError, match="chroma_url"):
            Settings(chroma_url=bad)


def test_ingest_into_the_server_and_answer_as_the_local_index_does(server, shipped, assistant, tmp_path):
    settings = replace(shipped, index_dir=tmp_path / "index", chroma_url=server.url)
    index = CorpusIndex(settings)
    assert index.status()[0] == "missing"
    report = index.ingest()
    local = CorpusIndex(shipped)
    assert report.rebuilt and report.reason == "no index yet"
    assert report.chunks == local.manifest()["chunks"] and report.embedded == report.chunks
    build = index.current_build()
    name = f"qa_{build.name}"
    # Only the vectors moved: the manifest, BM25 index and term statistics are local.
    assert sorted(p.name for p in build.iterdir()) == ["bm25", "manifest.json", "terms.json"]
    manifest = index.manifest()
    assert manifest["store"] == {"kind": "http", "url": server.url, "collection": name}
    assert manifest["files"] == local.manifest()["files"]
    assert index.status() == ("current", f"5 files, {report.chunks} chunks")

    stored = server.collections()[name]
    assert {i: v[:2] for i, v in stored.items()} == collection_contents(local.current_build())

    bot = Assistant(settings)
    try:
        for question in QUESTIONS:
            answer, passages = bot.trace(question)
            expected, expected_passages = assistant.trace(question)
            assert [p.chunk_ids for p in passages] == [p.chunk_ids for p in expected_passages], question
            assert answer.citations and answer.text == expected.text
            assert [(c.path, c.start, c.end, c.text) for c in answer.citations] == \
                [(c.path, c.start, c.end, c.text) for c in expected.citations]
    finally:
        bot.close()


def test_an_update_embeds_only_the_changed_file_and_drops_old_collections(server, tmp_path):
    corpus = copy_corpus(tmp_path / "corpus")
    settings = settings_for(tmp_path, corpus, chroma_url=server.url)
    index = CorpusIndex(settings)
    first = index.ingest()
    b1 = index.current_build()
    before = server.collections()[f"qa_{b1.name}"]
    assert len(before) == first.chunks

    edit_trt(corpus)
    assert index.status() == ("stale", f"{TRT} changed")
    second = index.ingest()
    trt_chunks = expected_chunks(settings, corpus, TRT)
    assert second.updated == [TRT] and not second.rebuilt
    assert second.embedded == trt_chunks < second.chunks
    b2 = index.current_build()
    on_server = server.collections()
    # The previous build's collection stays for readers that still have it open.
    assert {f"qa_{b1.name}", f"qa_{b2.name}"} <= set(on_server)
    after = on_server[f"qa_{b2.name}"]
    assert len(after) == second.chunks == index.manifest()["chunks"]
    # Every other file's entries were copied as they were, embeddings included.
    assert {i: v for i, v in after.items() if v[0] != TRT} == {i: v for i, v in before.items() if v[0] != TRT}
    assert any("Zanzibar Spaceport" in text for doc, text, _ in after.values() if doc == TRT)
    assert not any("Hmaymim" in text for _, text, _ in after.values())

    (corpus / GUARDIAN).unlink()
    third = index.ingest()
    assert third.removed == [GUARDIAN] and third.embedded == 0
    b3 = index.current_build()
    on_server = server.collections()
    assert f"qa_{b1.name}" not in on_server and not b1.exists()
    assert {f"qa_{b2.name}", f"qa_{b3.name}"} <= set(on_server)
    assert {v[0] for v in on_server[f"qa_{b3.name}"].values()} == FIVE - {GUARDIAN}

    bot = Assistant(settings)
    try:
        answer = bot.ask("Which spaceport did the Iranian troops arrive through?")
        assert "Zanzibar Spaceport" in answer.text and answer.citations[0].path == TRT
    finally:
        bot.close()


def test_a_local_index_is_not_used_in_server_mode(server, shipped, tmp_path):
    shutil.copytree(shipped.index_dir, tmp_path / "index")
    local = replace(shipped, index_dir=tmp_path / "index")
    remote = replace(local, chroma_url=server.url)
    assert CorpusIndex(local).status()[0] == "current"
    state, why = CorpusIndex(remote).status()
    assert state == "incompatible" and "local Chroma store" in why and server.url in why

    with pytest.raises(qa.IndexUnavailable, match="qa ingest"):
        Assistant(remote, auto_ingest=False).ask(QUESTIONS[0])

    bot = Assistant(remote)
    try:
        assert bot.ask(QUESTIONS[0]).citations
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
        first = bot.ask(QUESTIONS[0])
        assert first.citations and not first.abstained

        data.kill()
        for _ in range(2):  # the failure, then a reconnection that fails as quickly
            started = time.perf_counter()
            with pytest.raises(StoreUnavailable) as failed:
                bot.ask(QUESTIONS[0])
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
        done = subprocess.run([sys.executable, "-m", "qa.cli", "ask", QUESTIONS[0]], capture_output=True,
                              text=True, env=env, timeout=300)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr and data.url in done.stderr and "chroma run" in done.stderr

        data.start()  # same port, same data folder; the same Assistant answers again
        again = bot.ask(QUESTIONS[0])
        assert again.text == first.text
        assert [(c.path, c.start, c.end) for c in again.citations] == [(c.path, c.start, c.end) for c in first.citations]
        report = bot.ingest()
        assert report.updated == [TRT] and report.embedded == expected_chunks(settings, corpus, TRT)
        assert "Zanzibar Spaceport" in bot.ask("Which spaceport did the Iranian troops arrive through?").text
        bot.close()
    finally:
        data.kill()
