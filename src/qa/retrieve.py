"""Hybrid retrieval: dense (Chroma) and BM25 keyword retrievers fused by reciprocal rank,
overlapping chunks of one document merged into a single passage."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from .config import Settings
from .errors import IndexError, StoreUnavailable
from .store import Store, close_client

_TOKEN = re.compile(r"\w\w+|\d", re.UNICODE)
# Question words carry no topic: "How many ... did ..." should not match sentences with "many".
_QUESTION_WORDS = {"many", "much", "what", "who", "whom", "whose", "when", "where", "which", "why",
                   "how", "did", "does", "do", "say", "said", "tell", "according", "corpus"}


EXTRA_PASSAGES_PER_PART = 2


@dataclass
class Passage:
    """A contiguous piece of one document: one chunk, or overlapping chunks merged."""
    chunk_ids: list[str]
    doc_id: str
    text: str
    start: int          # offsets in the original file
    end: int
    clean_start: int    # offsets in the cleaned text
    clean_end: int
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return str(self.metadata.get("source") or self.doc_id)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """NLTK's English stopwords as shipped inside llama-index-core (no download), plus bm25s's."""
    import llama_index.core as core
    from bm25s.stopwords import STOPWORDS_EN

    shipped = Path(core.__file__).parent / "_static" / "nltk_cache" / "corpora" / "stopwords" / "english"
    words = set(shipped.read_text(encoding="utf-8").split()) if shipped.is_file() else set()
    return frozenset(words | set(STOPWORDS_EN) | _QUESTION_WORDS)


# Stems that mean the same for matching a question to a sentence ("died" / "killed"), and the
# irregular past forms the Snowball stemmer leaves alone ("broke" / "break").
_SAME_MEANING = {stem: group[0] for group in (
    ("die", "kill", "dead", "death", "fatal", "martyr", "casualti"),
    ("wound", "injur"),
    ("break", "broke", "broken"), ("begin", "began", "begun"), ("take", "took", "taken"),
    ("lead", "led"), ("fight", "fought"), ("send", "sent"), ("meet", "met"), ("tell", "told"),
    ("hold", "held"), ("win", "won"), ("lose", "lost"), ("leav", "left"), ("fall", "fell", "fallen"),
    ("come", "came"), ("give", "gave", "given"), ("make", "made"), ("go", "went", "gone"),
    ("see", "saw", "seen"), ("think", "thought"), ("bring", "brought"), ("know", "knew", "known"),
    ("keep", "kept"), ("pay", "paid"), ("build", "built"), ("becom", "becam"), ("seek", "sought"),
    ("strike", "struck"), ("shoot", "shot"), ("buy", "bought"), ("spend", "spent"), ("rise", "rose", "risen"),
) for stem in group}


def terms(text: str) -> list[str]:
    """Stemmed content words (stopwords and question words removed), near-synonyms folded."""
    stop = stopwords()
    words = [w for w in _TOKEN.findall(text.lower()) if w not in stop]
    return [_SAME_MEANING.get(stem, stem) for stem in _stemmer().stemWords(words)]


class _MatchingOnly:
    """BM25 returns its top k even when they share no word with the query; fusing those
    zero-score chunks by rank would promote noise, so they are dropped here."""

    def __new__(cls, inner):
        from llama_index.core.retrievers import BaseRetriever

        class MatchingOnly(BaseRetriever):
            def _retrieve(self, query_bundle):
                return [n for n in inner.retrieve(query_bundle) if (n.score or 0.0) > 0.0]

        return MatchingOnly()


class TermStatistics:
    """Chunk frequencies of terms, used by the answerer to weigh question words and to spot
    names the corpus never uses."""

    def __init__(self, document_frequency: dict[str, int], chunks: int) -> None:
        self.chunks = chunks
        self._idf = {t: math.log((chunks + 1) / (c + 0.5)) for t, c in document_frequency.items()}
        self._by_initial_and_length: dict[tuple[str, int], list[str]] | None = None

    @classmethod
    def load(cls, path: Path, chunks: int) -> "TermStatistics":
        if not path.is_file():
            return cls({}, chunks)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["document_frequency"], data["chunks"])

    @classmethod
    def of(cls, texts: list[str]) -> "TermStatistics":
        counted = document_frequencies(texts)
        return cls(counted["document_frequency"], counted["chunks"])

    def idf(self, term: str) -> float:
        """Rarer terms weigh more; a term the corpus never uses weighs most of all."""
        return self._idf.get(term, math.log(self.chunks + 2) + 1.0)

    def in_corpus(self, term: str) -> bool:
        """True for a term the corpus uses, or one within a letter or two of one (Qassim/Qassem)."""
        if term in self._idf:
            return True
        if len(term) < 5:
            return False
        import difflib

        # difflib's ratio is 2·matches / (len(a) + len(b)), and matches <= the shorter length,
        # so a ratio of 0.8 needs lengths within 2/3 and 3/2 of each other: only those terms
        # are compared. At 100k chunks the vocabulary has hundreds of thousands of terms.
        groups = self._vocabulary_by_initial_and_length()
        size = len(term)
        near = [t for length in range(math.ceil(2 * size / 3), 3 * size // 2 + 1)
                for t in groups.get((term[0], length), ())]
        return bool(difflib.get_close_matches(term, near, n=1, cutoff=0.8))

    def _vocabulary_by_initial_and_length(self) -> dict[tuple[str, int], list[str]]:
        # Built on first use and kept here: a method-level lru_cache would hold a reference
        # to a swapped-out retriever, and so its Chroma client, until evicted.
        if self._by_initial_and_length is None:
            groups: dict[tuple[str, int], list[str]] = {}
            for term in self._idf:
                groups.setdefault((term[:1], len(term)), []).append(term)
            self._by_initial_and_length = groups
        return self._by_initial_and_length


class HybridRetriever:
    """Opens one index build and retrieves passages from it."""

    def __init__(self, build_dir: Path, embedder, settings: Settings) -> None:
        from llama_index.core import VectorStoreIndex
        from llama_index.retrievers.bm25 import BM25Retriever
        from llama_index.vector_stores.chroma import ChromaVectorStore

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
        except IndexError:
            close_client(self._client)
            raise
        except Exception as exc:  # noqa: BLE001 - chromadb raises several kinds for a damaged store
            close_client(self._client)
            where = (f"the Chroma server at {self._store.url} (collection {collection_name})"
                     if self._store.is_server else build_dir)
            raise IndexError(f"the index in {where} cannot be opened ({type(exc).__name__}: {exc}); "
                             f"rebuild it with: qa ingest --rebuild") from None
        self._vector_index = VectorStoreIndex.from_vector_store(
            ChromaVectorStore(chroma_collection=collection), embed_model=embedder)
        self._bm25 = None
        if self.size:
            self._bm25 = BM25Retriever.from_persist_dir(str(build_dir / "bm25"))
        self.terms = TermStatistics.load(build_dir / "terms.json", self.size)
        self.idf = self.terms.idf
        self.in_corpus = self.terms.in_corpus

    def close(self) -> None:
        close_client(self._client)

    # Retrieval ---------------------------------------------------------------------
    def _retrievers(self, mode: str, candidates: int) -> list:
        found = []
        if mode in ("hybrid", "dense"):
            found.append(self._vector_index.as_retriever(similarity_top_k=candidates))
        if mode in ("hybrid", "keyword") and self._bm25 is not None:
            # Shared by concurrent questions: only ever raised, the fusion trims to each one's k.
            self._bm25.similarity_top_k = min(max(candidates, self._bm25.similarity_top_k), self.size)
            found.append(_MatchingOnly(self._bm25))
        return found

    def retrieve(self, query: str, top_k: int | None = None, mode: str | None = None,
                 query_embedding: list[float] | None = None) -> list[Passage]:
        from llama_index.core.llms import MockLLM
        from llama_index.core.retrievers import QueryFusionRetriever
        from llama_index.core.schema import QueryBundle

        if not self.size:
            return []
        top_k = top_k or self.settings.top_k
        mode = mode or self.settings.retrieval_mode
        candidates = max(self.settings.candidates_per_retriever, top_k * 2)
        retrievers = self._retrievers(mode, candidates)
        bundle = QueryBundle(query_str=query, embedding=query_embedding)
        try:
            with self._store.errors():
                if len(retrievers) == 1:
                    results = retrievers[0].retrieve(bundle)
                else:
                    fusion = QueryFusionRetriever(retrievers, llm=MockLLM(), mode="reciprocal_rerank",
                                                  similarity_top_k=candidates, num_queries=1, use_async=False)
                    results = fusion.retrieve(bundle)
        except StoreUnavailable:
            self.broken = True
            raise
        return merge_overlapping(results)[:top_k]

    def retrieve_many(self, queries: Sequence[tuple[str, list[float] | None]], top_k: int | None = None,
                      mode: str | None = None) -> list[Passage]:
        """Passages for several queries (the parts of a compound question): the first query's
        top_k, then the best passages of each further query that are not already in."""
        top_k = top_k or self.settings.top_k
        main = self.retrieve(queries[0][0], top_k=top_k, mode=mode, query_embedding=queries[0][1])
        for query, vector in queries[1:]:
            for passage in self.retrieve(query, top_k=EXTRA_PASSAGES_PER_PART, mode=mode, query_embedding=vector):
                if not any(p.doc_id == passage.doc_id and _overlaps(p, passage) for p in main):
                    main.append(passage)
        return main


def merge_overlapping(results: list) -> list[Passage]:
    """Turn ranked chunks into passages; a chunk overlapping a better-ranked one of the same
    document is merged into it, so no text is shown twice."""
    passages: list[Passage] = []
    for item in results:
        node, meta = item.node, item.node.metadata
        chunk = Passage([node.node_id], meta["doc_id"], node.get_content(), meta["start"], meta["end"],
                        meta["clean_start"], meta["clean_end"], float(item.score or 0.0), dict(meta))
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
    if other.clean_end > into.clean_end:
        into.text = into.text + other.text[len(other.text) - (other.clean_end - into.clean_end):]
        into.clean_end, into.end = other.clean_end, other.end
    into.chunk_ids.append(other.chunk_ids[0])


def document_frequencies(texts: list[str]) -> dict[str, Any]:
    """Chunk counts per term, saved beside each build for the answerer's term weights."""
    counts: dict[str, int] = {}
    for text in texts:
        for term in set(terms(text)):
            counts[term] = counts.get(term, 0) + 1
    return {"chunks": len(texts), "document_frequency": counts}


__all__ = ["HybridRetriever", "TermStatistics", "Passage", "merge_overlapping", "terms", "document_frequencies"]
