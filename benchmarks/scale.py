"""Indexing and question latency from the shipped five articles up to 100k chunks, beside
the llama-index baseline, printed as tables and checked against targets.

    make bench-scale                                   # installs the Debian packages, runs all tiers
    .venv/bin/python benchmarks/scale.py [--sizes 5-articles,1000,10000,100000] [--questions N]
        [--work-dir bench-data] [--skip-baseline] [--reindex] [--model-sample 2048] [--json FILE]

The large corpus is real documentation installed from Debian (linux-doc-6.1 and
openjdk-17-doc; see benchmarks/scale_corpus.py), converted once into WORK/text/ and cut into
nested tiers: each tier is the files of the one below plus more, in a fixed order, until our
chunker's count reaches the size asked for. The documents the questions
(benchmarks/scale_questions.jsonl) come from are first, so every tier of 1,000 chunks or
more holds their answers. The smallest tier is the shipped corpus with its own questions
(corpus/eval/aleppo.jsonl).

For each tier, each in a child process of its own (peak RSS read from that process):
  ingest     ours: a full build (ingest --rebuild) with default settings; chunks/s, time per
             phase, peak RSS. Skipped when the tier's index is current (figures from the
             run that built it are shown, marked "cached"), unless --reindex.
  model      the embedding model alone (sentence-transformers encode, batches of 32, as
             ingest does) on the same chunk texts (title header included): whole documents
             of the tier spread evenly, --model-sample chunks (all of a smaller tier).
  update     an incremental update: a median-sized file gets a new paragraph, on a copy of
             the tier's corpus and index; seconds per phase (copying the previous build's
             store, embedding, BM25) and peak RSS.
  baseline   llama-index defaults (SimpleDirectoryReader, SentenceSplitter 1024/200,
             VectorStoreIndex in Chroma, same model); rebuilt only when its fingerprint changed.
  questions  after one warm-up question: retrieval alone (embed the question + hybrid
             retrieve, top 5) for every question, then full extractive answers
             (Assistant.ask/trace); the same for the baseline (top-2 dense, its answerer).

Targets, printed with PASS/FAIL: retrieval p95 < 100 ms and full answer p95 < 300 ms at
100k chunks; indexing at least 80% of the model alone's chunks/s (the ratio by CPU time is
shown too: steadier when other work shares the cores); memory is stated.

A tier ends with the file that reaches its size, so it can hold more chunks than asked
(the default tiers hold 49, 1,008, 10,004 and 100,226; the whole corpus 116,987); the
tables show the real counts, and the 100k targets are checked at the first tier of at
least 100,000 chunks.

A full run embeds about 111k chunks for ours (and 8k more for the model alone) and 21k
nodes for the baseline: about 2.5 hours on 2 idle cores (the embedding model does 14-18
chunks/s of these documents), more when other work shares the cores. The first run also converts
the packages (~2.5 min) and counts chunks (~5 min). Built indexes stay in
WORK/tiers/<size>/, so a second run only asks the questions again (a few minutes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

ARTICLES = "5-articles"
DEFAULT_SIZES = f"{ARTICLES},1000,10000,100000"
DOC_QUESTIONS = Path(__file__).resolve().parent / "scale_questions.jsonl"
ARTICLE_QUESTIONS = ROOT / "corpus" / "eval" / "aleppo.jsonl"
ARTICLE_WARMUP = "Who commands the Quds Force?"
EMBED_BATCH = 32  # what CorpusIndex._embed uses
# Targets, checked at the first tier of at least TARGET_CHUNKS chunks.
TARGET_CHUNKS = 100_000
TARGET_RETRIEVAL_P95_MS = 100.0
TARGET_ANSWER_P95_MS = 300.0
TARGET_INDEX_RATIO = 0.80  # ours chunks/s at least this share of the model alone


# Small helpers --------------------------------------------------------------------------
def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_s() -> float:
    """CPU seconds of this process (all threads): steadier than wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def disk_mb(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total / 1e6


def norm(text: str) -> str:
    return " ".join(text.split()).lower()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fmt_s(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def load_questions(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """(warm-up question, questions) from a JSON Lines set: id, question, history, answers,
    evidence, type, and optionally source (the corpus file that answers it)."""
    warmup, items = "", []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        if data.get("type") == "warmup":
            warmup = data["question"]
            continue
        items.append({"id": data["id"], "question": data["question"], "history": data.get("history") or [],
                      "answers": data.get("answers") or [], "evidence": data.get("evidence") or [],
                      "type": data.get("type", "single"), "source": data.get("source", "")})
    return warmup, items


def tier_settings(tier: dict[str, Any]):
    from qa.config import Settings

    # Defaults, not qa.toml or QA_* variables: the benchmark measures the default pipeline.
    return Settings(corpus_dir=Path(tier["corpus"]), index_dir=Path(tier["index"]), progress=False,
                    auto_ingest=False)


def timed(fn: Callable, name: str, totals: dict[str, float]) -> Callable:
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - started
    wrapper.__wrapped__ = fn
    return wrapper


class Progress:
    """progress(done, total) for long embeddings: a line every 30 s with rate and ETA."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.perf_counter()
        self.last = self.started

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.last < 30 and done < total:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        eta = (total - done) / rate if rate else 0
        log(f"    {self.label}: {done:,}/{total:,} embedded, {rate:.1f}/s, {fmt_s(eta)} left")


# Child processes ----------------------------------------------------------------------------
def _load_model() -> tuple[Any, float]:
    from qa.embedding import load_embedder

    started = time.perf_counter()
    embedder = load_embedder()
    embedder.get_text_embedding("warm up")
    return embedder, time.perf_counter() - started


def child_ingest(tier: dict[str, Any], args) -> dict[str, Any]:
    """A full build of our index, timed by phase."""
    import qa.index as qi

    embedder, model_load = _load_model()
    rss_model = peak_rss_mb()
    phases = _time_ingest_phases()
    index = qi.CorpusIndex(tier_settings(tier))
    cpu = cpu_s()
    report = index.ingest(rebuild=True, progress=Progress(f"[{tier['label']}] ours"))
    cpu = cpu_s() - cpu
    phases["other"] = max(0.0, report.seconds - sum(phases.values()))
    return {"chunks": report.chunks, "embedded": report.embedded, "files": len(report.added + report.updated
                                                                                 + report.unchanged),
            "skipped_files": len(report.skipped), "seconds": report.seconds,
            "chunks_per_s": report.chunks / report.seconds if report.seconds else 0.0,
            "cpu_s": cpu, "chunks_per_cpu_s": report.chunks / cpu if cpu else 0.0, "phases_s": phases,
            "model_load_s": model_load, "rss_after_model_mb": rss_model,
            "peak_rss_mb": peak_rss_mb(), "build": report.build, "measured": time.strftime("%Y-%m-%d %H:%M")}


def _time_ingest_phases() -> dict[str, float]:
    """Seconds per phase of CorpusIndex.ingest, filled in as it runs: it is timed without
    being changed, by wrapping what it calls."""
    from llama_index.vector_stores.chroma import ChromaVectorStore

    import qa.index as qi
    import qa.store as qs

    phases: dict[str, float] = {}
    for name, attr in (("load + clean", "load_corpus"), ("chunk", "chunk_document"), ("nodes", "chunk_to_node"),
                       ("bm25 + terms", "build_bm25")):
        if hasattr(qi, attr):
            setattr(qi, attr, timed(getattr(qi, attr), name, phases))
    qi.CorpusIndex._embed = timed(qi.CorpusIndex._embed, "embed", phases)
    ChromaVectorStore.add = timed(ChromaVectorStore.add, "chroma add", phases)
    # This wraps shutil.copytree for the whole (child) process: call it after any copying of your own.
    qs.shutil.copytree = timed(qs.shutil.copytree, "copy previous store", phases)
    return phases


def child_update(tier: dict[str, Any], args) -> dict[str, Any]:
    """An incremental update of the built tier: one file changed. It runs on a copy of the
    tier's corpus and index, so the tier's own index (and its cached figures) stay as they are."""
    import tempfile

    from qa.index import CorpusIndex

    _load_model()  # first, so that the update's time holds no model loading
    with tempfile.TemporaryDirectory(dir=tier["dir"], prefix=".update-") as tmp:
        corpus, index_dir = Path(tmp) / "corpus", Path(tmp) / "index"
        shutil.copytree(tier["corpus"], corpus, copy_function=os.link)
        shutil.copytree(tier["index"], index_dir, ignore=shutil.ignore_patterns("baseline"))
        # A document of median size gets a new paragraph: its old chunks are deleted and all its
        # chunks embedded again, so what the update costs beyond that shows (the largest
        # document, 2,746 chunks at 10k, hid it).
        documents = sorted(corpus.rglob("*.txt"), key=lambda p: (p.stat().st_size, p.as_posix()))
        changed = documents[len(documents) // 2]
        text = changed.read_text(encoding="utf-8")
        changed.unlink()  # a hard link into the tier's corpus: replace it, never write through it
        changed.write_text(text + "\n\nThis paragraph was added by the scale benchmark's update step.\n",
                           encoding="utf-8")
        phases = _time_ingest_phases()
        settings = tier_settings({**tier, "corpus": str(corpus), "index": str(index_dir)})
        cpu = cpu_s()
        report = CorpusIndex(settings).ingest(progress=lambda done, total: None)
        cpu = cpu_s() - cpu
    phases["other"] = max(0.0, report.seconds - sum(phases.values()))
    return {"changed_file": changed.relative_to(corpus).as_posix(), "updated": len(report.updated),
            "embedded": report.embedded, "chunks": report.chunks, "seconds": report.seconds, "cpu_s": cpu,
            "phases_s": phases, "peak_rss_mb": peak_rss_mb(), "measured": time.strftime("%Y-%m-%d %H:%M")}


def child_model(tier: dict[str, Any], args) -> dict[str, Any]:
    """The embedding model alone on the texts our ingest embeds, in ingest's batches."""
    from qa.chunking import chunk_document
    from qa.corpus import load_document
    from qa.index import CorpusIndex, chunk_to_node, embed_text

    embedder, _ = _load_model()
    settings = tier_settings(tier)
    index = CorpusIndex(settings)
    manifest = index.manifest() or {"files": {}}
    doc_ids = sorted(manifest["files"])
    total_chunks = int(manifest.get("chunks", 0))
    want = min(args.model_sample, total_chunks)
    # Whole documents spread evenly over the tier, each chunked and embedded in ingest's order.
    stride = max(1, total_chunks // max(1, want))
    texts: list[str] = []
    corpus = Path(settings.corpus_dir)
    for doc_id in doc_ids[::stride] + [d for i, d in enumerate(doc_ids) if i % stride]:
        if len(texts) >= want:
            break
        doc = load_document(corpus / doc_id, corpus)
        chunks = chunk_document(doc, settings.chunk_tokens, settings.chunk_overlap_tokens)
        texts.extend(embed_text(chunk_to_node(c, doc.source)) for c in chunks)
    if len(texts) < 256:  # a tiny corpus: repeat it for a steadier rate
        texts = texts * math.ceil(256 / max(1, len(texts)))
    model = embedder._model
    model.encode(texts[:EMBED_BATCH], batch_size=EMBED_BATCH, normalize_embeddings=True, show_progress_bar=False)
    progress = Progress(f"[{tier['label']}] model alone")
    cpu = cpu_s()
    started = time.perf_counter()
    for start in range(0, len(texts), EMBED_BATCH):
        model.encode(texts[start:start + EMBED_BATCH], batch_size=EMBED_BATCH, normalize_embeddings=True,
                     show_progress_bar=False)
        progress(min(start + EMBED_BATCH, len(texts)), len(texts))
    seconds = time.perf_counter() - started
    cpu = cpu_s() - cpu
    return {"texts": len(texts), "seconds": seconds, "chunks_per_s": len(texts) / seconds,
            "cpu_s": cpu, "chunks_per_cpu_s": len(texts) / cpu if cpu else 0.0,
            "measured": time.strftime("%Y-%m-%d %H:%M")}


def child_baseline_ingest(tier: dict[str, Any], args) -> dict[str, Any]:
    """Build the baseline's Chroma collection (unless its fingerprint is current)."""
    from qa.eval.baseline import COLLECTION, BaselinePipeline, _fingerprint
    from qa.index import chroma_client

    settings = tier_settings(tier)
    probe = BaselinePipeline(settings, None, None)
    fingerprint = _fingerprint(probe._files(), probe.config())
    path = Path(settings.index_dir) / "baseline"
    client = chroma_client(path)
    try:
        collection = client.get_or_create_collection(COLLECTION)
        if (collection.metadata or {}).get("fingerprint") == fingerprint and not args.reindex:
            return {"cached": True, "fingerprint": fingerprint, "nodes": collection.count()}
        client.delete_collection(COLLECTION)  # open() then rebuilds it from the files
    finally:
        client.close()

    embedder, model_load = _load_model()
    rss_model = peak_rss_mb()
    phases: dict[str, float] = {}
    from llama_index.core import SimpleDirectoryReader
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    progress = Progress(f"[{tier['label']}] baseline")
    embedded, expected = [0], [0]
    inner = HuggingFaceEmbedding._get_text_embeddings

    def embed(self, texts):
        started = time.perf_counter()
        try:
            return inner(self, texts)
        finally:
            phases["embed"] = phases.get("embed", 0.0) + time.perf_counter() - started
            embedded[0] += len(texts)
            progress(embedded[0], max(embedded[0], expected[0]))

    HuggingFaceEmbedding._get_text_embeddings = embed
    SimpleDirectoryReader.load_data = timed(SimpleDirectoryReader.load_data, "read files", phases)
    split = SentenceSplitter.__call__

    def splitter(self, nodes, **kwargs):
        started = time.perf_counter()
        out = split(self, nodes, **kwargs)
        phases["split"] = phases.get("split", 0.0) + time.perf_counter() - started
        expected[0] = len(out)
        return out

    SentenceSplitter.__call__ = splitter
    ChromaVectorStore.add = timed(ChromaVectorStore.add, "chroma add", phases)
    pipeline = BaselinePipeline(settings, embedder, None)
    cpu = cpu_s()
    started = time.perf_counter()
    pipeline.open()
    seconds = time.perf_counter() - started
    cpu = cpu_s() - cpu
    phases["other"] = max(0.0, seconds - sum(phases.values()))
    nodes = pipeline._index.vector_store._collection.count()
    return {"cached": False, "fingerprint": fingerprint, "nodes": nodes, "seconds": seconds,
            "nodes_per_s": nodes / seconds if seconds else 0.0, "cpu_s": cpu, "phases_s": phases,
            "model_load_s": model_load,
            "rss_after_model_mb": rss_model, "peak_rss_mb": peak_rss_mb(), "measured": time.strftime("%Y-%m-%d %H:%M")}


def _gold(passages, item: dict[str, Any], by_name: bool = False) -> bool:
    """A retrieved passage from the question's source file that contains an evidence string."""
    if not item["evidence"]:
        return False
    source = item["source"]
    for passage in passages:
        if source:
            doc = getattr(passage, "doc_id", "")
            if (Path(doc).name != Path(source).name) if by_name else (doc != source):
                continue
        text = norm(passage.text)
        if any(norm(e) in text for e in item["evidence"]):
            return True
    return False


def _key_facts(text: str, item: dict[str, Any]) -> bool:
    text = norm(text)
    return bool(item["answers"]) and all(any(norm(a) in text for a in group) for group in item["answers"])


def child_questions(tier: dict[str, Any], args) -> dict[str, Any]:
    """Warm question latency: retrieval alone and full answers, ours and the baseline's."""
    import numpy as np

    from qa.assistant import Assistant

    warmup, items = load_questions(Path(tier["questions"]))
    items = items[: args.questions] if args.questions else items
    if not warmup:
        warmup = ARTICLE_WARMUP
    embedder, model_load = _load_model()
    settings = tier_settings(tier)
    bot = Assistant(settings)
    started = time.perf_counter()
    retriever = bot.retriever()
    open_s = time.perf_counter() - started
    bot.ask(warmup)
    result: dict[str, Any] = {"questions": len(items), "warmup": warmup, "open_s": open_s}

    rows = []
    for item in items:
        started = time.perf_counter()
        vector = np.asarray(embedder.get_query_embedding(item["question"]), dtype=np.float32)
        passages = retriever.retrieve(item["question"], query_embedding=vector.tolist())
        elapsed = (time.perf_counter() - started) * 1000
        rows.append({"id": item["id"], "retrieval_ms": elapsed, "retrieval_gold": _gold(passages, item)})
    for item, row in zip(items, rows):
        started = time.perf_counter()
        answer, passages = bot.trace(item["question"], history=item["history"] or None)
        row["answer_ms"] = (time.perf_counter() - started) * 1000
        row["timings_ms"] = dict(answer.timings_ms or {})
        row["abstained"] = bool(answer.abstained)
        row["gold"] = _gold(passages, item)
        row["key_facts"] = _key_facts(answer.text, item)
        row["type"] = item["type"]
    result["ours"] = rows
    result["ours_rss_mb"] = peak_rss_mb()

    if not args.skip_baseline:
        from llama_index.core.schema import QueryBundle

        from qa.eval.baseline import SIMILARITY_TOP_K, BaselinePipeline, _node_passage

        pipeline = BaselinePipeline(settings, embedder, bot.new_embedding_cache())
        started = time.perf_counter()
        pipeline.open()
        result["baseline_open_s"] = time.perf_counter() - started
        pipeline.trace(warmup)
        base_rows = []
        for item in items:
            started = time.perf_counter()
            vector = embedder.get_query_embedding(item["question"])
            nodes = pipeline._index.as_retriever(similarity_top_k=SIMILARITY_TOP_K).retrieve(
                QueryBundle(query_str=item["question"], embedding=vector))
            elapsed = (time.perf_counter() - started) * 1000
            base_rows.append({"id": item["id"], "retrieval_ms": elapsed,
                              "retrieval_gold": _gold([_node_passage(n) for n in nodes], item, by_name=True)})
        for item, row in zip(items, base_rows):
            started = time.perf_counter()
            answer, passages = pipeline.trace(item["question"])  # no chat memory: asked as typed
            row["answer_ms"] = (time.perf_counter() - started) * 1000
            row["abstained"] = bool(answer.abstained)
            row["gold"] = _gold(passages, item, by_name=True)
            row["key_facts"] = _key_facts(answer.text, item)
            row["type"] = item["type"]
        result["baseline"] = base_rows
    result["peak_rss_mb"] = peak_rss_mb()
    result["model_load_s"] = model_load
    result["measured"] = time.strftime("%Y-%m-%d %H:%M")
    return result


CHILDREN = {"ingest": child_ingest, "model": child_model, "update": child_update,
            "baseline-ingest": child_baseline_ingest, "questions": child_questions}


def _quiet_bm25s() -> None:
    """bm25s draws a progress bar of its own when it saves an index; it would cut into ours."""
    try:
        import bm25s.utils.corpus as corpus
    except ImportError:
        return
    bar = corpus.tqdm

    def quiet(*args, **kwargs):
        kwargs["disable"] = True
        return bar(*args, **kwargs)

    corpus.tqdm = quiet


def run_child(kind: str, tier: dict[str, Any], args) -> dict[str, Any]:
    out = Path(tier["dir"]) / f".{kind}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--tier", json.dumps(tier),
               "--child-out", str(out), "--questions", str(args.questions or 0), "--model-sample",
               str(args.model_sample)]
    command += ["--skip-baseline"] * args.skip_baseline + ["--reindex"] * args.reindex
    # The model's and bm25s's own progress bars would interleave with ours.
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, "TQDM_DISABLE": "1"})
    if done.returncode != 0 or not out.is_file():
        raise SystemExit(f"the {kind} step for tier {tier['label']} failed (exit {done.returncode}); "
                         f"see the output above")
    data = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    return data


# Preparing the corpus ---------------------------------------------------------------------
def package_version(package: str) -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def prepare_text(work: Path) -> list[str]:
    """Convert the installed packages into WORK/text (once); the converted files, sorted."""
    from scale_corpus import CONVERTER_VERSION, SOURCES, convert_source

    text_dir = work / "text"
    stamp = text_dir / ".prepared.json"
    wanted = {"converter": CONVERTER_VERSION,
              "packages": {s.package: package_version(s.package) for s in SOURCES}}
    missing = [s for s in SOURCES if not Path(s.root).is_dir()]
    if missing:
        names = " ".join(s.package for s in missing)
        raise SystemExit(f"the large corpus needs Debian's {names} (missing: "
                         f"{', '.join(s.root for s in missing)}); install them with `make bench-scale` "
                         f"or: apt-get install {names}")
    if stamp.is_file():
        done = json.loads(stamp.read_text(encoding="utf-8"))
        if {k: done.get(k) for k in wanted} == wanted:
            return done["files"]
    files: list[str] = []
    for source in SOURCES:
        started = time.perf_counter()
        converted = convert_source(source, text_dir)
        log(f"  converted {len(converted):,} pages of {source.package} in {fmt_s(time.perf_counter() - started)}")
        files += converted
    keep = set(files) | {f + ".meta.json" for f in files}
    for path in text_dir.rglob("*"):  # pages no longer converted (another package version)
        if path.is_file() and path.name != stamp.name and path.relative_to(text_dir).as_posix() not in keep:
            path.unlink()
    files.sort()
    stamp.write_text(json.dumps({**wanted, "files": files}, indent=1), encoding="utf-8")
    return files


def chunk_counts(work: Path, order: list[str], needed: int) -> dict[str, int]:
    """Our chunker's count for each file, in order until `needed` chunks (cached by content)."""
    from qa.chunking import chunk_document
    from qa.config import Settings
    from qa.corpus import load_document

    settings = Settings()
    config = settings.chunker_config()
    cache_path = work / "chunk-counts.json"
    cache: dict[str, Any] = {}
    if cache_path.is_file():
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
        if cache.get("chunker") != config:
            cache = {}
    known: dict[str, list] = cache.get("files", {})
    text_dir = work / "text"
    counts, total, changed = {}, 0, False
    for rel in order:
        if total >= needed:
            break
        path = text_dir / rel
        meta = path.with_name(path.name + ".meta.json")
        digest = hashlib.sha256(path.read_bytes() + b"\0" + (meta.read_bytes() if meta.is_file() else b"")).hexdigest()
        entry = known.get(rel)
        if not entry or entry[0] != digest:
            try:
                doc = load_document(path, text_dir)
                count = len(chunk_document(doc, settings.chunk_tokens, settings.chunk_overlap_tokens))
            except ValueError:  # ingest skips it too (e.g. nothing left after cleaning)
                count = 0
            known[rel] = entry = [digest, count]
            changed = True
        counts[rel] = entry[1]
        total += entry[1]
    if changed:
        cache_path.write_text(json.dumps({"chunker": config, "files": known}), encoding="utf-8")
    return counts


def link_tree(files: list[str], source: Path, target: Path) -> None:
    """Make target/ hold exactly `files` (and their sidecars) as hard links into source/."""
    wanted = set()
    for rel in files:
        for name in (rel, rel + ".meta.json"):
            src = source / name
            if not src.is_file():
                continue
            wanted.add(name)
            dst = target / name
            try:
                if dst.stat().st_ino == src.stat().st_ino:
                    continue
                dst.unlink()
            except FileNotFoundError:
                pass
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
    if target.is_dir():
        for path in sorted(target.rglob("*"), reverse=True):
            rel = path.relative_to(target).as_posix()
            if path.is_file() and rel not in wanted:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()


def parse_sizes(text: str) -> list[str | int]:
    sizes: list[str | int] = []
    for raw in text.split(","):
        word = raw.strip().lower()
        if not word:
            continue
        if word in (ARTICLES, "articles", "5"):
            sizes.append(ARTICLES)
            continue
        scale = 1000 if word.endswith("k") else 1
        try:
            sizes.append(int(float(word.rstrip("k")) * scale))
        except ValueError:
            raise SystemExit(f"--sizes: {raw!r} is neither {ARTICLES} nor a number of chunks (1000, 10k)") from None
    return sizes


def make_tiers(work: Path, sizes: list[str | int]) -> list[dict[str, Any]]:
    tiers = []
    if ARTICLES in sizes:
        directory = work / "tiers" / "articles"
        directory.mkdir(parents=True, exist_ok=True)
        tiers.append({"label": ARTICLES, "target": 0, "dir": str(directory), "corpus": str(ROOT / "corpus"),
                      "index": str(directory / "index"), "questions": str(ARTICLE_QUESTIONS)})
    numbers = sorted(s for s in sizes if isinstance(s, int))
    if not numbers:
        return tiers
    started = time.perf_counter()
    files = prepare_text(work)
    log(f"  corpus text ready: {len(files):,} files ({fmt_s(time.perf_counter() - started)})")
    _, items = load_questions(DOC_QUESTIONS)
    order = _order(files, [i["source"] for i in items if i["source"]])
    started = time.perf_counter()
    counts = chunk_counts(work, order, max(numbers))
    log(f"  chunk counts ready: {sum(counts.values()):,} chunks in {len(counts):,} files "
        f"({fmt_s(time.perf_counter() - started)})")
    available = sum(counts.values())
    for target in numbers:
        chosen, total = [], 0
        for rel in order:
            if total >= target or rel not in counts:
                break
            chosen.append(rel)
            total += counts[rel]
        if total < target:
            log(f"  warning: the corpus has {available:,} chunks; tier {target:,} gets all of them")
        directory = work / "tiers" / str(target)
        link_tree(chosen, work / "text", directory / "corpus")
        tiers.append({"label": f"{target:,}", "target": target, "dir": str(directory),
                      "corpus": str(directory / "corpus"), "index": str(directory / "index"),
                      "questions": str(DOC_QUESTIONS), "expected_chunks": total, "files": len(chosen)})
    return tiers


def _order(files: list[str], first: list[str]) -> list[str]:
    from scale_corpus import stable_order

    return stable_order(files, first)


# Running a tier ---------------------------------------------------------------------------
def run_tier(tier: dict[str, Any], args, phases: list[tuple[str, float]]) -> dict[str, Any]:
    from qa.index import CorpusIndex

    label = tier["label"]
    results_path = Path(tier["dir"]) / "results.json"
    saved = json.loads(results_path.read_text(encoding="utf-8")) if results_path.is_file() else {}
    index = CorpusIndex(tier_settings(tier))
    state, why = index.status()
    build = index.current_build()
    out: dict[str, Any] = {"tier": tier}

    def phase(name: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - started
        phases.append((f"{label}: {name}", seconds))
        log(f"  [{label}] {name}: {fmt_s(seconds)}")
        return value

    cached_ingest = saved.get("ingest")
    if state == "current" and not args.reindex and cached_ingest and build and cached_ingest.get("build") == build.name:
        out["ingest"] = {**cached_ingest, "cached": True}
        log(f"  [{label}] our index is current ({why}): not re-indexed (--reindex to rebuild)")
    else:
        log(f"  [{label}] building our index ({why if state != 'current' else '--reindex'})")
        out["ingest"] = phase("our ingest", lambda: run_child("ingest", tier, args))
        out["ingest"]["cached"] = False
        build = index.current_build()
    cached_model = saved.get("model")
    if (cached_model and not args.reindex and cached_model.get("build") == (build.name if build else "")
            and cached_model.get("sample") == args.model_sample):
        out["model"] = {**cached_model, "cached": True}
    else:
        out["model"] = phase("embedding model alone", lambda: run_child("model", tier, args))
        out["model"].update(build=build.name if build else "", sample=args.model_sample, cached=False)
    out["update"] = phase("incremental update", lambda: run_child("update", tier, args))
    if not args.skip_baseline:
        built = phase("baseline ingest", lambda: run_child("baseline-ingest", tier, args))
        if built.get("cached"):
            previous = saved.get("baseline_ingest") or {}
            if previous.get("fingerprint") == built["fingerprint"]:
                out["baseline_ingest"] = {**previous, "cached": True}
            else:
                out["baseline_ingest"] = {**built, "note": "built by an earlier run that did not time it"}
        else:
            out["baseline_ingest"] = built
    out["queries"] = phase("questions", lambda: run_child("questions", tier, args))
    build = index.current_build()
    out["index_mb"] = disk_mb(build) if build else 0.0
    out["baseline_index_mb"] = disk_mb(Path(tier["index"]) / "baseline") if not args.skip_baseline else None
    out["corpus_mb"] = sum(p.stat().st_size for p in Path(tier["corpus"]).rglob("*")
                           if p.is_file() and not p.name.endswith(".meta.json")
                           and "eval" not in p.relative_to(tier["corpus"]).parts) / 1e6
    keep = {"ingest": out["ingest"], "model": out["model"]}
    if out.get("baseline_ingest") and not out["baseline_ingest"].get("note"):
        keep["baseline_ingest"] = out["baseline_ingest"]
    keep = {k: {kk: vv for kk, vv in v.items() if kk != "cached"} for k, v in keep.items()}
    results_path.write_text(json.dumps(keep, indent=1), encoding="utf-8")
    return out


# Reporting --------------------------------------------------------------------------------
def _stats(rows: list[dict[str, Any]], key: str) -> tuple[float, float]:
    """Median and p95 (nearest rank), as the evaluation computes them; NaN when there are none.
    Imported here, not at the top: a child process must not load qa before it measures."""
    from qa.eval.stats import median, percentile

    values = [r[key] for r in rows if key in r]
    return median(values), percentile(values, 95)


def _rate(rows: list[dict[str, Any]], key: str, answerable_only: bool = True) -> str:
    chosen = [r for r in rows if not answerable_only or r.get("type") not in ("unanswerable",)]
    if not chosen:
        return "–"
    return f"{sum(bool(r.get(key)) for r in chosen) / len(chosen):.2f}"


def table(headers: list[str], rows: list[list[Any]], align: str = "") -> str:
    align = align or "l" + "r" * (len(headers) - 1)
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values):
        return "| " + " | ".join(v.ljust(w) if a == "l" else v.rjust(w)
                                 for v, w, a in zip(values, widths, align)) + " |"

    rule = "|" + "|".join(("-" * (w + 2)) if a == "l" else ("-" * (w + 1) + ":") for w, a in zip(widths, align)) + "|"
    return "\n".join([line(headers), rule] + [line(r) for r in cells])


def _f(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def report(results: list[dict[str, Any]], phases: list[tuple[str, float]], args) -> dict[str, Any]:
    from qa.eval.stats import median

    lines = []
    summary: dict[str, Any] = {"tiers": []}
    rows_corpus, rows_index, rows_phase, rows_update, rows_latency, rows_quality = [], [], [], [], [], []
    for r in results:
        label = r["tier"]["label"]
        ing, model, base, q = r["ingest"], r["model"], r.get("baseline_ingest"), r["queries"]
        ours_rate = ing["chunks_per_s"]
        ratio_model = ours_rate / model["chunks_per_s"] if model.get("chunks_per_s") else float("nan")
        ratio_cpu = (ing["chunks_per_cpu_s"] / model["chunks_per_cpu_s"]
                     if ing.get("chunks_per_cpu_s") and model.get("chunks_per_cpu_s") else float("nan"))
        b_nodes = base.get("nodes") if base else None
        b_time = base.get("seconds") if base else None
        rows_corpus.append([label, f"{ing['files']:,}", f"{r['corpus_mb']:.2f}", f"{ing['chunks']:,}",
                            f"{b_nodes:,}" if b_nodes is not None else "–", _f(r["index_mb"]),
                            _f(r["baseline_index_mb"])])
        cached = " (cached)" if ing.get("cached") else ""
        b_rate = b_nodes / b_time if b_nodes and b_time else None
        rows_index.append([label + cached, fmt_s(ing["seconds"]), _f(ours_rate), _f(model["chunks_per_s"]),
                           _f(ratio_model, 2), _f(ratio_cpu, 2), _f(ing["peak_rss_mb"], 0),
                           fmt_s(b_time) if b_time else "–", _f(b_rate),
                           _f(base.get("peak_rss_mb"), 0) if base else "–",
                           _f(ing["seconds"] / b_time, 2) if b_time else "–",
                           _f(ours_rate / b_rate, 2) if b_rate else "–"])
        ph = ing.get("phases_s", {})
        rows_phase.append([label] + [_f(ph.get(k), 1) for k in ("load + clean", "chunk", "nodes", "embed",
                                                                  "chroma add", "bm25 + terms", "other")]
                          + [f"{100 * ph.get('embed', 0) / ing['seconds']:.0f}%" if ing["seconds"] else "–"])
        up = r.get("update")
        if up:
            uph = up.get("phases_s", {})
            rows_update.append([label, f"{up['embedded']:,}", fmt_s(up["seconds"]),
                                _f(uph.get("copy previous store"), 1), _f(uph.get("embed"), 1),
                                _f(uph.get("chroma add"), 1), _f(uph.get("bm25 + terms"), 1),
                                _f(uph.get("load + clean"), 1), _f(up["peak_rss_mb"], 0)])
        ours_rows = q["ours"]
        r_med, r_p95 = _stats(ours_rows, "retrieval_ms")
        a_med, a_p95 = _stats(ours_rows, "answer_ms")
        base_rows = q.get("baseline") or []
        br_med, br_p95 = _stats(base_rows, "retrieval_ms")
        ba_med, ba_p95 = _stats(base_rows, "answer_ms")
        compose = [row["timings_ms"].get("total", 0) - row["timings_ms"].get("embed", 0)
                   - row["timings_ms"].get("retrieve", 0) for row in ours_rows if row.get("timings_ms")]
        rows_latency.append([label, len(ours_rows), _f(r_med), _f(r_p95), _f(a_med), _f(a_p95),
                             _f(median(compose)) if compose else "–",
                             _f(br_med), _f(br_p95), _f(ba_med), _f(ba_p95),
                             _f(r_p95 / br_p95, 2) if base_rows else "–",
                             _f(a_p95 / ba_p95, 2) if base_rows else "–",
                             _f(q.get("open_s"), 1), _f(q.get("ours_rss_mb"), 0)])
        rows_quality.append([label, _rate(ours_rows, "retrieval_gold"), _rate(ours_rows, "gold"),
                             _rate(ours_rows, "key_facts"),
                             f"{sum(r_['abstained'] for r_ in ours_rows if r_['type'] == 'unanswerable')}"
                             f"/{sum(r_['type'] == 'unanswerable' for r_ in ours_rows)}",
                             _rate(base_rows, "retrieval_gold") if base_rows else "–",
                             _rate(base_rows, "key_facts") if base_rows else "–"])
        summary["tiers"].append({
            "label": label, "chunks": ing["chunks"], "files": ing["files"], "corpus_mb": r["corpus_mb"],
            "index_mb": r["index_mb"], "baseline_index_mb": r["baseline_index_mb"],
            "ingest": ing, "model": model, "index_vs_model": ratio_model, "index_vs_model_cpu": ratio_cpu,
            "baseline_ingest": base, "update": r.get("update"),
            "retrieval_ms": {"median": r_med, "p95": r_p95}, "answer_ms": {"median": a_med, "p95": a_p95},
            "baseline_retrieval_ms": {"median": br_med, "p95": br_p95} if base_rows else None,
            "baseline_answer_ms": {"median": ba_med, "p95": ba_p95} if base_rows else None,
            "queries": q})

    machine = f"{os.cpu_count()} cores, {platform.python_version()}, {platform.machine()}"
    lines.append(f"\n## Scale benchmark ({time.strftime('%Y-%m-%d %H:%M')}; {machine})\n")
    lines.append("Corpus and index size (on disk: our current build; the baseline's Chroma store)\n")
    lines.append(table(["tier", "files", "text MB", "our chunks", "baseline nodes", "our index MB",
                        "baseline index MB"], rows_corpus))
    lines.append("\nIndexing (each a full build in its own process; peak RSS includes the model, "
                 "about 0.5 GB)\n")
    lines.append(table(["tier", "ours", "ours chunks/s", "model alone chunks/s", "ours / model",
                        "ours / model (CPU s)", "ours peak MB",
                        "baseline", "baseline nodes/s", "baseline peak MB", "time ours / base",
                        "chunks/s ours / base nodes/s"], rows_index))
    lines.append("\nWhere our ingest time goes (seconds)\n")
    lines.append(table(["tier", "load + clean", "chunk", "nodes", "embed", "chroma add", "bm25 + terms", "other",
                        "embed share"], rows_phase))
    if rows_update:
        lines.append("\nIncremental update: a median-sized file changed, on a copy of the tier (seconds)\n")
        lines.append(table(["tier", "chunks embedded", "total", "copy previous store", "embed", "chroma add",
                            "bm25 + terms", "load + clean", "peak MB"], rows_update))
    lines.append("\nQuestion latency, warm (ms; after one warm-up question; retrieval = embed the question + "
                 "retrieve; answer = full extractive Assistant.ask)\n")
    lines.append(table(["tier", "n", "retrieval med", "retrieval p95", "answer med", "answer p95",
                        "compose med", "base retr med", "base retr p95", "base ans med", "base ans p95",
                        "retr p95 ours/base", "ans p95 ours/base", "index open s", "query peak MB"],
                       rows_latency))
    lines.append("\nAnswer quality on the benchmark questions (a check that the large index still finds "
                 "the answers; key facts by substring)\n")
    lines.append(table(["tier", "gold retrieved", "gold in answer passages", "key facts", "abstained (unanswerable)",
                        "baseline gold retrieved", "baseline key facts"], rows_quality))

    # Targets
    big = next((t for t in summary["tiers"] if t["chunks"] >= TARGET_CHUNKS), None)
    targets = []
    if big is None:
        largest = max((t["chunks"] for t in summary["tiers"]), default=0)
        note = f"not measured: no tier of {TARGET_CHUNKS:,} chunks (largest {largest:,})"
        targets = [[f"retrieval p95 < {TARGET_RETRIEVAL_P95_MS:.0f} ms at 100k chunks", "–", note],
                   [f"answer p95 < {TARGET_ANSWER_P95_MS:.0f} ms at 100k chunks", "–", note]]
        last = summary["tiers"][-1] if summary["tiers"] else None
    else:
        last = big
        rp, ap = big["retrieval_ms"]["p95"], big["answer_ms"]["p95"]
        targets = [[f"retrieval p95 < {TARGET_RETRIEVAL_P95_MS:.0f} ms at {big['chunks']:,} chunks", f"{rp:.1f} ms",
                    "PASS" if rp < TARGET_RETRIEVAL_P95_MS else "FAIL"],
                   [f"answer p95 < {TARGET_ANSWER_P95_MS:.0f} ms at {big['chunks']:,} chunks", f"{ap:.1f} ms",
                    "PASS" if ap < TARGET_ANSWER_P95_MS else "FAIL"]]
    if last is not None:
        ratio = last["index_vs_model"]
        embed_share = last["ingest"].get("phases_s", {}).get("embed", 0) / last["ingest"]["seconds"]
        targets.append([f"indexing >= {TARGET_INDEX_RATIO:.0%} of the model alone's chunks/s ({last['label']})",
                        f"{ratio:.2f} ({last['ingest']['chunks_per_s']:.1f} / {last['model']['chunks_per_s']:.1f} "
                        f"chunks/s; by CPU time {_f(last['index_vs_model_cpu'], 2)}; embedding is "
                        f"{embed_share:.0%} of our ingest)", "PASS" if ratio >= TARGET_INDEX_RATIO else "FAIL"])
        targets.append([f"memory ({last['label']})",
                        f"ingest peak {last['ingest']['peak_rss_mb']:,.0f} MB; questions peak "
                        f"{last['queries']['peak_rss_mb']:,.0f} MB; index {last['index_mb']:,.0f} MB on disk",
                        "stated"])
    lines.append("\nTargets\n")
    lines.append(table(["target", "measured", "result"], targets, "llr"))
    lines.append("\nTime per phase of this run\n")
    lines.append(table(["phase", "time"], [[n, fmt_s(s)] for n, s in phases]))
    print("\n".join(lines), flush=True)
    summary["targets"] = [{"target": t[0], "measured": t[1], "result": t[2]} for t in targets]
    summary["phases_s"] = dict(phases)
    summary["machine"] = machine
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help=f"comma-separated tiers: {ARTICLES} and chunk counts (default {DEFAULT_SIZES})")
    parser.add_argument("--questions", type=int, default=0, help="ask only the first N questions (default: all)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "bench-data",
                        help="converted corpus, tiers and their indexes (default bench-data/)")
    parser.add_argument("--skip-baseline", action="store_true", help="leave out the llama-index baseline")
    parser.add_argument("--reindex", action="store_true", help="rebuild every tier's indexes even when current")
    parser.add_argument("--model-sample", type=int, default=2048,
                        help="chunks embedded by the model alone per tier (default 2048)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--tier", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        _quiet_bm25s()
        result = CHILDREN[args.child](json.loads(args.tier), args)
        args.child_out.write_text(json.dumps(result), encoding="utf-8")
        return

    started = time.perf_counter()
    phases: list[tuple[str, float]] = []
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    sizes = parse_sizes(args.sizes)
    log(f"scale benchmark: tiers {', '.join(map(str, sizes))}; work dir {work}")
    t = time.perf_counter()
    tiers = make_tiers(work, sizes)
    phases.append(("prepare corpus and tiers", time.perf_counter() - t))
    results = [run_tier(tier, args, phases) for tier in tiers]
    phases.append(("total", time.perf_counter() - started))
    summary = report(results, phases, args)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
        log(f"results written to {args.json}")


if __name__ == "__main__":
    main()
