"""The embedding runtimes behind the Embedder seam: ONNX Runtime and bf16 agree with PyTorch
fp32 on real questions and chunks, the ONNX export is cached and keyed, a failed export falls
back to PyTorch and says so, the question path never imports torch (nor llama-index), and the
manifest's record of the runtime that made the vectors is enforced."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, REPO

from qa import onnx_embedding
from qa.assistant import Assistant
from qa.chunking import chunk_document
from qa.config import ConfigError, Settings
from qa.corpus import load_corpus
from qa.embedding import (
    Bf16Embedder,
    cpu_has_bf16,
    document_embedder,
    load_embedder,
    model_dir,
    model_info,
    question_embedder,
    resolve_runtime,
    runtime_of,
)
from qa.errors import IndexUnavailable
from qa.eval import load_eval_set
from qa.index import CorpusIndex, chunk_to_node, embed_text

QUESTION = "How many Hezbollah fighters had died in Syria?"
HEAVY = ("torch", "transformers", "sentence_transformers", "llama_index.core")


def eval_questions() -> list[str]:
    return [item.question for name in ("aleppo.jsonl", "aleppo-heldout.jsonl")
            for item in load_eval_set(CORPUS / "eval" / name)]


def corpus_chunks() -> list[str]:
    return [embed_text(chunk_to_node(chunk)) for doc in load_corpus(CORPUS).documents
            for chunk in chunk_document(doc, 170, 40)]


def cosines(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnx_and_bf16_agree_with_pytorch_on_the_evaluation_questions_and_the_chunks(shipped):
    """What makes an index of one runtime searchable with questions of another: cosine >= 0.999
    to PyTorch fp32 on every evaluation question (as a question) and every shipped chunk."""
    questions, chunks = eval_questions(), corpus_chunks()
    assert len(questions) >= 90 and len(chunks) >= 40
    torch_fp32 = load_embedder()
    onnx = question_embedder(shipped.replace(embedding_runtime="onnx"))
    assert runtime_of(onnx) == "onnx" and runtime_of(torch_fp32) == "torch"
    reference_q = [torch_fp32.get_query_embedding(q) for q in questions]
    reference_c = torch_fp32.get_text_embedding_batch(chunks)
    assert cosines([onnx.get_query_embedding(q) for q in questions], reference_q).min() >= 0.9999
    assert cosines(onnx.get_text_embedding_batch(chunks), reference_c).min() >= 0.9999
    if not cpu_has_bf16():
        pytest.skip("this CPU has no native bfloat16: bf16 would be emulated")
    bf16 = Bf16Embedder(torch_fp32._model)
    assert cosines([bf16.get_query_embedding(q) for q in questions], reference_q).min() >= 0.999
    assert cosines(bf16.get_text_embedding_batch(chunks), reference_c).min() >= 0.999


def test_the_onnx_embedder_pools_like_sentence_transformers_on_awkward_texts(shipped):
    """Truncation at 256 word pieces, padding in a batch of mixed lengths, an empty text,
    surrounding spaces, non-Latin text: the same vectors as sentence-transformers."""
    texts = ["", "   padded   ", "Qassem Soleimani " * 300, "短い文です。", "x", "A sentence.\n\nAnother one."]
    got = question_embedder(shipped.replace(embedding_runtime="onnx")).get_text_embedding_batch(texts)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert cosines(got, load_embedder().get_text_embedding_batch(texts)).min() >= 0.9999


def test_the_export_is_made_once_and_again_when_its_key_changes(tmp_path, monkeypatch):
    cache = tmp_path / "models"
    monkeypatch.setattr(onnx_embedding, "_known", {})
    first = onnx_embedding.cached_export(cache, model_dir(), model_info())
    assert first.is_file() and first.parent.parent == cache
    assert json.loads((first.parent / "key.json").read_text())["exporter"] == onnx_embedding.EXPORTER_VERSION
    made = first.stat().st_mtime_ns

    exports: list[Path] = []

    def fake_export(model: Path, out: Path) -> None:
        exports.append(out)
        (out / "model.onnx").write_bytes(b"stand-in")

    monkeypatch.setattr(onnx_embedding, "_export", fake_export)
    monkeypatch.setattr(onnx_embedding, "_known", {})  # as a new process: only the disk
    assert onnx_embedding.cached_export(cache, model_dir(), model_info()) == first
    assert exports == [] and first.stat().st_mtime_ns == made

    killed = cache / ".minilm-onnx-0123.999999999.abcd"  # an export whose process was killed
    running = cache / f".minilm-onnx-0123.{os.getpid()}.abcd"  # one in progress
    killed.mkdir()
    running.mkdir()
    monkeypatch.setattr(onnx_embedding, "EXPORTER_VERSION", onnx_embedding.EXPORTER_VERSION + 1)
    second = onnx_embedding.cached_export(cache, model_dir(), model_info())
    assert len(exports) == 1 and second != first and second.read_bytes() == b"stand-in"
    assert not first.parent.exists(), "the export of the old key is removed"
    assert not killed.exists() and running.exists()
    other_model = {**model_info(), "package_version": "9.9"}
    assert onnx_embedding.cached_export(cache, model_dir(), other_model).parent != second.parent
    assert len(exports) == 2


def test_a_failed_export_falls_back_to_pytorch_once_and_says_how_to_retry(tmp_path, monkeypatch, caplog):
    calls = []

    def broken(model: Path, out: Path) -> None:
        calls.append(out)
        raise onnx_embedding.ExportFailed("exporting the embedding model to ONNX failed (simulated)")

    monkeypatch.setattr(onnx_embedding, "_export", broken)
    monkeypatch.setattr(onnx_embedding, "_known", {})
    settings = Settings(corpus_dir=CORPUS, index_dir=tmp_path / "index", embedding_runtime="onnx")
    with caplog.at_level(logging.WARNING, logger="qa"):
        embedder = question_embedder(settings)
    assert runtime_of(embedder) == "torch"
    assert "failed (simulated); embedding with PyTorch instead" in caplog.text
    assert "QA_EMBEDDING_RUNTIME=torch" in caplog.text and str(tmp_path / "index" / "models") in caplog.text
    assert runtime_of(document_embedder(settings)) == "torch"  # ingest falls back the same way
    assert len(calls) == 1, "the failure is remembered, not retried by every call"
    assert list((tmp_path / "index" / "models").glob("*/export-failed.txt"))


def test_the_manifest_records_the_runtime_and_refuses_one_it_does_not_know(shipped, tmp_path):
    manifest = CorpusIndex(shipped).manifest()
    assert manifest["embedding_runtimes"] == ["onnx"]
    copy = tmp_path / "index"
    shutil.copytree(shipped.index_dir, copy, ignore=shutil.ignore_patterns("models"))
    settings = shipped.replace(index_dir=copy)
    build = CorpusIndex(settings).current_build()
    data = json.loads((build / "manifest.json").read_text())
    data["embedding_runtimes"] = ["torch", "int4-experimental"]
    (build / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexUnavailable, match="int4-experimental.*qa ingest --rebuild"):
        Assistant(settings).ask(QUESTION)
    data["embedding_runtimes"] = ["torch"]  # an index of the PyTorch path answers ONNX questions
    (build / "manifest.json").write_text(json.dumps(data))
    assert Assistant(settings.replace(embedding_runtime="onnx")).ask(QUESTION).citations


def test_an_unknown_runtime_setting_is_refused():
    with pytest.raises(ConfigError, match="embedding_runtime='cuda'.*onnx, bf16, torch"):
        Settings(embedding_runtime="cuda")
    with pytest.raises(ValueError, match="'auto' is not one of onnx, bf16, torch"):
        resolve_runtime("auto")
    assert Settings().embedding_runtime == "onnx"


def test_bf16_needs_the_cpu_flag(tmp_path):
    (tmp_path / "with").write_text("flags\t\t: fpu sse avx512f avx512_bf16 avx512_vnni\n")
    (tmp_path / "without").write_text("flags\t\t: fpu sse avx2 avx512f avx512_vnni\n")
    assert cpu_has_bf16(tmp_path / "with") and not cpu_has_bf16(tmp_path / "without")
    assert not cpu_has_bf16(tmp_path / "missing")


@pytest.mark.slow
def test_the_question_path_imports_neither_torch_nor_llama_index(shipped):
    """`import qa; qa.ask(...)` on a built index, in a new process: ONNX Runtime embeds the
    question, chromadb and bm25s search, nothing loads torch, transformers or llama-index."""
    code = ("import sys, qa; answer = qa.ask(sys.argv[1]); assert answer.citations, answer.text; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    env = {"QA_INDEX_DIR": str(shipped.index_dir), "QA_CORPUS_DIR": str(CORPUS), "QA_PROGRESS": "false"}
    done = subprocess.run([sys.executable, "-c", code, QUESTION], capture_output=True, text=True, cwd=REPO,
                          env={**_environ(), **env}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_qa_help_imports_almost_nothing():
    code = ("import sys\nfrom qa.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'chromadb', 'onnxruntime', 'qa.assistant', *" + repr(HEAVY)
            + ") if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=_environ(),
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage: qa" in done.stdout and done.stdout.strip().splitlines()[-1] == "[]"


def _environ() -> dict[str, str]:
    return dict(os.environ)
