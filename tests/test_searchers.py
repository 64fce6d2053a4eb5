"""The question path's searches (qa.searchers, chromadb and bm25s directly) return what
llama-index's retrievers return on the same build: the same chunks, order, scores, texts and
metadata, for every evaluation question."""

from __future__ import annotations

import pytest
from conftest import CORPUS

from qa.embedding import as_llama_index, question_embedder
from qa.eval import load_eval_set
from qa.index import CorpusIndex
from qa.searchers import DenseSearch, KeywordSearch
from qa.store import Store


@pytest.fixture(scope="module")
def opened(shipped):
    build = CorpusIndex(shipped).current_build()
    store = Store("")
    client = store.open_client(build)
    yield build, client.get_collection(store.collection_name(build.name)), question_embedder(shipped)
    client.close()


def questions() -> list[str]:
    return [item.question for name in ("aleppo.jsonl", "aleppo-heldout.jsonl")
            for item in load_eval_set(CORPUS / "eval" / name)]


def seen(hits) -> list[tuple]:
    return [(h.node.node_id, h.score, h.node.get_content(), h.node.metadata) for h in hits]


def test_dense_search_matches_llama_index_vector_retriever(opened):
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import QueryBundle
    from llama_index.vector_stores.chroma import ChromaVectorStore

    build, collection, embedder = opened
    index = VectorStoreIndex.from_vector_store(ChromaVectorStore(chroma_collection=collection),
                                               embed_model=as_llama_index(embedder))
    ours = DenseSearch(collection)
    for question in questions():
        vector = embedder.get_query_embedding(question)
        for k in (10, 20):
            theirs = index.as_retriever(similarity_top_k=k).retrieve(QueryBundle(query_str=question, embedding=vector))
            assert seen(ours.search(vector, k)) == seen(theirs), question


def test_keyword_search_matches_llama_index_bm25_retriever(opened):
    from llama_index.core.schema import QueryBundle
    from llama_index.retrievers.bm25 import BM25Retriever

    build, _, _ = opened
    theirs = BM25Retriever.from_persist_dir(str(build / "bm25"))
    ours = KeywordSearch(build / "bm25")
    assert ours.k == theirs.similarity_top_k
    for question in questions() + ["zzzz qqqq", "the of and"]:  # no shared word: nothing, not noise
        for k in (10, 20):
            theirs.similarity_top_k = k
            matching = [n for n in theirs.retrieve(QueryBundle(query_str=question)) if (n.score or 0.0) > 0.0]
            assert seen(ours.search(question, k)) == seen(matching), question
    assert ours.search("zzzz qqqq", 10) == []
