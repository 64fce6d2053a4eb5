"""Chroma refuses an add above its maximum batch size (5,461 with chromadb 1.5), and
llama-index's ChromaVectorStore.add sends up to 41,665 at once: a corpus of more than
5,461 chunks could not be indexed. Ingest now adds in batches Chroma accepts."""

from __future__ import annotations

import pytest
from chromadb.api.models.Collection import Collection
from conftest import settings_for

import qa.index
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


@pytest.mark.slow
def test_every_chunk_is_read_back_from_a_store_past_sqlites_limit(tmp_path):
    # One get() of a whole collection fails beyond SQLite's 32,766 variables ("too many SQL
    # variables"): the 100k-chunk benchmark build failed there, after all its embedding.
    from llama_index.core.schema import TextNode
    from llama_index.vector_stores.chroma import ChromaVectorStore

    count = 33_000
    client = chroma_client(tmp_path / "chroma")
    try:
        collection = client.get_or_create_collection(COLLECTION)
        nodes = [TextNode(text=f"chunk {i}", id_=f"n{i}", embedding=[0.1, float(i % 7)],
                          metadata={"doc_id": f"d{i // 10:05d}", "chunk_index": i % 10}) for i in range(count)]
        store, batch = ChromaVectorStore(chroma_collection=collection), qa.index._max_batch_size(collection)
        for start in range(0, count, batch):
            store.add(nodes[start:start + batch])
        with pytest.raises(Exception, match="too many SQL variables"):
            collection.get(include=["documents", "metadatas"])  # chromadb alone
        read = qa.index.all_nodes(collection)
        assert len(read) == count and len({n.node_id for n in read}) == count
        assert [n.get_content() for n in read[:2]] == ["chunk 0", "chunk 1"]
    finally:
        client.close()
