"""Hybrid retrieval: dense (Chroma) and BM25 keyword retrievers fused by reciprocal rank,
overlapping chunks of one document merged into a single passage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from .config import Settings
from .embedding import Embedder
from .errors import IndexUnavailable, StoreUnavailable
from .lexicon import TermStatistics
from .searchers import DenseSearch, KeywordSearch
from .store import Store, close_client
from .types import Passage

EXTRA_PASSAGES_PER_PART = 2
RRF_K = 60.0


class HybridRetriever:
    """Opens one index build and retrieves passages from it."""

    def __init__(self, build_dir: Path, embedder: Embedder, settings: Settings) -> None:
        self.build_dir = build_dir
        self.settings = settings
        self._embedder = embedder
        self._store = Store(settings.chroma_url)
        # Set when the Chroma server stops answering: the owner then opens a new retriever.
        self.broken = False
        self._client = self._store.open_client(build_dir)
        collection_name = self._store.collection_name(build_dir.name)
        try:
            with self._store.errors():
                collection = self._client.get_collection(collection_name)
                self.size = collection.count()
        except IndexUnavailable:
            close_client(self._client)
            raise
        except Exception as exc:  # noqa: BLE001 - chromadb raises several kinds for a damaged store
            close_client(self._client)
            where = (f"the Chroma server at {self._store.url} (collection {collection_name})"
                     if self._store.is_server else build_dir)
            raise IndexUnavailable(f"the index in {where} cannot be opened ({type(exc).__name__}: {exc}); "
                             f"rebuild it with: qa ingest --rebuild") from None
        self._dense = DenseSearch(collection)
        self._bm25 = KeywordSearch(build_dir / "bm25") if self.size else None
        files = _manifest_files(build_dir)
        # The build's documents (corpus-relative paths), which a question's scope is resolved against.
        self.documents: list[str] = sorted(files)
        self.terms = TermStatistics.load(build_dir / "terms.json", self.size, _titles(files))
        self.idf = self.terms.idf
        self.in_corpus = self.terms.in_corpus

    def close(self) -> None:
        close_client(self._client)

    # Retrieval ---------------------------------------------------------------------
    def _search(self, query: str, embedding: list[float] | None, mode: str, candidates: int,
                documents: Sequence[str] | None = None) -> dict[str, list]:
        """Each retriever's best `candidates` chunks; with `documents`, only chunks of those are
        ranked (Chroma's where= and a BM25 weight mask), so a scoped question gets the best of
        its documents, not the corpus's best filtered down."""
        found = {}
        if mode in ("hybrid", "dense"):
            if embedding is None:
                embedding = list(self._embedder.get_query_embedding(query))
            found["dense"] = self._dense.search(embedding, candidates, where=document_where(documents, self.documents))
        if mode in ("hybrid", "keyword") and self._bm25 is not None:
            found["keyword"] = self._bm25.search(query, candidates, documents=documents)
        return found

    def retrieve(self, query: str, top_k: int | None = None, mode: str | None = None,
                 query_embedding: list[float] | None = None, candidates: int | None = None,
                 documents: Sequence[str] | None = None) -> list[Passage]:
        """The best passages for a query. With `documents` (corpus-relative paths, as resolved
        by qa.scope), only chunks of those documents are ranked, in both retrievers."""
        if not self.size:
            return []
        top_k = top_k or self.settings.top_k
        mode = mode or self.settings.retrieval_mode
        candidates = max(candidates or self.settings.candidates_per_retriever, top_k * 2)
        if documents is not None and set(documents) == set(self.documents):
            documents = None  # every document: no filter to apply
        try:
            with self._store.errors():
                ranked = self._search(query, query_embedding, mode, candidates, documents)
        except StoreUnavailable:
            self.broken = True
            raise
        return merge_overlapping(fuse(ranked)[:candidates])[:top_k]

    def retrieve_many(self, queries: Sequence[tuple[str, list[float] | None]], top_k: int | None = None,
                      mode: str | None = None, candidates: int | None = None,
                      documents: Sequence[str] | None = None) -> list[Passage]:
        """Passages for several queries (the parts of a compound question): the first query's
        top_k, then the best passages of each further query that are not already in."""
        top_k = top_k or self.settings.top_k
        main = self.retrieve(queries[0][0], top_k=top_k, mode=mode, query_embedding=queries[0][1],
                             candidates=candidates, documents=documents)
        for query, vector in queries[1:]:
            for passage in self.retrieve(query, top_k=EXTRA_PASSAGES_PER_PART, mode=mode, query_embedding=vector,
                                         candidates=candidates, documents=documents):
                if not any(p.doc_id == passage.doc_id and _overlaps(p, passage) for p in main):
                    main.append(passage)
        return main


def _manifest_files(build_dir: Path) -> dict[str, Any]:
    """The build's documents, from its manifest: corpus-relative path -> entry."""
    try:
        files = json.loads((build_dir / "manifest.json").read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError):
        return {}
    return files if isinstance(files, dict) else {}


def _titles(files: dict[str, Any]) -> list[str]:
    """The names of the build's documents."""
    return [str(entry.get("title", "")) for entry in files.values() if isinstance(entry, dict) and entry.get("title")]


def document_where(documents: Sequence[str] | None, every: Sequence[str] = ()) -> dict[str, Any] | None:
    """Chroma's where= on a chunk's document (its "doc_id" metadata, the corpus-relative path):
    applied in the search itself, so the k nearest chunks are the k nearest of those documents.
    A scope of most of `every` document is written as the shorter list of those left out."""
    if documents is None:
        return None
    chosen = set(documents)
    others = [doc_id for doc_id in every if doc_id not in chosen]
    if others and len(others) < len(chosen):
        return {"doc_id": {"$nin": others}}
    return {"doc_id": {"$in": sorted(chosen)}}


def fuse(ranked: dict[str, list]) -> list[tuple[object, dict[str, float]]]:
    """Reciprocal rank fusion of each retriever's ranked chunks (k = 60, as llama-index's
    QueryFusionRetriever), keeping what each retriever said of each chunk: its rank and, for
    the dense retriever, its cosine similarity. The answerer reads those as evidence; the
    library's fusion keeps only the fused score, so the fusion is done here."""
    fused: dict[str, float] = {}
    first: dict[str, object] = {}
    signals: dict[str, dict[str, float]] = {}
    for name, results in ranked.items():
        for rank, item in enumerate(sorted(results, key=lambda n: n.score or 0.0, reverse=True)):
            key = item.node.node_id
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
            first.setdefault(key, item)
            signals.setdefault(key, {})[f"{name}_rank"] = float(rank)
            if name == "dense":
                signals[key]["dense"] = float(item.score or 0.0)
    order = sorted(fused, key=lambda k: fused[k], reverse=True)
    for key in order:
        first[key].score = fused[key]
    return [(first[key], signals[key]) for key in order]


def merge_overlapping(results: list) -> list[Passage]:
    """Turn ranked chunks (with each retriever's signals) into passages; a chunk overlapping a
    better-ranked one of the same document is merged into it, so no text is shown twice."""
    passages: list[Passage] = []
    for item, signals in results:
        node, meta = item.node, item.node.metadata
        chunk = Passage([node.node_id], meta["doc_id"], node.get_content(), meta["start"], meta["end"],
                        meta["clean_start"], meta["clean_end"], float(item.score or 0.0),
                        {**meta, "retrieval": dict(signals)})
        for passage in passages:
            if passage.doc_id == chunk.doc_id and _overlaps(passage, chunk):
                _absorb(passage, chunk)
                break
        else:
            passages.append(chunk)
    return passages


def _overlaps(a: Passage, b: Passage) -> bool:
    return a.clean_start < b.clean_end and b.clean_start < a.clean_end


def _absorb(into: Passage, other: Passage) -> None:
    if other.clean_start < into.clean_start:
        into.text = other.text[: into.clean_start - other.clean_start] + into.text
        into.clean_start, into.start = other.clean_start, other.start
        if "page" in other.metadata:  # a passage cites the page it starts on
            into.metadata["page"] = other.metadata["page"]
    if other.clean_end > into.clean_end:
        into.text = into.text + other.text[len(other.text) - (other.clean_end - into.clean_end):]
        into.clean_end, into.end = other.clean_end, other.end
    into.chunk_ids.append(other.chunk_ids[0])


__all__ = ["HybridRetriever", "fuse", "merge_overlapping"]
