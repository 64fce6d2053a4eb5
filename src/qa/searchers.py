"""The two searches that hybrid retrieval fuses, run on a stored build without llama-index.

Ingest writes the build through llama-index (ChromaVectorStore, BM25Retriever.persist); the
question path reads it back here with chromadb and bm25s directly, the same calls and the same
scores as llama-index's retrievers (tests/test_searchers.py compares them), because importing
llama_index.core takes about 1.1 s of CPU, nearly half of a cold start to the first answer.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

_BM25_TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # llama-index BM25Retriever's default


@dataclass
class StoredChunk:
    """A chunk as stored: what retrieval reads of llama-index's TextNode."""
    node_id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def get_content(self) -> str:
        return self.text


@dataclass
class Hit:
    node: StoredChunk
    score: float


def stored_chunk(record: dict[str, Any], text: str | None = None) -> StoredChunk:
    """A chunk from its stored record (llama-index's node_to_metadata_dict: the node as JSON in
    `_node_content`); `text` replaces the node's own, as Chroma keeps the text beside it."""
    node = json.loads(record["_node_content"])
    return StoredChunk(node["id_"], node.get("text", "") if text is None else text, node.get("metadata", {}))


class DenseSearch:
    """Nearest chunks to the question's vector in the build's Chroma collection; the score is
    exp(-cosine distance), as llama-index's ChromaVectorStore reports it."""

    def __init__(self, collection) -> None:
        self._collection = collection

    def search(self, embedding: list[float], k: int, where: dict[str, Any] | None = None) -> list[Hit]:
        found = self._collection.query(query_embeddings=[list(embedding)], n_results=k, where=where,
                                       include=["documents", "metadatas", "distances"])
        return [Hit(stored_chunk(meta, text), math.exp(-distance))
                for text, meta, distance in zip(found["documents"][0], found["metadatas"][0], found["distances"][0])]


class KeywordSearch:
    """BM25 over the build's persisted bm25s index (BM25Retriever.persist), queried as
    BM25Retriever does: English stemming, its token pattern, no stop words on the query."""

    def __init__(self, folder: Path) -> None:
        import bm25s
        import Stemmer

        self._bm25 = bm25s.BM25.load(str(folder), load_corpus=True)
        self._stemmer = Stemmer.Stemmer("english")
        persisted = json.loads((Path(folder) / "retriever.json").read_text(encoding="utf-8"))
        self.size = int(self._bm25.scores.get("num_docs", 0))
        self.k = min(int(persisted.get("similarity_top_k", 10)), self.size)
        self._row_documents: np.ndarray | None = None   # BM25 row -> its document's corpus path

    def search(self, query: str, k: int, documents: Sequence[str] | None = None) -> list[Hit]:
        """The best k chunks that share a word with the query (of `documents` only, when given:
        a weight mask scores other documents' chunks 0, so these are the best k of those, not
        the corpus's k filtered down). BM25 returns its top k even when they share no word;
        fusing those zero scores by rank would promote noise."""
        import bm25s

        tokens = bm25s.tokenize(query, stemmer=self._stemmer, token_pattern=_BM25_TOKEN_PATTERN, show_progress=False)
        mask = None if documents is None else np.isin(self._documents_of_rows(), list(documents)).astype(np.float32)
        found, scores = self._bm25.retrieve(tokens, k=min(k, self.size), show_progress=False, weight_mask=mask)
        hits = []
        for item, score in zip(found[0], scores[0]):
            record = item if isinstance(item, dict) else self._bm25.corpus[int(item)]
            if float(score) > 0.0:
                hits.append(Hit(stored_chunk(record), float(score)))
        return hits

    def _documents_of_rows(self) -> np.ndarray:
        # The stored row's "doc_id" is the chunk's document path (llama-index writes the node's
        # source document id there, which ingest sets to the path).
        if self._row_documents is None:
            self._row_documents = np.array([str(row.get("doc_id")) for row in self._bm25.corpus], dtype=object)
        return self._row_documents


__all__ = ["DenseSearch", "KeywordSearch", "StoredChunk", "Hit", "stored_chunk"]
