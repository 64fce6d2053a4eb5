"""Chroma refuses an add above its maximum batch size (5,461 with chromadb 1.5), and
llama-index's ChromaVectorStore.add sends up to 41,665 at once: a corpus of more than
5,461 chunks could not be indexed. Ingest now adds in batches Chroma accepts."""

from __future__ import annotations

from chromadb.api.models.Collection import Collection

import qa.index
from conftest import settings_for
from qa.index import COLLECTION, CorpusIndex, chroma_client

LIMIT = 7  # stands in for Chroma's 5,461: the 49 chunks of the shipped corpus cross it


def test_ingest_adds_chunks_in_batches_chroma_accepts(tmp_path, corpus_copy, monkeypatch):
    real_add = Collection.add
    sizes: list[int] = []

    def add(self, ids, *args, **kwargs):
        sizes.append(len(ids))
        if len(ids) > LIMIT:
            raise ValueError(f"Batch size of {len(ids)} is greater than max batch size of {LIMIT}")
        return real_add(self, ids, *args, **kwargs)

    monkeypatch.setattr(Collection, "add", add)
    monkeypatch.setattr(qa.index, "_max_batch_size", lambda collection: LIMIT)
    report = CorpusIndex(settings_for(tmp_path)).ingest()

    assert report.chunks == report.embedded > LIMIT
    assert max(sizes) <= LIMIT and sum(sizes) == report.chunks
    build = CorpusIndex(settings_for(tmp_path)).current_build()
    client = chroma_client(build / "chroma")
    try:
        assert client.get_collection(COLLECTION).count() == report.chunks
    finally:
        client.close()


def test_the_batch_size_is_chromas_own_maximum(tmp_path):
    client = chroma_client(tmp_path / "chroma")
    try:
        collection = client.get_or_create_collection("batch-size")
        assert qa.index._max_batch_size(collection) == client.get_max_batch_size() > 1000
    finally:
        client.close()
