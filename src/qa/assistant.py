"""The pipeline behind qa.ask: condense → retrieve → answer, with models loaded once."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from .answer import Answer, ExtractiveAnswerer
from .chat import condense, history_from_pairs
from .questions import decompose
from .config import Settings, load_settings
from .index import CorpusIndex, IndexError, IngestReport
from .retrieve import HybridRetriever


class QuestionError(ValueError):
    """The question cannot be asked as it is (empty, too long); the message says why."""


def validate_question(question: Any, max_chars: int) -> str:
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    if "\x00" in question:
        raise QuestionError("the question contains a NUL character; remove it and ask again")
    stripped = question.strip()
    if not stripped:
        raise QuestionError("the question is empty: type a question about the corpus, "
                            "e.g. “How many Hezbollah fighters had died in Syria?”")
    if len(stripped) > max_chars:
        raise QuestionError(f"the question is {len(stripped):,} characters long and the limit is "
                            f"{max_chars:,} (setting max_question_chars / QA_MAX_QUESTION_CHARS); "
                            f"shorten it rather than have it cut")
    return stripped


class _VectorCache:
    """Sentence embeddings by text: passages recur across questions, embedding them does not need to."""

    def __init__(self, embedder, size: int = 8192) -> None:
        self._embedder = embedder
        self._size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self._embedder.get_text_embedding_batch(missing)
            with self._lock:
                for text, vector in zip(missing, vectors):
                    self._cache[text] = np.asarray(vector, dtype=np.float32)
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        with self._lock:
            for t in texts:
                self._cache.move_to_end(t)
            return np.stack([self._cache[t] for t in texts])


class Assistant:
    """Holds settings, the embedding model and the open index for repeated questions.

    >>> bot = Assistant(top_k=5)
    >>> bot.ask("How many Hezbollah fighters had died in Syria?").text
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = (settings or load_settings()).replace(**overrides) if overrides else (settings or load_settings())
        self.index = CorpusIndex(self.settings)
        self.last_ingest: IngestReport | None = None
        self._retriever: HybridRetriever | None = None
        self._lock = threading.RLock()
        self._embedder = None
        self._vectors: _VectorCache | None = None

    # Loading ---------------------------------------------------------------------------
    @property
    def embedder(self):
        if self._embedder is None:
            from .embedding import load_embedder

            self._embedder = load_embedder()
            self._vectors = _VectorCache(self._embedder)
        return self._embedder

    def ingest(self, rebuild: bool = False) -> IngestReport:
        with self._lock:
            report = self.index.ingest(rebuild=rebuild)
            self.last_ingest = report
            self._reopen_if_moved(force=report.changed)
            return report

    def _ensure_index(self) -> None:
        state, why = self.index.status()
        if state != "current":
            if not self.settings.auto_ingest and state in ("missing", "incompatible"):
                raise IndexError(f"{why}; build it with: qa ingest")
            if self.settings.auto_ingest:
                self.ingest(rebuild=state == "incompatible")

    def _reopen_if_moved(self, force: bool = False) -> HybridRetriever:
        build = self.index.current_build()
        if build is None:
            raise IndexError(f"no index in {self.settings.index_dir}; build it with: qa ingest")
        if force or self._retriever is None or self._retriever.build_dir != build:
            old = self._retriever
            self._retriever = HybridRetriever(build, self.embedder, self.settings)
            if old is not None:
                old.close()
        return self._retriever

    def retriever(self) -> HybridRetriever:
        with self._lock:
            if self._retriever is None:
                self._ensure_index()
            return self._reopen_if_moved()

    # Asking -----------------------------------------------------------------------------
    def ask(self, question: str, history: Sequence[Sequence[str]] | None = None, **overrides: Any) -> Answer:
        """Answer one question; every factual sentence of the answer cites a passage."""
        settings = self.settings.replace(**overrides) if overrides else self.settings
        question = validate_question(question, settings.max_question_chars)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        retriever = self.retriever()
        condensed = condense(question, history_from_pairs(history))
        decomposed = decompose(condensed.for_scoring)
        query_vector = self._query_vector(condensed.retrieval)
        timings["embed"] = (time.perf_counter() - started) * 1000
        queries = [(condensed.retrieval, query_vector)]
        parts = [(condensed.for_scoring, self._query_vector(condensed.for_scoring))]
        if len(decomposed.parts) > 1:
            parts = [(p, self._query_vector(p)) for p in decomposed.parts]
            queries += parts
        passages = retriever.retrieve_many([(q, v.tolist()) for q, v in queries], top_k=settings.top_k,
                                           mode=settings.retrieval_mode)
        timings["retrieve"] = (time.perf_counter() - started) * 1000 - timings["embed"]
        answerer = ExtractiveAnswerer(self._vectors, retriever.idf, settings.abstain_threshold,
                                      settings.max_answer_sentences, known=retriever.in_corpus)
        answer = answerer.answer(parts, passages, display_question=question, alternatives=decomposed.alternatives)
        answer.standalone_question = condensed.display
        timings["total"] = (time.perf_counter() - started) * 1000
        answer.timings_ms = {k: round(v, 1) for k, v in timings.items()}
        return answer

    def _query_vector(self, text: str) -> np.ndarray:
        return np.asarray(self.embedder.get_query_embedding(text), dtype=np.float32)

    def close(self) -> None:
        with self._lock:
            if self._retriever is not None:
                self._retriever.close()
                self._retriever = None


_default: Assistant | None = None
_default_lock = threading.Lock()


def default_assistant() -> Assistant:
    global _default
    with _default_lock:
        if _default is None:
            _default = Assistant()
        return _default


def ask(question: str, history: Sequence[Sequence[str]] | None = None, **overrides: Any) -> Answer:
    """Answer a question about the corpus. Settings come from qa.toml and QA_* variables;
    keyword overrides (top_k=8, retrieval_mode="dense", ...) apply to this call only."""
    return default_assistant().ask(question, history=history, **overrides)


__all__ = ["Assistant", "ask", "QuestionError", "validate_question", "default_assistant"]
