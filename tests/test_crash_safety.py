"""Crash safety: ingests killed with SIGKILL at seeded random moments, and damaged or
hand-edited manifests. The index must always open and answer (or be reported missing),
and the next ingest must complete it."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CORPUS, copy_built, copy_corpus, settings_for

from qa.assistant import Assistant
from qa.citations import verify_quotes as verify
from qa.embedding import load_embedder
from qa.errors import IndexUnavailable
from qa.index import CorpusIndex

TRT = "trtworld-2015-10-iranian-troops-mobilise-for-aleppo.txt"
GUARDIAN = "guardian-2016-12-14-iran-hails-victory-in-aleppo.txt"
AIRPORT = "Through which airport did the Iranian troops arrive in Syria?"
SEED = 20240611

# Loads everything an ingest needs, says "ready", then ingests: the kill lands in the ingest
# itself (reading, chunking, embedding, writing Chroma and BM25, the manifest, the swap),
# not in importing torch.
WORKER = """
import sys
from pathlib import Path

import chromadb, llama_index.retrievers.bm25, llama_index.vector_stores.chroma  # noqa: F401
from qa.config import Settings
from qa.embedding import load_embedder
from qa.index import CorpusIndex

load_embedder()
settings = Settings(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]), progress=False)
print("ready", flush=True)
CorpusIndex(settings).ingest(rebuild=sys.argv[3] == "rebuild")
print("done", flush=True)
"""


def kill_ingest(settings, delay: float, mode: str) -> str:
    """Start an ingest in another process and SIGKILL it `delay` seconds into the ingest.
    Returns 'killed', or 'done' when it finished first."""
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(settings.corpus_dir), str(settings.index_dir), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    try:
        ready = proc.stdout.readline().strip()
        if ready != "ready":
            proc.kill()
            pytest.fail(f"the ingest worker did not start: {proc.communicate(timeout=60)[1][-2000:]}")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode == 0:
        assert "done" in out
        return "done"
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    return "killed"


def edit_corpus(corpus: Path) -> None:
    """A changed file, a new file and a removed file."""
    path = corpus / TRT
    text = path.read_text(encoding="utf-8")
    assert text.count("Hmaymim Airport") == 1
    path.write_text(text.replace("Hmaymim Airport", "Zanzibar Spaceport"), encoding="utf-8")
    (corpus / "depot.txt").write_text("Depot log\n\nThe quartermaster counted forty-two camels at the Palmyra "
                                      "depot on Tuesday.\n", encoding="utf-8")
    (corpus / GUARDIAN).unlink()


def answer_text(settings) -> str:
    """The airport answer from a fresh reader that may not write (no ingest on its own)."""
    answer = Assistant(settings.replace(auto_ingest=False)).ask(AIRPORT)
    verify(answer)
    return answer.text


def assert_usable(settings, old: str, new: str) -> str:
    """The index has one complete current build, nobody holds the writer lock, and it answers
    with the old build's answer or the new one's."""
    index = CorpusIndex(settings)
    build = index.current_build()
    assert build is not None and not build.name.endswith(".partial")
    assert (Path(settings.index_dir) / "CURRENT").read_text(encoding="utf-8").strip() == build.name
    assert index.manifest() is not None
    assert index.status()[0] in ("stale", "current")
    with index._write_lock():  # a killed writer's lock died with it
        pass
    text = answer_text(settings)
    assert text in (old, new), text
    return "old" if text == old else "new"


@pytest.mark.slow
def test_ingests_killed_at_random_moments_leave_an_index_that_answers_and_the_next_ingest_completes(tmp_path):
    corpus = copy_corpus(tmp_path / "corpus")
    settings = settings_for(tmp_path, corpus, index_dir=tmp_path / "index")
    load_embedder()  # loaded before timing, as the worker does before it says "ready"
    started = time.perf_counter()
    CorpusIndex(settings).ingest()  # the previous build, and how long a full build takes here
    full = time.perf_counter() - started
    old = answer_text(settings)
    assert "Hmaymim Airport" in old

    edit_corpus(corpus)
    reference = settings.replace(index_dir=tmp_path / "reference")
    shutil.copytree(settings.index_dir, reference.index_dir)
    started = time.perf_counter()
    assert CorpusIndex(reference).ingest().updated == [TRT]
    incremental = time.perf_counter() - started
    new = answer_text(reference)
    assert "Zanzibar Spaceport" in new and new != old

    # Four delays, one in each quarter of a slightly stretched ingest time (so that the last
    # steps, the swap and the clean-up, can be hit too), in seeded random order.
    rng = random.Random(SEED)
    fractions = [rng.uniform(i, i + 1) * 1.2 / 4 for i in range(4)]
    rng.shuffle(fractions)
    outcomes = []

    # 1. The very first build is killed: the index is missing, cleanly, or complete.
    fresh = settings.replace(index_dir=tmp_path / "fresh")
    outcome = kill_ingest(fresh, fractions[0] * full, "update")
    state = CorpusIndex(fresh).status()[0]
    outcomes.append(("first build", round(fractions[0] * full, 2), outcome, state))
    if CorpusIndex(fresh).current_build() is None:
        assert state == "missing"
        with pytest.raises(IndexUnavailable, match="qa ingest"):
            Assistant(fresh.replace(auto_ingest=False)).ask(AIRPORT)
    else:
        assert state == "current" and answer_text(fresh) == new
    report = CorpusIndex(fresh).ingest()
    assert CorpusIndex(fresh).status()[0] == "current" and answer_text(fresh) == new
    assert report.chunks == CorpusIndex(reference).manifest()["chunks"]

    # 2-4. Updates of an index that has a build: incremental ones, then a full rebuild.
    for fraction, mode in zip(fractions[1:], ("update", "update", "rebuild")):
        delay = fraction * (incremental if mode == "update" else full)
        outcome = kill_ingest(settings, delay, mode)
        seen = assert_usable(settings, old, new)
        outcomes.append((mode, round(delay, 2), outcome, seen))
        if outcome == "done":
            assert seen == "new"

    print("kills (mode, delay s, outcome, answer after):", outcomes)
    report = CorpusIndex(settings).ingest()
    assert CorpusIndex(settings).status()[0] == "current"
    assert answer_text(settings) == new
    manifest = CorpusIndex(settings).manifest()
    assert set(manifest["files"]) == set(CorpusIndex(reference).manifest()["files"])
    assert manifest["chunks"] == CorpusIndex(reference).manifest()["chunks"] == report.chunks
    # Nothing a killed writer left behind survives the ingest that follows it.
    root = Path(settings.index_dir)
    assert {p.name for p in root.iterdir()} <= {"CURRENT", ".lock", "builds", "models"}
    # models/ keeps the embedding model's ONNX export: whole, with no staging folder of a killed one.
    exports = list((root / "models").iterdir()) if (root / "models").exists() else []
    assert all(p.name.startswith("minilm-onnx-") and (p / "model.onnx").is_file() for p in exports), exports
    builds = [p.name for p in (root / "builds").iterdir()]
    assert not [b for b in builds if b.endswith(".partial")] and len(builds) <= 2, builds


# Damaged and hand-edited manifests -----------------------------------------------------

@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """A two-file corpus and its index, built once; tests work on copies (rebuilds are cheap)."""
    root = tmp_path_factory.mktemp("small")
    (root / "corpus").mkdir()
    for name in (TRT, TRT + ".meta.json"):
        shutil.copy2(CORPUS / name, root / "corpus" / name)
    (root / "corpus" / "depot.txt").write_text("Depot log\n\nThe quartermaster counted forty-two camels at the "
                                               "Palmyra depot on Tuesday.\n", encoding="utf-8")
    CorpusIndex(settings_for(root)).ingest()
    return root


@pytest.fixture()
def small_copy(small, tmp_path):
    return copy_built(small, tmp_path)


def _edit(mutate):
    def apply(text: str) -> str:
        data = json.loads(text)
        mutate(data)
        return json.dumps(data)
    return apply


DAMAGE = {
    "truncated": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "not UTF-8": lambda text: "\udcff" + text,  # written with surrogateescape: a 0xff byte
    "a file entry that is a string": _edit(lambda d: d["files"].update({TRT: "0" * 64})),
    "a size that is text": _edit(lambda d: d["files"][TRT].update(size=str(d["files"][TRT]["size"]))),
    "a chunk count that is text": _edit(lambda d: d.update(chunks="many")),
    "skipped files as a list": _edit(lambda d: d.update(skipped=["x"])),
    "a file entry removed": _edit(lambda d: d["files"].pop(TRT)),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_manifest_is_a_clear_error_and_the_next_ingest_rebuilds(small_copy, damage):
    index = CorpusIndex(small_copy)
    build = index.current_build()
    path = build / "manifest.json"
    path.write_bytes(DAMAGE[damage](path.read_text(encoding="utf-8")).encode("utf-8", "surrogateescape"))

    for call in (index.status, lambda: Assistant(small_copy).ask(AIRPORT)):
        with pytest.raises(IndexUnavailable) as error:
            call()
        message = str(error.value)
        assert f"the index manifest {path} is unreadable (" in message
        assert message.endswith("rebuild it with: qa ingest --rebuild")

    report = index.ingest()
    assert report.rebuilt and report.reason == "unreadable manifest"
    assert sorted(report.added) == ["depot.txt", TRT] and report.build != build.name
    assert index.status()[0] == "current"
    answer = Assistant(small_copy).ask(AIRPORT)
    verify(answer)
    assert "Hmaymim Airport" in answer.text


def test_a_removed_file_entry_does_not_leave_its_old_chunks_behind(small_copy):
    """The entry of an edited file is removed by hand: the rebuild holds only the new text."""
    index = CorpusIndex(small_copy)
    path = index.current_build() / "manifest.json"
    path.write_text(_edit(lambda d: d["files"].pop(TRT))(path.read_text(encoding="utf-8")), encoding="utf-8")
    trt = Path(small_copy.corpus_dir) / TRT
    trt.write_text(trt.read_text(encoding="utf-8").replace("Hmaymim Airport", "Zanzibar Spaceport"),
                   encoding="utf-8")
    index.ingest()
    answer = Assistant(small_copy).ask(AIRPORT)
    verify(answer)
    assert "Zanzibar Spaceport" in answer.text
    assert not any("Hmaymim" in c.text for c in answer.citations)


def test_current_naming_a_build_that_is_not_there_is_reported_missing_and_rebuilt(small_copy):
    root = Path(small_copy.index_dir)
    (root / "CURRENT").write_text("20990101T000000-deadbeef\n", encoding="utf-8")
    index = CorpusIndex(small_copy)
    assert index.status() == ("missing", f"no index in {root}")
    with pytest.raises(IndexUnavailable, match="qa ingest"):
        Assistant(small_copy.replace(auto_ingest=False)).ask(AIRPORT)
    report = index.ingest()
    assert report.rebuilt and index.status()[0] == "current"
    verify(Assistant(small_copy).ask(AIRPORT))


def test_what_killed_writers_leave_behind_is_cleared_by_the_next_ingest_even_with_nothing_to_do(small_copy):
    index = CorpusIndex(small_copy)
    root = Path(small_copy.index_dir)
    builds = root / "builds"
    current = index.current_build()
    # What writers killed at different moments leave: an unfinished build, older builds that
    # were still to be removed after a swap, and a pointer written but not yet renamed.
    shutil.copytree(current, builds / "20991231T235959-0badf00d.partial")
    shutil.copytree(current, builds / "20000101T000000-00000001")
    shutil.copytree(current, builds / "20000102T000000-00000002")
    (root / ".CURRENT.999999.tmp").write_text("20991231T235959-0badf00d", encoding="utf-8")

    report = index.ingest()
    assert not report.changed and report.embedded == 0 and report.build == current.name
    # The current build and the newest older one (readers may still have it open) are kept.
    assert sorted(p.name for p in builds.iterdir()) == ["20000102T000000-00000002", current.name]
    # models/ is the cached ONNX export of the embedding model, kept across builds.
    assert {p.name for p in root.iterdir()} - {"models"} == {"CURRENT", ".lock", "builds"}
    assert index.status()[0] == "current"
    verify(Assistant(small_copy).ask(AIRPORT))


def _qa(*args: str, settings) -> subprocess.CompletedProcess:
    env = {**os.environ, "QA_CORPUS_DIR": str(settings.corpus_dir), "QA_INDEX_DIR": str(settings.index_dir),
           "QA_PROGRESS": "false"}
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.slow
def test_the_cli_explains_a_broken_manifest_and_qa_ingest_repairs_it(small_copy):
    path = CorpusIndex(small_copy).current_build() / "manifest.json"
    path.write_text(path.read_text(encoding="utf-8")[:100], encoding="utf-8")

    asked = _qa("ask", AIRPORT, settings=small_copy)
    assert asked.returncode == 1 and "Traceback" not in asked.stderr
    assert f"qa: the index manifest {path} is unreadable (" in asked.stderr
    assert "rebuild it with: qa ingest --rebuild" in asked.stderr

    ingested = _qa("ingest", settings=small_copy)
    assert ingested.returncode == 0, ingested.stderr
    assert "Traceback" not in ingested.stderr
    assert f"qa: the index manifest {path} is unreadable (" in ingested.stderr
    assert "rebuilding the index from the corpus" in ingested.stderr
    assert ingested.stdout.startswith("index rebuilt (unreadable manifest): ")
    answer = Assistant(small_copy).ask(AIRPORT)
    verify(answer)
    assert "Hmaymim Airport" in answer.text
