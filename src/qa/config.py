"""One Settings object: defaults < qa.toml < QA_* environment variables < call overrides."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

ENV_PREFIX = "QA_"
DEFAULT_CORPUS = Path("corpus")
DEFAULT_INDEX = Path("index")
RETRIEVAL_MODES = ("hybrid", "dense", "keyword")
ANSWERERS = ("auto", "extractive", "llm")
UNSUPPORTED = ("drop", "mark")
EMBEDDING_RUNTIMES = ("onnx", "bf16", "torch")  # what each does: qa/embedding.py
# Settings a single question may override (qa.ask(q, top_k=8)). The others shape the index,
# the store or the server, and are fixed when an Assistant is made.
PER_CALL = frozenset({"top_k", "retrieval_mode", "candidates_per_retriever", "answerer", "max_answer_sentences",
                      "abstain_threshold", "max_question_chars", "llm", "llm_base_url", "llm_timeout",
                      "llm_max_tokens", "llm_temperature", "llm_context_window", "unsupported"})


class ConfigError(ValueError):
    """A setting has a value qa cannot use; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = DEFAULT_CORPUS
    # None (not set in qa.toml, QA_INDEX_DIR, --index or a keyword): derived from corpus_dir by
    # derived_index_dir(), so each corpus keeps its own index. Always a Path after __init__.
    index_dir: Path | None = None
    # "http://host:port" keeps the vectors in that Chroma server (`chroma run`) instead of
    # index/; the manifest, BM25 index and term statistics stay in index_dir (see store.py).
    chroma_url: str = ""
    # Retrieval
    top_k: int = 5
    retrieval_mode: str = "hybrid"
    candidates_per_retriever: int = 10
    # Chunking: measured in tiktoken cl100k tokens. all-MiniLM-L6-v2 truncates at 256
    # word pieces; 170 cl100k tokens plus the title header stays under that on real
    # text (tests/test_chunking.py checks every shipped chunk with the model's tokenizer).
    chunk_tokens: int = 170
    chunk_overlap_tokens: int = 40
    # Answering: "auto" generates with the LLM when one is configured, else quotes.
    answerer: str = "auto"
    max_answer_sentences: int = 4
    # Language model (see llms.py): "" (none), llamacpp:/path.gguf, llamacpp:smollm2,
    # openai:<model> with llm_base_url, ollama:<model>.
    llm: str = ""
    llm_base_url: str = ""
    llm_timeout: float = 30.0          # seconds for a whole reply; then the extractive answer
    llm_max_tokens: int = 200
    llm_temperature: float = 0.0
    llm_context_window: int = 4096
    unsupported: str = "drop"          # generated sentences the passages do not support: drop or mark
    # Abstain when P(the passages answer the question) is below this. Empty: the threshold fitted
    # with the answerer's model by `qa calibrate --fit corpus/eval/suite.toml` (evidence_model.json).
    abstain_threshold: float | None = None
    max_question_chars: int = 2000
    # Ingest
    # What runs the embedding model (qa/embedding.py): onnx (ONNX Runtime fp32 for documents and
    # questions), bf16 (documents in PyTorch under bfloat16 autocast, questions in ONNX Runtime), or
    # torch (PyTorch fp32 for both, the path before ONNX). All agree to cosine >= 0.999.
    embedding_runtime: str = "onnx"
    auto_ingest: bool = True
    progress: bool = True
    max_upload_bytes: int = 5_000_000
    # Web app
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str = ""              # "user:password" turns on the login page
    concurrency: int = 4        # questions answered at once; the rest wait in the queue
    # A conversation keeps its last max_history_turns turns, and fewer when they hold more than
    # max_history_chars characters: older turns are dropped (follow-ups only need recent ones).
    max_history_turns: int = 50
    max_history_chars: int = 200_000
    monitoring: bool = False    # Gradio's /monitoring dashboard (its secret URL goes to the log)
    # True when index_dir was derived from corpus_dir rather than set: replace(corpus_dir=...)
    # then derives it again instead of keeping the previous corpus's index.
    index_dir_derived: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "corpus_dir", Path(self.corpus_dir))
        if self.index_dir is None:
            object.__setattr__(self, "index_dir", derived_index_dir(self.corpus_dir))
            object.__setattr__(self, "index_dir_derived", True)
        else:
            object.__setattr__(self, "index_dir", Path(self.index_dir))
        if self.retrieval_mode not in RETRIEVAL_MODES:
            raise ConfigError(
                f"retrieval_mode={self.retrieval_mode!r} is not one of {', '.join(RETRIEVAL_MODES)} "
                f"(set QA_RETRIEVAL_MODE or retrieval_mode in qa.toml)"
            )
        if self.answerer not in ANSWERERS:
            raise ConfigError(f"answerer={self.answerer!r} is not one of {', '.join(ANSWERERS)}")
        if self.answerer == "llm" and not self.llm.strip():
            raise ConfigError("answerer=llm needs a language model: set llm (QA_LLM), e.g. llamacpp:smollm2")
        if self.llm.strip() and self.llm.split(":", 1)[0].lower() not in ("llamacpp", "openai", "ollama"):
            raise ConfigError(f"llm={self.llm!r} is not understood; use llamacpp:/path/model.gguf, "
                              f"llamacpp:smollm2, openai:<model> or ollama:<model>")
        if self.embedding_runtime not in EMBEDDING_RUNTIMES:
            raise ConfigError(f"embedding_runtime={self.embedding_runtime!r} is not one of "
                              f"{', '.join(EMBEDDING_RUNTIMES)} (QA_EMBEDDING_RUNTIME or embedding_runtime in qa.toml)")
        if self.unsupported not in UNSUPPORTED:
            raise ConfigError(f"unsupported={self.unsupported!r} is not one of {', '.join(UNSUPPORTED)}")
        if self.llm_timeout <= 0:
            raise ConfigError(f"llm_timeout must be more than 0 seconds, got {self.llm_timeout}")
        for name in ("top_k", "candidates_per_retriever", "chunk_tokens", "max_answer_sentences", "max_question_chars",
                     "llm_max_tokens", "llm_context_window", "max_upload_bytes", "max_history_turns",
                     "max_history_chars", "concurrency"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.chunk_overlap_tokens < self.chunk_tokens:
            raise ConfigError("chunk_overlap_tokens must be at least 0 and smaller than chunk_tokens")
        object.__setattr__(self, "chroma_url", _checked_chroma_url(self.chroma_url))

    def replace(self, **overrides: Any) -> "Settings":
        known = set(_field_types())
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        values = {k: _coerce(k, v) for k, v in overrides.items()}
        if self.index_dir_derived and "index_dir" not in values:
            values["index_dir"] = None  # derived again, from the (possibly new) corpus_dir
        return dataclasses.replace(self, **values)

    def for_call(self, **overrides: Any) -> "Settings":
        """These settings with one question's overrides; a setting that cannot change per
        question is refused, not ignored."""
        if not overrides:
            return self
        known = set(_field_types())
        fixed = sorted(name for name in overrides if name in known and name not in PER_CALL)
        if fixed:
            raise ConfigError(f"{', '.join(fixed)} cannot change per question; set it when the Assistant is made "
                              f"(qa.Assistant({fixed[0]}=...), qa.toml or QA_{fixed[0].upper()}). Per question: "
                              f"{', '.join(sorted(PER_CALL))}")
        return self.replace(**overrides)

    def chunker_config(self) -> dict[str, Any]:
        return {"name": "qa.sentence-packer/2", "chunk_tokens": self.chunk_tokens,
                "chunk_overlap_tokens": self.chunk_overlap_tokens, "tokenizer": "cl100k_base"}


def derived_index_dir(corpus_dir: Path) -> Path:
    """The index folder of a corpus when index_dir is not set: index/ for the shipped corpus/,
    index/corpora/<folder name>-<hash of its resolved path>/ for any other folder. The same
    folder gets the same index however it is spelled (relative, absolute, through a link);
    two folders never share one, so switching between them never rebuilds either."""
    resolved = _resolved(corpus_dir)
    if resolved == _resolved(DEFAULT_CORPUS):
        return DEFAULT_INDEX
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", resolved.name).strip("-.")[:40] or "corpus"
    digest = hashlib.sha256(str(resolved).encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return DEFAULT_INDEX / "corpora" / f"{name}-{digest}"


def _resolved(path: Path) -> Path:
    return Path(path).expanduser().resolve()


def _checked_chroma_url(url: str) -> str:
    """'' or a normalised http(s)://host:port (no path, no trailing slash)."""
    url = url.strip()
    if not url:
        return ""
    example = "e.g. http://127.0.0.1:8000 for `chroma run --path chroma-data --port 8000`"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"chroma_url={url!r} is not a valid URL ({exc}); {example}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise ConfigError(f"chroma_url={url!r} must be http(s)://host:port (set QA_CHROMA_URL or chroma_url "
                          f"in qa.toml), {example}")
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise ConfigError(f"chroma_url={url!r} must be only http(s)://host:port, without a path, query or user; "
                          f"{example}")
    return f"{parts.scheme}://{parts.netloc}"


def _field_types() -> dict[str, Any]:
    """The settings a user can set (not the derived bookkeeping fields), with their types."""
    return {f.name: f.type for f in fields(Settings) if f.init}


def _coerce(name: str, value: Any) -> Any:
    kind = _field_types()[name]
    try:
        if kind == "Path | None":
            return None if value is None or str(value).strip() == "" else Path(value).expanduser()
        if kind == "Path":
            return Path(value).expanduser()
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "float | None":
            return None if value is None or str(value).strip() == "" else float(value)
        if kind == "bool":
            if isinstance(value, str):
                if value.strip().lower() in ("1", "true", "yes", "on"):
                    return True
                if value.strip().lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name} expects {kind}, got {value!r}") from None


def load_settings(config_file: Path | None = None, environ: Mapping[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Resolve settings: defaults < qa.toml (or QA_CONFIG) < QA_* variables < overrides."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or Path(environ.get("QA_CONFIG", "qa.toml"))
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        values.update(data.get("qa", data))
    known = _field_types()
    for name in known:
        env_name = ENV_PREFIX + name.upper()
        if env_name in environ:
            values[name] = environ[env_name]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings().replace(**values)


__all__ = ["Settings", "ConfigError", "load_settings", "derived_index_dir", "RETRIEVAL_MODES", "ANSWERERS",
           "UNSUPPORTED", "PER_CALL", "EMBEDDING_RUNTIMES"]
