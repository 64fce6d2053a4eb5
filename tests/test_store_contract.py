"""What every vector store behind an index must do, checked against each one: a local Chroma folder
per build, and a real `chroma run` server (QA_CHROMA_URL) with a collection per build.

Behaviour only one store has (a server going away, URL checks, a local index refused in server
mode) is in test_index.py and test_chroma_server.py.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_built, copy_corpus, settings_for
from helpers import FIVE, GUARDIAN, TRT, ChromaServer, edit_trt, expected_chunks

from qa.assistant import Assistant
from qa.embedding import load_embedder
from qa.index import CorpusIndex, all_nodes
from qa.store import close_client

QUESTIONS = ("How many Hezbollah fighters had died in Syria?",
             "How many IRGC deaths were announced after the operation began on Jan. 31?",
             "Who commands the Quds Force?")
SPACEPORT = "Which spaceport did the Iranian troops arrive through?"

# How far a copied embedding may be from the one it was copied from, in float32 units in the last
# place. A local build starts as a byte copy of the previous build's folder: exact. A server build
# starts as a copy made over HTTP (qa.store.copy_collection: get, then add). The HTTP transport is
# exact (floats go out as base64 float32 and come back as the shortest decimal of each float32,
# which parses back to the same float32), but a Chroma server normalises every vector it is given
# for a cosine collection, and float32 normalisation is not idempotent: dividing a unit vector by
# its float32 norm (1 +- a few epsilon) moves some components by one unit in the last place.
# Measured on the shipped corpus (49 chunks x 384): one copy changed 1046 components in 5 chunks,
# each by exactly 1 ulp (at most 2e-8); vectors added twice from the same numbers are stored
# identically. Rounding to 6 decimals, as this comparison once did, does not hide a 1-ulp change
# that crosses a rounding boundary (0.0464275 -> float32 0.046427499503 vs 0.046427503228 after
# the copy: 0.046427 vs 0.046428), so the old check failed whenever such a component existed.
SERVER_COPY_MAX_ULP = 4


@dataclass
class StoreUnderTest:
    kind: str  # "local" or "server"
    server: ChromaServer | None = None

    @property
    def url(self) -> str:
        return self.server.url if self.server else ""

    def settings(self, root: Path, corpus: Path | None = None):
        return settings_for(root, corpus, chroma_url=self.url)

    def entries(self, index: CorpusIndex, build: Path) -> dict[str, tuple[str, str, np.ndarray]]:
        """{chunk id: (doc_id, text, embedding)} of a build's vectors; doc_id and text read as qa reads them."""
        client = index.store.open_client(build)
        try:
            collection = client.get_collection(index.store.collection_name(build.name))
            nodes = all_nodes(collection)
            assert len(nodes) == collection.count()
            got = collection.get(include=["embeddings"])
            vectors = {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"])}
            assert len(vectors) == len(nodes)
            return {n.node_id: (n.metadata["doc_id"], n.get_content(), vectors[n.node_id]) for n in nodes}
        finally:
            close_client(client)

    def nearest(self, index: CorpusIndex, build: Path, question: str) -> str:
        """The document of the chunk whose stored embedding is nearest to the question's."""
        vector = load_embedder().get_query_embedding(question)
        client = index.store.open_client(build)
        try:
            collection = client.get_collection(index.store.collection_name(build.name))
            got = collection.query(query_embeddings=[vector], n_results=1, include=["metadatas"])
            return got["metadatas"][0][0]["doc_id"]
        finally:
            close_client(client)

    def has_vectors(self, index: CorpusIndex, build: Path) -> bool:
        if self.server:
            return f"qa_{build.name}" in self.server.collection_names()
        return (build / "chroma").is_dir()

    def collections(self) -> set[str]:
        """Every collection on the server (nothing for local folders: they live in the builds)."""
        return self.server.collection_names() if self.server else set()

    def build_files(self) -> list[str]:
        """What a build folder holds: a server build has everything but the vectors."""
        return ["bm25", "manifest.json", "terms.json"] if self.server else ["bm25", "chroma", "manifest.json",
                                                                              "terms.json"]

    def record(self, index: CorpusIndex, build: Path) -> dict[str, str]:
        if self.server:
            return {"kind": "http", "url": self.url, "collection": f"qa_{build.name}"}
        return {"kind": "local", "path": "chroma", "collection": "qa_chunks"}


def text_of(entries) -> dict[str, tuple[str, str]]:
    return {i: (doc_id, text) for i, (doc_id, text, _) in entries.items()}


def assert_copied(after: dict, before: dict, store: StoreUnderTest) -> None:
    """The same entries: ids, documents and texts equal; embeddings as close as the store's copy
    keeps them (see SERVER_COPY_MAX_ULP)."""
    assert text_of(after) == text_of(before)
    for chunk_id, (_, _, vector) in before.items():
        if store.server:
            np.testing.assert_array_max_ulp(after[chunk_id][2], vector, maxulp=SERVER_COPY_MAX_ULP)
        else:
            assert np.array_equal(after[chunk_id][2], vector), chunk_id


@pytest.fixture(scope="module", params=["local", pytest.param("server", marks=pytest.mark.slow)])
def store(request) -> StoreUnderTest:
    if request.param == "server":
        return StoreUnderTest("server", request.getfixturevalue("chroma_server"))
    return StoreUnderTest("local")


@pytest.fixture(scope="module")
def base(store, tmp_path_factory) -> Path | None:
    """For the local store: a corpus copy and its index, built once; tests work on copies of both."""
    if store.server:
        return None
    root = tmp_path_factory.mktemp("base")
    report = CorpusIndex(store.settings(root, copy_corpus(root / "corpus"))).ingest()
    assert report.rebuilt and report.reason == "no index yet"
    return root


@pytest.fixture()
def built(store, base, tmp_path):
    """Settings for a private, built index of a corpus copy. Local: a copy of the module's build
    (mtimes kept). Server: built afresh, as builds on a server cannot be copied by copying folders."""
    if base is not None:
        return copy_built(base, tmp_path)
    settings = store.settings(tmp_path, copy_corpus(tmp_path / "corpus"))
    report = CorpusIndex(settings).ingest()
    assert report.rebuilt and report.reason == "no index yet"
    assert CorpusIndex(settings).status()[0] == "current"
    return settings


def test_first_ingest_builds_answers_as_the_reference_index_and_the_next_embeds_nothing(
        store, shipped, assistant, tmp_path, corpus_copy):
    settings = store.settings(tmp_path, corpus_copy)
    index = CorpusIndex(settings)
    assert index.status()[0] == "missing" and index.current_build() is None

    first = index.ingest()
    assert first.rebuilt and first.changed and first.reason == "no index yet"
    assert sorted(first.added) == sorted(FIVE) and not first.skipped
    assert first.chunks > 0 and first.embedded == first.chunks
    assert first.chunks == sum(expected_chunks(settings, corpus_copy, d) for d in FIVE)
    build = index.current_build()
    assert build is not None and build.name == first.build
    assert (tmp_path / "index" / "CURRENT").read_text().strip() == first.build
    assert sorted(p.name for p in build.iterdir()) == store.build_files()
    manifest = index.manifest()
    assert manifest["store"] == store.record(index, build)
    contents = store.entries(index, build)
    assert len(contents) == first.chunks
    assert {doc_id for doc_id, _, _ in contents.values()} == FIVE
    assert any("Hmaymim Airport" in text for _, text, _ in contents.values())
    assert index.status() == ("current", f"5 files, {first.chunks} chunks")

    # The same chunks, files and answers as the session's local index of the shipped corpus.
    reference = CorpusIndex(shipped)
    assert first.chunks == reference.manifest()["chunks"]
    assert manifest["files"] == reference.manifest()["files"]
    assert text_of(contents) == text_of(store.entries(reference, reference.current_build()))
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

    second = CorpusIndex(settings).ingest()
    assert second.embedded == 0 and not second.changed and not second.rebuilt
    assert sorted(second.unchanged) == sorted(FIVE) and second.chunks == first.chunks
    assert index.current_build() == build and second.build == build.name
    assert index.status()[0] == "current"


def test_a_touched_but_unchanged_file_is_not_reembedded(built):
    index = CorpusIndex(built)
    build = index.current_build()
    os.utime(Path(built.corpus_dir) / TRT, ns=(1_000_000_000, 1_000_000_000))
    assert index.status() == ("stale", f"{TRT} changed")
    report = index.ingest()
    assert report.embedded == 0 and not report.changed
    assert index.current_build() == build
    assert index.manifest()["files"][TRT]["mtime_ns"] == 1_000_000_000
    assert index.status()[0] == "current"


def test_an_update_embeds_only_the_changed_file_and_keeps_the_previous_build(store, built):
    corpus = Path(built.corpus_dir)
    index = CorpusIndex(built)
    build = index.current_build()
    before = store.entries(index, build)
    old_manifest = index.manifest()
    assert len(before) == old_manifest["chunks"]

    edit_trt(corpus)
    assert index.status() == ("stale", f"{TRT} changed")
    report = index.ingest()
    trt_chunks = expected_chunks(built, corpus, TRT)
    assert report.updated == [TRT] and not report.added and not report.removed and not report.rebuilt
    assert report.embedded == trt_chunks < report.chunks
    new_build = index.current_build()
    assert new_build != build and new_build.name == report.build
    manifest = index.manifest()
    assert manifest["files"][TRT]["sha256"] != old_manifest["files"][TRT]["sha256"]
    assert manifest["files"][TRT]["chunks"] == trt_chunks
    assert index.status()[0] == "current"
    # The previous build is kept untouched for readers that still have it open.
    assert store.has_vectors(index, build)
    after_old = store.entries(index, build)
    assert text_of(after_old) == text_of(before)
    assert all(np.array_equal(after_old[i][2], v) for i, (_, _, v) in before.items())

    after = store.entries(index, new_build)
    assert len(after) == report.chunks == manifest["chunks"]
    trt_texts = [text for doc_id, text, _ in after.values() if doc_id == TRT]
    assert any("Zanzibar Spaceport" in text for text in trt_texts)
    assert store.nearest(index, new_build, SPACEPORT) == TRT
    # Chunks of the other files are the very same entries as before, embeddings included.
    assert_copied({i: v for i, v in after.items() if v[0] != TRT}, {i: v for i, v in before.items() if v[0] != TRT},
                  store)

    bot = Assistant(built)
    try:
        answer = bot.ask(SPACEPORT)
        assert "Zanzibar Spaceport" in answer.text and answer.citations[0].path == TRT
    finally:
        bot.close()


def test_editing_a_file_replaces_its_old_chunks(store, built):
    index = CorpusIndex(built)
    edit_trt(Path(built.corpus_dir))
    report = index.ingest()
    after = store.entries(index, index.current_build())
    assert not any("Hmaymim" in text for _, text, _ in after.values()), "the edited-out text is still indexed"
    assert len([d for d, _, _ in after.values() if d == TRT]) == expected_chunks(built, Path(built.corpus_dir), TRT)
    assert len(after) == report.chunks == index.manifest()["chunks"] == \
        sum(e["chunks"] for e in index.manifest()["files"].values())


def test_deleting_a_file_removes_its_chunks(store, built):
    index = CorpusIndex(built)
    before = index.manifest()
    guardian_chunks = before["files"][GUARDIAN]["chunks"]
    assert guardian_chunks > 0
    (Path(built.corpus_dir) / GUARDIAN).unlink()
    assert index.status() == ("stale", "files were added or removed")
    report = index.ingest()
    assert report.removed == [GUARDIAN] and report.embedded == 0
    assert GUARDIAN not in index.manifest()["files"]
    assert index.status()[0] == "current"
    after = store.entries(index, index.current_build())
    assert GUARDIAN not in {doc_id for doc_id, _, _ in after.values()}
    assert {doc_id for doc_id, _, _ in after.values()} == FIVE - {GUARDIAN}
    assert report.chunks == len(after) == before["chunks"] - guardian_chunks


def test_builds_older_than_the_previous_are_dropped_with_their_vectors(store, built):
    corpus = Path(built.corpus_dir)
    index = CorpusIndex(built)
    b1 = index.current_build()
    edit_trt(corpus)
    index.ingest()
    b2 = index.current_build()
    assert store.has_vectors(index, b1) and store.has_vectors(index, b2)

    (corpus / GUARDIAN).unlink()
    third = index.ingest()
    assert third.removed == [GUARDIAN] and third.embedded == 0
    b3 = index.current_build()
    assert not b1.exists() and not store.has_vectors(index, b1)
    assert store.has_vectors(index, b2) and store.has_vectors(index, b3)
    assert sorted(p.name for p in index.builds_dir.iterdir()) == sorted([b2.name, b3.name])
    assert {v[0] for v in store.entries(index, b3).values()} == FIVE - {GUARDIAN}


def test_adding_a_file_adds_it(store, built):
    corpus = Path(built.corpus_dir)
    index = CorpusIndex(built)
    before = index.manifest()["chunks"]
    extra = corpus / "notes" / "field-report.txt"
    extra.parent.mkdir()
    extra.write_text("Field report\n\nThe quartermaster counted forty-two camels at the Palmyra depot "
                     "on Tuesday. Each camel carried two crates of lentils.\n", encoding="utf-8")
    extra.with_name(extra.name + ".meta.json").write_text(
        json.dumps({"title": "Camel census", "publisher": "Depot Gazette"}), encoding="utf-8")
    assert index.status() == ("stale", "files were added or removed")
    report = index.ingest()
    assert report.added == ["notes/field-report.txt"] and report.embedded == 1
    assert sorted(report.unchanged) == sorted(FIVE)
    assert report.chunks == before + 1 == index.manifest()["chunks"]
    entry = index.manifest()["files"]["notes/field-report.txt"]
    assert entry["title"] == "Camel census" and entry["publisher"] == "Depot Gazette" and entry["chunks"] == 1
    after = store.entries(index, index.current_build())
    assert [t for d, t, _ in after.values() if d == "notes/field-report.txt"] == [
        "Field report\n\nThe quartermaster counted forty-two camels at the Palmyra depot on Tuesday. "
        "Each camel carried two crates of lentils."]
    assert store.nearest(index, index.current_build(), "How many camels were counted at the depot?") == \
        "notes/field-report.txt"
    assert index.status()[0] == "current"


def test_an_interrupted_build_leaves_the_previous_index_usable(store, built, monkeypatch):
    settings = built
    corpus = Path(settings.corpus_dir)
    index = CorpusIndex(settings)
    old_build = index.current_build()
    old_chunks = index.manifest()["chunks"]
    old_contents = store.entries(index, old_build)
    assert len(old_contents) == old_chunks
    collections = store.collections()

    edit_trt(corpus)
    calls = []

    def crash(self, nodes):
        calls.append(len(nodes))
        raise RuntimeError("simulated crash while embedding")

    monkeypatch.setattr(CorpusIndex, "_embed", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        CorpusIndex(settings).ingest()
    assert calls == [expected_chunks(settings, corpus, TRT)]

    assert (Path(settings.index_dir) / "CURRENT").read_text().strip() == old_build.name
    assert index.current_build() == old_build
    assert index.manifest()["chunks"] == old_chunks
    current = store.entries(index, old_build)
    assert text_of(current) == text_of(old_contents)
    assert all(np.array_equal(current[i][2], v) for i, (_, _, v) in old_contents.items())
    assert not any("Zanzibar" in t for _, t, _ in old_contents.values())
    assert not list(index.builds_dir.glob("*.partial"))
    assert sorted(p.name for p in index.builds_dir.iterdir()) == [old_build.name]
    assert store.collections() == collections  # the unfinished build's collection was deleted
    assert index.status() == ("stale", f"{TRT} changed")

    monkeypatch.undo()
    report = CorpusIndex(settings).ingest()
    assert report.updated == [TRT] and report.embedded == calls[0]
    assert any("Zanzibar Spaceport" in t for _, t, _ in store.entries(index, index.current_build()).values())
    assert index.status()[0] == "current"

