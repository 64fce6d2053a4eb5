"""The shipped MiniLM in ONNX Runtime: exported once from the shipped weights, run without torch.

The export (torch.onnx, eager attention) is made on first use, locally, and cached in the
index folder under models/, in a folder named by a key of the model, this exporter, torch,
transformers and onnxruntime: a change of any of them exports again; otherwise every process
loads the cached file. What is cached is the graph as onnxruntime optimises it (its extended,
hardware-independent level), which halves the session's start.

Questions are embedded here with no torch in the process: the model's own fast tokenizer
(tokenizer.json, through `tokenizers`), onnxruntime, then mean pooling over the attention mask
and L2 normalisation in numpy, as sentence-transformers does for this model (modules.json:
Transformer with max_seq_length 256, mean-token Pooling, Normalize). The vectors agree with
sentence-transformers' PyTorch fp32 ones to cosine 1.00000 (tests/test_embedding_runtimes.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import uuid
import warnings
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Iterator

log = logging.getLogger("qa")

# Raise when the export below changes what it writes: cached exports are then made again.
EXPORTER_VERSION = 1
OPSET = 17
BATCH = 32
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# The export is checked against PyTorch on a few texts before it is cached.
_EXPORT_CHECK_COSINE = 0.9999
_CHECK_TEXTS = ("The convoy crossed the border at dawn.",
                "  Short one.  ",
                "A longer passage, with punctuation; numbers such as 1,250 and 3.5%, and names like "
                "Qassem Soleimani, so that the sequences in the batch differ in length and padding is used.")


class ExportFailed(RuntimeError):
    """The ONNX export could not be made or did not match PyTorch; the message says why."""


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def export_key(model: dict[str, Any]) -> dict[str, Any]:
    """What an export depends on: the model, this exporter, and the libraries that made and run it."""
    return {"model": model, "exporter": EXPORTER_VERSION, "opset": OPSET,
            **{name: _package_version(name) for name in ("torch", "transformers", "onnx", "onnxruntime")}}


def export_dir(cache_dir: Path, key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"minilm-onnx-{digest}"


_export_lock = threading.Lock()
# Exports this process made or found, by folder name (the key): another index folder with the
# same key gets a copy (a hard link where it can) instead of a new export.
_known: dict[str, Path] = {}


def cached_export(cache_dir: Path, model_dir: Path, model: dict[str, Any]) -> Path:
    """The path of the optimised ONNX model for this key, exporting it first when it is not
    cached (which imports torch, ~5 s). A failed export is remembered in the key's folder, so
    that later processes do not try again until the key changes; ExportFailed says why."""
    key = export_key(model)
    folder = export_dir(cache_dir, key)
    path = folder / "model.onnx"
    if path.is_file():
        _known.setdefault(folder.name, path)
        _remove_abandoned(folder.parent)
        return path
    failed = folder / "export-failed.txt"
    if failed.is_file():
        raise ExportFailed(failed.read_text(encoding="utf-8").strip())
    with _export_lock:
        if path.is_file():
            return path
        try:
            _make(folder, model_dir, key)
        except ExportFailed as exc:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                failed.write_text(f"{exc}\n", encoding="utf-8")
            except OSError:  # a folder qa cannot write: the next process tries again
                pass
            raise
        _remove_other_exports(folder)
        _known[folder.name] = path
    return path


def _make(folder: Path, model_dir: Path, key: dict[str, Any]) -> None:
    """Export (or link this process's export of the same key) into a staging folder, then rename
    it into place: a process killed while exporting leaves no half-written model, and of two
    processes exporting at once, each ends with a whole one."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(folder.parent)
        staging = folder.parent / f".{folder.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        staging.mkdir()
    except OSError as exc:
        raise ExportFailed(f"the ONNX export cannot be written in {folder.parent} ({exc})") from None
    try:
        known = _known.get(folder.name)
        if known is not None and known.is_file():
            _link_or_copy(known, staging / "model.onnx")
        else:
            _export(model_dir, staging)
        (staging / "key.json").write_text(json.dumps(key, indent=2, sort_keys=True), encoding="utf-8")
        try:
            os.replace(staging, folder)
        except OSError:
            if not (folder / "model.onnx").is_file():  # not another process's export, there first
                raise
    except OSError as exc:
        raise ExportFailed(f"the ONNX export could not be saved in {folder.parent} ({exc})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copyfile(source, target)


def _remove_abandoned(cache_dir: Path) -> None:
    """Staging folders of exports whose process was killed (.<key>.<pid>.<random>)."""
    for staging in cache_dir.glob(".minilm-onnx-*"):
        try:
            pid = int(staging.name.split(".")[2])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(staging, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue


def _remove_other_exports(keep: Path) -> None:
    for other in keep.parent.glob("minilm-onnx-*"):
        if other != keep and other.is_dir():
            shutil.rmtree(other, ignore_errors=True)


def _export(model_dir: Path, out: Path) -> None:
    """Export the shipped weights to out/model.onnx (optimised), checked against PyTorch."""
    try:
        import numpy as np
        import onnxruntime as ort
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise ExportFailed(f"exporting the embedding model to ONNX needs torch, transformers and onnxruntime "
                           f"({exc})") from None

    class Wrapped(torch.nn.Module):
        # transformers 5 changed forward's positional order: keywords only.
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    raw = out / "raw.onnx"
    try:
        model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager", dtype=torch.float32).eval()
        tokenizer = new_tokenizer(model_dir)
        feed = _feed(tokenizer, list(_CHECK_TEXTS))
        sample = tuple(torch.from_numpy(feed[name]) for name in _INPUTS)
        axes = {name: {0: "batch", 1: "sequence"} for name in (*_INPUTS, "last_hidden_state")}
        # eval(): a new Module is in training mode, which the export restores afterwards, dropout included.
        wrapped = Wrapped(model).eval()
        with torch.no_grad(), _quiet_export_warnings():
            expected = _pool(wrapped(*sample).numpy(), feed["attention_mask"])
            torch.onnx.export(wrapped, sample, str(raw), input_names=list(_INPUTS),
                              output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=OPSET,
                              dynamo=False)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(out / "model.onnx")
        ort.InferenceSession(str(raw), options, providers=["CPUExecutionProvider"])
        session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
        got = _pool(session.run(None, feed)[0], feed["attention_mask"])
    except ExportFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - torch.onnx raises many kinds; all mean "no export"
        raise ExportFailed(f"exporting the embedding model to ONNX failed ({type(exc).__name__}: {exc})") from None
    finally:
        raw.unlink(missing_ok=True)
    worst = float(np.min(np.sum(expected * got, axis=1)))
    if worst < _EXPORT_CHECK_COSINE:
        raise ExportFailed(f"the ONNX export does not match PyTorch (cosine {worst:.5f} < {_EXPORT_CHECK_COSINE})")


@contextmanager
def _quiet_export_warnings() -> Iterator[None]:
    """torch.onnx's tracer warns about Python-value branches in transformers' mask code; the
    check after the export is what says whether the graph is right."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def new_tokenizer(model_dir: Path):
    """The model's fast tokenizer, set up as sentence-transformers calls it: truncation at
    max_seq_length and padding to the longest text of a batch."""
    from tokenizers import Tokenizer

    config = json.loads((Path(model_dir) / "sentence_bert_config.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=int(config["max_seq_length"]))
    pad = tokenizer.token_to_id("[PAD]")
    tokenizer.enable_padding(pad_id=0 if pad is None else pad, pad_token="[PAD]")
    return tokenizer


def _feed(tokenizer, texts: list[str]) -> dict[str, Any]:
    import numpy as np

    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _pool(hidden, mask):
    """Mean of the token vectors over the attention mask, then unit length (sentence-transformers'
    Pooling(mean) and Normalize, with their epsilons)."""
    import numpy as np

    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    mean = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    return mean / np.clip(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12, None)


class OnnxEmbedder:
    """The Embedder seam over an ONNX export of the shipped model (no torch)."""

    runtime = "onnx"

    def __init__(self, model_path: Path, model_dir: Path, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: one per physical core
        # Passive waiting between calls: a spinning pool takes the cores that llama.cpp, in the
        # same process, needs to generate (see qa/__init__.py on OpenMP).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = new_tokenizer(model_dir)
        self.model_path = Path(model_path)
        self.dimensions = int(self._session.get_outputs()[0].shape[-1])

    def embed(self, texts: list[str]):  # -> np.ndarray of unit vectors, float32
        """Unit vectors, one row per text. Texts are batched by length (as sentence-transformers
        does), so that a long text does not make short ones pay for its padding."""
        import numpy as np

        # sentence-transformers strips each text before tokenising it.
        texts = [str(t).strip() for t in texts]
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), BATCH):
            rows = order[start:start + BATCH]
            feed = _feed(self._tokenizer, [texts[i] for i in rows])
            hidden = self._session.run(None, feed)[0]
            out[rows] = _pool(hidden, feed["attention_mask"])
        return out

    def get_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return self.embed(list(texts)).tolist()

    def get_query_embedding(self, query: str) -> list[float]:
        return self.embed([query])[0].tolist()

    def get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0].tolist()


__all__ = ["OnnxEmbedder", "ExportFailed", "cached_export", "export_key", "export_dir", "new_tokenizer",
           "EXPORTER_VERSION"]
