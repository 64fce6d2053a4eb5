"""Helpers shared by the test modules: free ports, a real `chroma run` server, facts about the corpus."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from qa.chunking import chunk_document
from qa.corpus import load_document

REPO = Path(__file__).resolve().parents[1]
# The venv's `chroma` console script, next to the interpreter running the tests (not resolved:
# a venv's bin/python is a symlink to the base interpreter, whose folder has no `chroma`).
CHROMA = Path(sys.executable).with_name("chroma")

TRT = "trtworld-2015-10-iranian-troops-mobilise-for-aleppo.txt"
GUARDIAN = "guardian-2016-12-14-iran-hails-victory-in-aleppo.txt"
FIVE = {
    "alavi-2015-12-inside-irans-secret-war-in-syria.txt",
    "almonitor-2016-05-iranian-officials-blame-aleppo-ceasefire-violations.txt",
    GUARDIAN,
    "longwarjournal-2016-02-irgc-involvement-in-battle-for-aleppo.txt",
    TRT,
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picks it; it may be taken again
    before the caller binds it, which only ever happens under heavy port churn)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def edit_trt(corpus: Path) -> None:
    path = corpus / TRT
    text = path.read_text(encoding="utf-8")
    assert text.count("Hmaymim Airport") == 1
    path.write_text(text.replace("Hmaymim Airport", "Zanzibar Spaceport"), encoding="utf-8")


def expected_chunks(settings, corpus: Path, doc_id: str) -> int:
    doc = load_document(corpus / doc_id, corpus)
    return len(chunk_document(doc, settings.chunk_tokens, settings.chunk_overlap_tokens))


class ChromaServer:
    """`chroma run --path <path> --host 127.0.0.1 --port <port>` as a subprocess."""

    def __init__(self, path: Path, log: Path) -> None:
        if not CHROMA.is_file():
            pytest.fail(f"the chroma command is not at {CHROMA}: install the project (pip install -e .) "
                        f"into the environment of {sys.executable}")
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

    def collection_names(self) -> set[str]:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.HttpClient(host="127.0.0.1", port=self.port,
                                     settings=ChromaSettings(anonymized_telemetry=False))
        try:
            return {collection.name for collection in client.list_collections()}
        finally:
            client.close()


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def start_app(root: Path, corpus: Path | None = None, **env: str) -> tuple[subprocess.Popen, str, Path]:
    """`python app.py` over `corpus` (by default a copy of the shipped one in root), on a free
    port; returns once it serves. Gradio's temporary files go to root/gradio-tmp; the log is
    root/app.log."""
    if corpus is None:
        corpus = root / "corpus"
        shutil.copytree(REPO / "corpus", corpus, ignore=shutil.ignore_patterns("eval"))
    port = free_port()
    environ = {**os.environ, "QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(root / "index"),
               "QA_PORT": str(port), "QA_PROGRESS": "false", "GRADIO_TEMP_DIR": str(root / "gradio-tmp"), **env}
    log_path = root / "app.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, str(REPO / "app.py")], env=environ, stdout=log,
                                   stderr=log, cwd=root)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log_path.read_text())
        try:
            if http_status(url) == 200:
                return process, url, corpus
        except OSError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("the app did not start:\n" + log_path.read_text())


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=30)


@contextmanager
def index_lock_held(corpus: Path, index_dir: Path) -> Iterator[subprocess.Popen]:
    """Another process holding the index's write lock (as a running `qa ingest` does) until
    the block ends; yields that process (its pid is in the refusal's message)."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys\nfrom qa.config import Settings\nfrom qa.index import CorpusIndex\n"
         "index = CorpusIndex(Settings(corpus_dir=sys.argv[1], index_dir=sys.argv[2], progress=False))\n"
         "with index._write_lock():\n    print('locked', flush=True)\n    sys.stdin.read()\n",
         str(corpus), str(index_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(60)


def sse_events(stream: str) -> list[tuple[str, dict]]:
    """(event name, data) of each server-sent event, as a client reads them."""
    parsed = []
    for block in stream.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        parsed.append((fields["event"], json.loads(fields["data"])))
    return parsed
