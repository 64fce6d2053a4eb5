"""Embedding throughput of each runtime, and of qa's ingest, on the same text, in one run.

    .venv/bin/python benchmarks/embedding.py [--corpus DIR] [--rounds 3] [--limit N]

The texts are what qa's ingest embeds for the folder (its chunks with their header lines).
Each round times, in turn:
  - sentence-transformers directly, PyTorch fp32 (batches of 32, as ingest sends them) - the
    reference every cosine is measured against;
  - each runtime behind qa's Embedder seam (qa.embedding): torch, bf16, onnx;
  - `qa ingest --rebuild` of the folder under each runtime (onnx is the default), each into its
    own index under a temporary folder (the ONNX export is made before timing).
Rounds are interleaved, so a busy machine slows every runtime alike; the table gives the
median of the rounds and the ratios are taken within each round, then their median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def chunk_texts(corpus: Path) -> list[str]:
    """The texts ingest embeds for the folder, in order."""
    from qa.chunking import chunk_document
    from qa.config import Settings
    from qa.corpus import load_corpus
    from qa.index import chunk_to_node, embed_text

    settings = Settings(corpus_dir=corpus)
    return [embed_text(chunk_to_node(chunk)) for doc in load_corpus(corpus).documents
            for chunk in chunk_document(doc, settings.chunk_tokens, settings.chunk_overlap_tokens)]


def timed(embed, texts: list[str]):
    import numpy as np

    started = time.perf_counter()
    vectors = np.asarray(embed(texts), dtype=np.float32)
    return len(texts) / (time.perf_counter() - started), vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="embed only the first N chunks (0: all)")
    parser.add_argument("--no-ingest", action="store_true", help="time the embedders only")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import numpy as np

    from qa.config import Settings
    from qa.embedding import cpu_has_bf16, document_embedder, load_embedder
    from qa.index import CorpusIndex

    texts = chunk_texts(args.corpus)
    if args.limit:
        texts = texts[:args.limit]
    scratch = Path(tempfile.mkdtemp(prefix="qa-bench-embedding-"))

    def settings(runtime: str, name: str) -> Settings:
        return Settings(corpus_dir=args.corpus, index_dir=scratch / name, embedding_runtime=runtime, progress=False)

    model = load_embedder()._model  # the SentenceTransformer under the torch runtime

    def raw(batch: list[str]):
        return model.encode(batch, batch_size=32, normalize_embeddings=True, show_progress_bar=False)

    embedders = {"torch": document_embedder(settings("torch", "torch")),
                 "bf16": document_embedder(settings("bf16", "bf16")),
                 "onnx": document_embedder(settings("onnx", "onnx"))}
    default = Settings().embedding_runtime
    for embedder in (raw, *(e.get_text_embedding_batch for e in embedders.values())):
        embedder(texts[:8])  # warm: first-call allocations are not throughput

    speed: dict[str, list[float]] = {}
    cosine: dict[str, np.ndarray] = {}
    reference = None
    for _ in range(args.rounds):
        rate, reference = timed(raw, texts)
        speed.setdefault("sentence-transformers, PyTorch fp32", []).append(rate)
        for name, embedder in embedders.items():
            rate, vectors = timed(embedder.get_text_embedding_batch, texts)
            speed.setdefault(f"qa embedder: {name}", []).append(rate)
            cosine[f"qa embedder: {name}"] = np.sum(vectors * reference, axis=1)
        if not args.no_ingest:
            for runtime in ("torch", "onnx", "bf16"):
                index = CorpusIndex(settings(runtime, f"ingest-{runtime}"))
                report = index.ingest(rebuild=True)
                speed.setdefault(f"qa ingest --rebuild: {runtime}", []).append(report.chunks / report.seconds)

    def median(name: str) -> float:
        return statistics.median(speed[name])

    def ratio(top: str, bottom: str) -> str:
        ratios = [a / b for a, b in zip(speed[top], speed[bottom])]
        return f"{statistics.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"

    print(f"{len(texts)} chunks of {args.corpus} ({statistics.mean(len(t.split()) for t in texts):.0f} words on "
          f"average); {os.cpu_count()} cores; native bfloat16: {'yes' if cpu_has_bf16() else 'no'}; default "
          f"runtime: {default}; {args.rounds} rounds\n")
    print("| runtime | chunks/s (median) | rounds | cosine to PyTorch fp32 (min / mean) |")
    print("|---|---:|---|---|")
    for name, rates in speed.items():
        found = cosine.get(name)
        agreement = f"{found.min():.5f} / {found.mean():.5f}" if found is not None else "–"
        print(f"| {name} | {median(name):.1f} | {', '.join(f'{r:.1f}' for r in rates)} | {agreement} |")
    print()
    st, torch_embedder = "sentence-transformers, PyTorch fp32", "qa embedder: torch"
    ingest_default, ingest_torch = f"qa ingest --rebuild: {default}", "qa ingest --rebuild: torch"
    print(f"- default embedder ({default}) ÷ the torch runtime: {ratio(f'qa embedder: {default}', torch_embedder)}")
    print(f"- bf16 ÷ the torch runtime: {ratio('qa embedder: bf16', torch_embedder)}")
    if not args.no_ingest:
        print(f"- qa ingest, default ({default}) ÷ torch runtime: {ratio(ingest_default, ingest_torch)}")
        print(f"- qa ingest, bf16 ÷ torch runtime: {ratio('qa ingest --rebuild: bf16', ingest_torch)}")
        print(f"- qa ingest, default ÷ sentence-transformers directly: {ratio(ingest_default, st)}")
        print(f"- qa ingest, torch ÷ sentence-transformers directly: {ratio(ingest_torch, st)}")


if __name__ == "__main__":
    main()
