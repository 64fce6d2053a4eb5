"""The pipeline behind qa.ask: condense → retrieve → answer, with models loaded once."""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .chat import Condensed, condense, history_from_pairs
from .config import Settings, load_settings
from .corpus import TEXT_SUFFIXES, load_document
from .embedding import Embedder
from .errors import IndexBusy, IndexUnavailable, QuestionError
from .extractive import ExtractiveAnswerer
from .index import CorpusIndex, IngestReport
from .llms import ChatModel, chat_model
from .page_view import PageImage, citation_page
from .questions import Decomposed, decompose
from .retrieve import HybridRetriever
from .scope import DocumentScopeError, checked_patterns, resolve
from .types import Answer, Citation, Passage

# Half of a UTF-16 surrogate pair: a Python str can hold one, but it is not Unicode text, and
# the embedding model's tokenizer fails on it with a TypeError.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _unusable_character(text: str) -> str | None:
    if "\x00" in text:
        return "a NUL character"
    found = _SURROGATE.search(text)
    if found:
        return f"an unpaired surrogate (U+{ord(found.group()):04X}, not valid Unicode) at character {found.start()}"
    return None


def validate_question(question: Any, max_chars: int) -> str:
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    unusable = _unusable_character(question)
    if unusable:
        raise QuestionError(f"the question contains {unusable}; remove it and ask again")
    stripped = question.strip()
    if not stripped:
        raise QuestionError("the question is empty: type a question about the corpus, "
                            "e.g. “How many Hezbollah fighters had died in Syria?”")
    if len(stripped) > max_chars:
        raise QuestionError(f"the question is {len(stripped):,} characters long and the limit is "
                            f"{max_chars:,} (setting max_question_chars / QA_MAX_QUESTION_CHARS); "
                            f"shorten it rather than have it cut")
    return stripped


def validate_history(history: Sequence[Sequence[str]] | None) -> list[tuple[str, str]]:
    try:
        pairs = history_from_pairs(history)
    except (TypeError, ValueError) as exc:
        raise QuestionError(f"history must be a list of [question, answer] pairs: {exc}") from None
    for turn, pair in enumerate(pairs):
        for text in pair:
            unusable = _unusable_character(text)
            if unusable:
                raise QuestionError(f"history[{turn}] contains {unusable}; remove it and ask again")
    return pairs


@dataclass(frozen=True)
class Query:
    """A question made ready to retrieve and answer (the result of Assistant.understand)."""
    question: str                               # as asked, validated
    condensed: Condensed                        # made standalone when it follows up
    decomposed: Decomposed                      # the parts of a compound question
    searches: list[tuple[str, np.ndarray]]      # texts retrieved for, with their vectors
    parts: list[tuple[str, np.ndarray]]         # texts answer sentences are scored against
    documents: tuple[str, ...] | None = None    # the only documents retrieved from; None: all


class _Timer:
    """Milliseconds per step, each from the end of the one before."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str, since_start: bool = False) -> None:
        now = time.perf_counter()
        self.laps[name] = (now - (self.started if since_start else self.last)) * 1000
        self.last = now

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in self.laps.items()}


SENTENCE_BATCH = 8


class _VectorCache:
    """Sentence embeddings by text: passages recur across questions, embedding them does not need to."""

    def __init__(self, embedder: Embedder, size: int = 8192) -> None:
        self._embedder = embedder
        self._size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        # The vectors of this call are kept here, not looked up again at the end: once the cache
        # is full, this call's new texts (or another thread's) evict the oldest entries, which
        # may be the very ones this call found cached.
        with self._lock:
            found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
            for t in found:
                self._cache.move_to_end(t)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            # The model pads a batch to its longest text: one long sentence among short ones
            # makes all of them cost as much. Batches of similar length cut the time ~20%.
            missing.sort(key=len)
            vectors = [vector for start in range(0, len(missing), SENTENCE_BATCH)
                       for vector in self._embedder.get_text_embedding_batch(missing[start:start + SENTENCE_BATCH])]
            with self._lock:
                for text, vector in zip(missing, vectors):
                    found[text] = self._cache[text] = np.asarray(vector, dtype=np.float32)
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return np.stack([found[t] for t in texts])


class Assistant:
    """Holds settings, the embedding model and the open index for repeated questions.

    >>> bot = Assistant(top_k=5)
    >>> bot.ask("How many Hezbollah fighters had died in Syria?").text
    """

    def __init__(self, settings: Settings | None = None, *, chat_model: ChatModel | None = None,
                 embedder: Embedder | None = None, **overrides: Any) -> None:
        """`chat_model` and `embedder` replace the configured language model and the shipped
        embedding model (any object with their methods); keyword overrides replace settings."""
        base = settings or load_settings()
        self.settings = base.replace(**overrides) if overrides else base
        self.index = CorpusIndex(self.settings)
        self.last_ingest: IngestReport | None = None
        self._retriever: HybridRetriever | None = None
        self._lock = threading.RLock()
        # One ingest at a time in this process: the index's file lock refuses a second holder
        # even within one process, so threads (an app's uploads, a re-index) wait here instead.
        # Always taken before _lock, never while holding it.
        self._ingest_lock = threading.RLock()
        self._chat_model = chat_model
        self._embedder = embedder
        self._vectors: _VectorCache | None = _VectorCache(embedder) if embedder is not None else None

    # Loading ---------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from .embedding import question_embedder

            self._embedder = question_embedder(self.settings)
            self._vectors = _VectorCache(self._embedder)
        return self._embedder

    @property
    def vectors(self) -> _VectorCache:
        """Texts -> unit vectors with the embedding model, cached by text."""
        if self._vectors is None:
            self._vectors = _VectorCache(self.embedder)
        return self._vectors

    def new_embedding_cache(self) -> _VectorCache:
        """A separate texts -> vectors cache on the same model (e.g. for an evaluation judge,
        whose lookups must not warm the cache that answering is timed with)."""
        return _VectorCache(self.embedder)

    def reset_embedding_cache(self) -> None:
        """Start answering with a cold sentence cache (evaluation runs time each pipeline from cold)."""
        self._vectors = self.new_embedding_cache()

    def ingest(self, rebuild: bool = False, progress: Callable[[int, int], None] | None = None,
               wait: bool = True) -> IngestReport:
        """Update the index from the corpus folder (only changed files are embedded). Calls from
        several threads run one after another; another process ingesting raises IndexBusy. With
        wait=False an ingest already running in this process raises IndexBusy too (a single
        writer that refuses rather than queues, e.g. for the HTTP API's 409)."""
        # The new build is made aside under the index's own file lock, so questions keep
        # being answered from the current build meanwhile; only the swap takes our lock.
        with self._ingesting(wait):
            report = self.index.ingest(rebuild=rebuild, progress=progress)
            with self._lock:
                self.last_ingest = report
                self._reopen_if_moved(force=report.changed)
        return report

    @contextmanager
    def _ingesting(self, wait: bool) -> Iterator[None]:
        if not self._ingest_lock.acquire(blocking=wait):
            raise IndexBusy(f"another ingest in this process is updating {self.settings.index_dir}; "
                            f"wait for it to finish and try again")
        try:
            yield
        finally:
            self._ingest_lock.release()

    def _ensure_index(self) -> None:
        state, why = self.index.status()
        if state != "current":
            if not self.settings.auto_ingest and state in ("missing", "incompatible"):
                raise IndexUnavailable(f"{why}; build it with: qa ingest")
            if self.settings.auto_ingest:
                try:
                    self.ingest()  # rebuilds an incompatible index itself, saying why
                except IndexBusy:
                    # Another process is updating it: a stale index still answers, from the
                    # build that is current, and the next question picks up the new one.
                    if state != "stale":
                        raise
                    logging.getLogger("qa").warning("%s; answering from the current index meanwhile", why)

    def _reopen_if_moved(self, force: bool = False) -> HybridRetriever:
        build = self.index.current_build()
        if build is None:
            raise IndexUnavailable(f"no index in {self.settings.index_dir}; build it with: qa ingest")
        stale = self._retriever is None or self._retriever.build_dir != build or self._retriever.broken
        if force or stale:
            from .embedding import runtime_mismatch

            mismatch = runtime_mismatch(self.index.manifest(build), self.embedder)
            if mismatch:
                raise IndexUnavailable(mismatch)
            # The old retriever is not closed here: a question may still be using it. Its
            # Chroma client is released when the last reference goes. A broken one (its Chroma
            # server stopped answering) is replaced on the next question, which reconnects.
            self._retriever = HybridRetriever(build, self.embedder, self.settings)
        return self._retriever

    def retriever(self) -> HybridRetriever:
        with self._lock:
            if self._retriever is not None:
                return self._reopen_if_moved()
        with self._ingest_lock, self._lock:  # the first use may ingest: the locks in their order
            if self._retriever is None:
                self._ensure_index()
            return self._reopen_if_moved()

    # Asking -----------------------------------------------------------------------------
    def ask(self, question: str, history: Sequence[Sequence[str]] | None = None,
            documents: str | Sequence[str] | None = None, **overrides: Any) -> Answer:
        """Answer one question; every factual sentence of the answer cites a passage.
        `documents` limits it to some documents: corpus-relative paths or glob patterns
        ("notes.md", "reports/2024-*.pdf", "**/*.html"); see qa.scope."""
        return self.trace(question, history, documents, **overrides)[0]

    def trace(self, question: str, history: Sequence[Sequence[str]] | None = None,
              documents: str | Sequence[str] | None = None, **overrides: Any) -> tuple[Answer, list[Passage]]:
        """Like ask, and also the passages retrieved for it, best first (for evaluation)."""
        for _, answer, passages in self._answer(question, history, documents, overrides):
            if answer is not None:
                return answer, passages
        raise AssertionError("the pipeline ended without an answer")  # pragma: no cover

    def stream(self, question: str, history: Sequence[Sequence[str]] | None = None,
               documents: str | Sequence[str] | None = None, **overrides: Any) -> Iterator[tuple[str, Answer | None]]:
        """Yield the answer text as it grows, then (final text, Answer).

        With a language model the text grows token by token, as generated: it is a draft
        until the last item, whose Answer holds only the sentences that passed the citation
        check. The extractive answer is composed at once and comes sentence by sentence."""
        for text, answer, _ in self._answer(question, history, documents, overrides):
            yield text, answer

    def _answer(self, question: str, history: Sequence[Sequence[str]] | None, documents: str | Sequence[str] | None,
                overrides: dict[str, Any]) -> Iterator[tuple[str, Answer | None, list[Passage]]]:
        """The pipeline as named steps: understand, retrieve, answer (quote), then generate."""
        settings = self.settings.for_call(**overrides)
        timer = _Timer()
        model = self.chat_model(settings)
        query = self.understand(question, history, settings, model, timer, documents=documents)
        passages = self.retrieve(query, settings)
        timer.lap("retrieve")
        answer = self.quote(query, passages, settings)
        # The LLM is asked only when the corpus answers: an abstention stays an abstention.
        if model is not None and not answer.abstained:
            generated = None
            for text, generated in self.generate(model, query, passages, answer, settings):
                if generated is None:
                    yield text, None, passages
            answer = generated
        answer.standalone_question = query.condensed.display
        if query.documents is not None:
            _scoped(answer, list(query.documents))
        timer.lap("total", since_start=True)
        answer.timings_ms = timer.rounded()
        if answer.answerer == "extractive" and not answer.notice:
            shown = ""
            for piece in _sentence_pieces(answer.text)[:-1]:
                shown += piece
                yield shown, None, passages
        yield answer.text, answer, passages

    # The steps --------------------------------------------------------------------------
    def chat_model(self, settings: Settings) -> ChatModel | None:
        """The language model answers are generated with, or None for quoted answers."""
        if settings.answerer == "extractive":
            return None
        return self._chat_model or chat_model(settings)

    def understand(self, question: str, history: Sequence[Sequence[str]] | None, settings: Settings,
                   model: ChatModel | None = None, timer: "_Timer | None" = None,
                   documents: str | Sequence[str] | None = None) -> Query:
        """Check the question, history and documents, make a follow-up standalone, split a compound
        question into parts, and embed what will be searched for and scored against."""
        timer = timer or _Timer()
        question = validate_question(question, settings.max_question_chars)
        pairs = validate_history(history)
        patterns = checked_patterns(documents)
        scope = tuple(self.resolve_documents(patterns)) if patterns is not None else None
        condensed = condense(question, pairs, model, settings.max_question_chars)
        if model is not None and condensed.followup:
            timer.lap("condense")   # the model was asked to rewrite the follow-up
        decomposed = decompose(condensed.resolved if condensed.context else condensed.for_scoring)
        if condensed.context:
            # Each part of a compound follow-up leans on the earlier question, not only the last part.
            decomposed = dataclasses.replace(decomposed, parts=[f"{p} {condensed.context}" for p in decomposed.parts])
        retrieval_vector = self._query_vector(condensed.retrieval)
        searches = [(condensed.retrieval, retrieval_vector)]
        if len(decomposed.parts) > 1:
            parts = [(p, self._query_vector(p)) for p in decomposed.parts]
            searches += parts
        elif condensed.for_scoring == condensed.retrieval:
            parts = [(condensed.for_scoring, retrieval_vector)]  # the same text: embedded once
        else:
            parts = [(condensed.for_scoring, self._query_vector(condensed.for_scoring))]
        timer.lap("embed")
        return Query(question, condensed, decomposed, searches, parts, scope)

    def resolve_documents(self, documents: str | Sequence[str] | None) -> list[str]:
        """The indexed documents (corpus-relative paths, sorted) that paths or glob patterns name;
        None names them all. A pattern that names none raises qa.DocumentScopeError, which lists
        the documents there are."""
        patterns = checked_patterns(documents)
        available = self.retriever().documents
        if patterns is None:
            return list(available)
        return resolve(patterns, available, Path(self.settings.corpus_dir))

    def retrieve(self, query: Query, settings: Settings) -> list[Passage]:
        """The passages for the question (and for each part of a compound one), best first."""
        return self.retriever().retrieve_many([(q, v.tolist()) for q, v in query.searches], top_k=settings.top_k,
                                              mode=settings.retrieval_mode,
                                              candidates=settings.candidates_per_retriever,
                                              documents=query.documents)

    def answerer(self, settings: Settings) -> ExtractiveAnswerer:
        retriever = self.retriever()
        return ExtractiveAnswerer(self.vectors, retriever.idf, settings.abstain_threshold,
                                  settings.max_answer_sentences, known=retriever.in_corpus,
                                  named=retriever.terms.named_titles)

    def quote(self, query: Query, passages: list[Passage], settings: Settings) -> Answer:
        """The extractive answer: sentences quoted from the passages, or an abstention."""
        return self.answerer(settings).answer(query.parts, passages, display_question=query.question,
                                              alternatives=query.decomposed.alternatives)

    def generate(self, model: ChatModel, query: Query, passages: list[Passage], extractive: Answer,
                 settings: Settings) -> Iterator[tuple[str, Answer | None]]:
        """Stream the model's reply, then check it; the extractive answer replaces it (with a
        notice saying why) when the model fails or nothing it wrote is supported."""
        from .generate import check_reply, compose_generated, system_prompt, user_prompt
        from .llms import LLMError
        from .support import SupportJudge

        shown = passages[: settings.top_k]
        reply, tokens = "", 0
        started = time.perf_counter()
        try:
            for delta in model.stream(system_prompt(settings.max_answer_sentences),
                                      user_prompt(query.condensed.display, shown)):
                reply += delta
                tokens += 1
                yield reply, None
        except LLMError as exc:
            yield "", _with_notice(extractive, f"The language model could not answer ({exc}), so this is "
                                   f"the extractive answer.")
            return
        seconds = time.perf_counter() - started
        checked = check_reply(reply, shown, SupportJudge(self.vectors))
        stats = {"model": model.name, "tokens": tokens, "seconds": round(seconds, 2),
                 "tokens_per_s": round(tokens / seconds, 1) if seconds > 0 else None,
                 "sentences": len(checked.sentences), "unsupported": len(checked.sentences) - len(checked.supported),
                 "invented_citations": checked.invented_citations, "citations_added": checked.citations_added,
                 "reply": reply}
        answer = compose_generated(query.question, checked, shown, settings.unsupported, self.vectors)
        if answer is None:
            why = ("said the passages do not answer" if checked.said_no_answer else
                   f"wrote {len(checked.sentences)} sentence(s), none supported by the passages it cited")
            answer = _with_notice(extractive, f"The language model {why}, so this is the extractive answer.")
        answer.generation = stats
        yield answer.text, answer

    # The corpus ------------------------------------------------------------------------
    def documents(self) -> list[dict[str, Any]]:
        """The indexed documents: path, title, publisher, date, chunk count and kept share
        (the share of the file's text cleaning kept, None for an index built before it was recorded)."""
        with self._lock:
            opened = self._retriever is not None
        if not opened:  # the first use may ingest: the locks in their order
            with self._ingest_lock, self._lock:
                if self._retriever is None:
                    self._ensure_index()  # not the retriever: the list is in the manifest, no server needed
        manifest = self.index.manifest() or {"files": {}}
        return [{"path": path, **{k: entry.get(k, "") for k in ("title", "publisher", "date", "chunks")},
                 "kept": entry.get("kept")}
                for path, entry in sorted(manifest["files"].items())]

    def index_status(self) -> tuple[str, str]:
        """('current' | 'stale' | 'missing' | 'incompatible', details)."""
        return self.index.status()

    def index_info(self) -> dict[str, Any]:
        """The current build as recorded, without building or opening it: its documents and chunks
        (0 when there is no build), when it was built and the embedding model it was built with."""
        manifest = self.index.manifest() or {}
        model = manifest.get("fingerprint", {}).get("embedding_model", {})
        return {"documents": len(manifest.get("files", {})), "chunks": int(manifest.get("chunks", 0)),
                "built": manifest.get("created"), "embedding_model": model.get("name")}

    def add_document(self, filename: str, data: bytes) -> IngestReport:
        """Add a file to the corpus and index it incrementally. A file that cannot be used
        raises ValueError and leaves the corpus and the index as they were. Uploads from several
        threads are added one after another."""
        with self._ingest_lock:
            return self._add_document(filename, data)

    def _add_document(self, filename: str, data: bytes) -> IngestReport:
        name = safe_filename(filename)
        if len(data) > self.settings.max_upload_bytes:
            raise ValueError(f"{name} is {len(data) / 1e6:.1f} MB; the limit is "
                             f"{self.settings.max_upload_bytes / 1e6:.0f} MB (max_upload_bytes)")
        corpus_dir = Path(self.settings.corpus_dir)
        target = corpus_dir / name
        if target.exists():
            raise ValueError(f"{name} is already in the corpus; rename the file to add it as a new document")
        corpus_dir.mkdir(parents=True, exist_ok=True)
        staging = corpus_dir / f".{name}.upload"
        staging.write_bytes(data)
        try:
            staging.rename(target)
            load_document(target, corpus_dir)
        except ValueError as exc:
            target.unlink(missing_ok=True)
            raise ValueError(f"{name} was not added: {exc}") from None
        finally:
            staging.unlink(missing_ok=True)
        try:
            report = self.ingest()
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        duplicate = next((s for s in report.skipped if s.path == target), None)
        if duplicate is not None:  # e.g. the same text as a document already indexed
            target.unlink(missing_ok=True)
            self.ingest()  # forgets the skipped file again
            raise ValueError(f"{name} was not added: {duplicate.reason}")
        return report

    def citation_page(self, citation: Citation, width: int = 700) -> PageImage | None:
        """A PDF citation's page as a PNG with its quoted sentences highlighted (None for other
        formats); ValueError when the file cannot be read. See qa.page_view."""
        return citation_page(citation, Path(self.settings.corpus_dir), width)

    def _query_vector(self, text: str) -> np.ndarray:
        return np.asarray(self.embedder.get_query_embedding(text), dtype=np.float32)

    def close(self) -> None:
        with self._lock:
            if self._retriever is not None:
                self._retriever.close()
                self._retriever = None


_UNSAFE_NAME = re.compile(r"[^\w.-]+")


def _with_notice(answer: Answer, notice: str) -> Answer:
    # One sentence, so that it is read as a remark and not as claims: an error message's own
    # sentence ends ("… is it running? …") are softened.
    notice = re.sub(r"[.!?]+(?=\s)", ";", notice)
    answer.notice = notice
    answer.text = f"{notice} {answer.text}"
    return answer


def _scoped(answer: Answer, documents: list[str]) -> None:
    """Record the scope on the answer. An abstention says "The corpus does not …"; asked about
    some documents only, it names them instead, since the other documents may well answer."""
    answer.documents = documents
    if not (answer.abstained and answer.text.startswith(_CORPUS_SAYS_NOT)):
        return
    if len(documents) == 1:
        answer.text = "The chosen document does not " + answer.text[len(_CORPUS_SAYS_NOT):]
    else:
        text = f"The {len(documents)} chosen documents do not " + answer.text[len(_CORPUS_SAYS_NOT):]
        answer.text = text.replace(", so it cannot answer ", ", so they cannot answer ", 1)


_CORPUS_SAYS_NOT = "The corpus does not "


def safe_filename(filename: str) -> str:
    """A plain file name for the corpus folder: no directories, no hidden files, a supported type."""
    given = Path(str(filename).replace("\\", "/")).name
    suffix = Path(given).suffix.lower()
    stem = _UNSAFE_NAME.sub("-", given[: len(given) - len(suffix)]).strip("-.")[:120]
    name = f"{stem}{suffix}"
    if not stem or suffix not in TEXT_SUFFIXES:
        raise ValueError(f"{given or 'this file'} is not a supported type; "
                         f"upload one of: {', '.join(TEXT_SUFFIXES)}")
    return name


def _sentence_pieces(text: str) -> list[str]:
    """Split text after each sentence (keeping the spaces), for streaming."""
    pieces = re.split(r"(?<=[.!?”\]])(\s+)(?=[^\s\[])", text)
    joined = [a + b for a, b in zip(pieces[::2], pieces[1::2] + [""])]
    return joined or [text]


_default: Assistant | None = None
_default_lock = threading.Lock()


def default_assistant() -> Assistant:
    global _default
    with _default_lock:
        if _default is None:
            _default = Assistant()
        return _default


def ask(question: str, history: Sequence[Sequence[str]] | None = None,
        documents: str | Sequence[str] | None = None, **overrides: Any) -> Answer:
    """Answer a question about the corpus, or only about `documents` (corpus-relative paths or
    glob patterns, e.g. ["reports/2024-*.pdf"]). Settings come from qa.toml and QA_* variables;
    keyword overrides (top_k=8, retrieval_mode="dense", ...) apply to this call only."""
    return default_assistant().ask(question, history=history, documents=documents, **overrides)


__all__ = ["Assistant", "ask", "QuestionError", "DocumentScopeError", "validate_question", "default_assistant"]
