"""Build and update the Chroma index in index/: manifest, incremental, built aside then swapped.

Layout:
    index/CURRENT              name of the build readers use (replaced atomically)
    index/builds/<name>/       chroma/ (persistent store), bm25/, manifest.json
    index/.lock                held by the one writer
With chroma_url set, a build's vectors are the collection qa_<name> on that Chroma server
instead of chroma/ (see store.py); everything else stays here.

An update copies the current build, applies the changes to the copy, and only then
points CURRENT at it: a failed or killed ingest leaves the previous build in use.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable, Iterator

from .chunking import Chunk, chunk_document
from .config import ConfigError, Settings
from .corpus import Document, SkippedFile, corpus_files, load_corpus, source_label
from .embedding import vectors_record
from .errors import IndexBusy, IndexUnavailable, StoreUnavailable
from .store import LOCAL_COLLECTION, Store, local_client

log = logging.getLogger("qa")

MANIFEST_FORMAT = 6  # raise whenever what ingest stores changes: older indexes are rebuilt
# A file of which cleaning kept less than this share of the visible text is named by ingest.
KEPT_WARNING = 0.9
COLLECTION = LOCAL_COLLECTION
_VERSIONED = ("llama-index-core", "llama-index-vector-stores-chroma", "llama-index-retrievers-bm25",
              "chromadb", "tiktoken", "sentence-transformers", "torch", "onnxruntime")
# Node metadata embedded with a chunk, as header lines above its text (when not empty); the
# rest only the UI and citations need.
_HEADER_KEYS = ("title", "section", "table_header")


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # files cleaning removed much of
    chunks: int = 0
    embedded: int = 0
    rebuilt: bool = False
    reason: str = ""
    seconds: float = 0.0
    build: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.rebuilt)

    def summary(self) -> str:
        lines = [f"index {'rebuilt' if self.rebuilt else 'updated' if self.changed else 'up to date'}"
                 f"{f' ({self.reason})' if self.reason else ''}: {self.chunks} chunks from "
                 f"{len(self.added) + len(self.updated) + len(self.unchanged)} files; "
                 f"{len(self.added)} added, {len(self.updated)} changed, {len(self.removed)} removed, "
                 f"{self.embedded} chunks embedded in {self.seconds:.1f} s"]
        lines += [f"warning: {s}" for s in self.skipped]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def cleaning_warnings(documents: list[Document]) -> list[str]:
    """A line for each file of which cleaning kept less than KEPT_WARNING of the text."""
    warnings = []
    for doc in documents:
        cleaned = doc.cleaned
        if cleaned.kept_share < KEPT_WARNING:
            rules = ", ".join(f"{rule} {chars:,}" for rule, chars in
                              sorted(cleaned.removed_by_rule().items(), key=lambda item: -item[1]))
            warnings.append(f"{doc.doc_id}: cleaning kept {cleaned.kept_share:.0%} of its text; removed by "
                            f"{rules} (characters); see qa inspect {doc.doc_id}")
    return warnings


def library_versions() -> dict[str, str]:
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def build_fingerprint(settings: Settings) -> dict[str, Any]:
    """What must match for an index to be reused: model, chunker, manifest format."""
    from .embedding import model_info

    return {"format": MANIFEST_FORMAT, "embedding_model": model_info(), "chunker": settings.chunker_config()}


def chroma_client(path: Path):
    """A client for the local Chroma store at `path`."""
    return local_client(path)


def chunk_to_node(chunk: Chunk, source: str | None = None):
    """The llama-index node stored for a chunk. `source` defaults to the label of the
    chunk's own document (a file may hold several)."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    meta = chunk.metadata
    table_header = str(meta.get("table_header", ""))
    metadata = {
        "doc_id": chunk.doc_id, "chunk_index": chunk.index, "title": str(meta.get("title", "")),
        "section": str(meta.get("section", "")), "table_header": table_header,
        "publisher": str(meta.get("publisher", "")), "date": str(meta.get("date", "")),
        "url": str(meta.get("url", "")), "authors": ", ".join(meta.get("authors", []) or []),
        "source": source if source is not None else source_label(meta, chunk.doc_id),
        "start": chunk.start, "end": chunk.end,
        "clean_start": chunk.clean_start, "clean_end": chunk.clean_end,
    }
    if meta.get("page") is not None:  # Chroma metadata holds no None: unpaged chunks have no "page"
        metadata["page"] = int(meta["page"])
    # Empty header lines are left out, and so is a table header the chunk's text already starts with.
    excluded = [k for k in metadata if k not in _HEADER_KEYS or not metadata[k]
                or (k == "table_header" and chunk.text.startswith(table_header))]
    # The SOURCE relationship matters: llama-index's Chroma store writes the node's ref_doc_id
    # into the "doc_id" metadata key, which is what deleting a changed file's chunks filters on.
    return TextNode(id_=chunk.id, text=chunk.text, metadata=metadata,
                    relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=chunk.doc_id)},
                    excluded_embed_metadata_keys=excluded, excluded_llm_metadata_keys=excluded,
                    metadata_template="{value}", text_template="{metadata_str}\n\n{content}")


def embed_text(node) -> str:
    """The text embedded for a chunk: header lines (its document's title, its section, its
    table's header row), then the chunk."""
    from llama_index.core.schema import MetadataMode

    return node.get_content(metadata_mode=MetadataMode.EMBED)


class IndexForAnotherCorpus(ConfigError, IndexUnavailable):
    """index_dir holds the index of another corpus folder; the message names both and the fix.
    A ConfigError (the CLI exits 2) and an IndexUnavailable (the app shows it in the chat)."""


def corpus_record(corpus_dir: Path) -> str:
    """How a manifest names its corpus folder: the resolved path, the same however it is spelled."""
    return str(Path(corpus_dir).expanduser().resolve())


class CorpusIndex:
    """The on-disk index of one corpus: status, ingest, and the current build's paths."""

    def __init__(self, settings: Settings, progress: Callable[[int, int], None] | None = None) -> None:
        self.settings = settings
        self.root = Path(settings.index_dir)
        self.corpus_dir = Path(settings.corpus_dir)
        self.store = Store(settings.chroma_url)
        self._progress = progress

    # Locations ---------------------------------------------------------------
    @property
    def builds_dir(self) -> Path:
        return self.root / "builds"

    def current_build(self) -> Path | None:
        pointer = self.root / "CURRENT"
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        build = self.builds_dir / name
        found = name and (build / "manifest.json").is_file() and self.store.looks_complete(build)
        return build if found else None

    def manifest(self, build: Path | None = None) -> dict[str, Any] | None:
        build = build or self.current_build()
        if build is None:
            return None
        try:
            return _read_manifest(build / "manifest.json")
        except ValueError as exc:
            raise IndexUnavailable(f"{exc}; rebuild it with: qa ingest --rebuild") from None

    # Status ------------------------------------------------------------------
    def status(self) -> tuple[str, str]:
        """('missing' | 'incompatible' | 'stale' | 'current', explanation)."""
        manifest = self.manifest()
        if manifest is None:
            return "missing", f"no index in {self.root}"
        other = self._other_corpus(manifest)
        if other:
            return "incompatible", other
        expected = build_fingerprint(self.settings)
        if manifest.get("fingerprint") != expected:
            return "incompatible", "the index was built with another embedding model or chunker"
        mismatch = self.store.mismatch(manifest)
        if mismatch:
            return "incompatible", mismatch
        files, refused = corpus_files(self.corpus_dir)
        on_disk = {p.relative_to(self.corpus_dir).as_posix(): p for p in files + [r.path for r in refused]}
        indexed = manifest["files"]
        # Files skipped last time (empty, not UTF-8, ...) stay skipped until they change.
        skipped = manifest.get("skipped", {})
        known = {**skipped, **indexed}
        if set(on_disk) != set(known):
            return "stale", "files were added or removed"
        for doc_id, path in on_disk.items():
            entry = known[doc_id]
            try:
                stat = path.stat() if doc_id in indexed else path.lstat()
            except OSError:
                return "stale", f"{doc_id} cannot be read"
            if entry.get("size") != stat.st_size or entry.get("mtime_ns") != stat.st_mtime_ns:
                return "stale", f"{doc_id} changed"
        return "current", f"{len(indexed)} files, {manifest.get('chunks', 0)} chunks"

    def _corpus_records(self) -> dict[str, str]:
        return {"corpus": corpus_record(self.corpus_dir),
                "corpus_from_index": os.path.relpath(corpus_record(self.corpus_dir), self.root.resolve())}

    def _other_corpus(self, manifest: dict[str, Any]) -> str:
        """'' when the index is this corpus's (or predates the record), else what is wrong and the fix.
        A corpus and its index moved or copied together (a moved checkout), or a copy of the
        corpus holding exactly the indexed files, is still the same corpus."""
        recorded = manifest.get("corpus")
        if not isinstance(recorded, str):
            return ""
        ours = self._corpus_records()
        if recorded == ours["corpus"] or manifest.get("corpus_from_index") == ours["corpus_from_index"]:
            return ""
        files = corpus_files(self.corpus_dir)[0] if self.corpus_dir.is_dir() else []
        names = {path.relative_to(self.corpus_dir).as_posix() for path in files}
        if names and names == set(manifest.get("files", {})):
            return ""
        return (f"the index in {self.root} was built for the corpus folder {recorded}, not "
                f"{corpus_record(self.corpus_dir)}; leave index_dir unset (QA_INDEX_DIR, --index, qa.toml) "
                f"so each corpus folder gets its own index, or give this one another folder with "
                f"--index DIR, or replace that index with: qa ingest --rebuild")

    # Writing -----------------------------------------------------------------
    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        lock_path = self.root / ".lock"
        with open(lock_path, "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise IndexBusy(f"another ingest ({holder}) is updating {self.root}; "
                                f"wait for it to finish and try again") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)

    def ingest(self, rebuild: bool = False, progress: Callable[[int, int], None] | None = None) -> IngestReport:
        """Bring the index up to date with the corpus: only new or changed files are embedded.
        `progress(done, total)` is called while embedding (instead of the terminal bar)."""
        started = time.perf_counter()
        saved, self._progress = self._progress, progress or self._progress
        try:
            with self._write_lock():
                report = self._ingest_locked(rebuild)
        finally:
            self._progress = saved
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_locked(self, rebuild: bool) -> IngestReport:
        if not self.corpus_dir.is_dir():
            # An index is never emptied because a path was mistyped.
            raise IndexUnavailable(f"the corpus folder {self.corpus_dir} does not exist; "
                                   f"check corpus_dir / QA_CORPUS_DIR")
        current = self.current_build()
        manifest, unreadable = None, ""
        if current is not None:
            try:
                manifest = _read_manifest(current / "manifest.json")
            except ValueError as exc:
                unreadable = str(exc)
        other = self._other_corpus(manifest) if manifest is not None else ""
        if other and not rebuild:
            # Another corpus's index is never replaced by accident: the user says so with --rebuild.
            raise IndexForAnotherCorpus(other)
        # Of files with the same text, the one already indexed stays indexed.
        loaded = load_corpus(self.corpus_dir, indexed=set(manifest["files"]) if manifest else set())
        report = IngestReport(skipped=loaded.skipped, warnings=cleaning_warnings(loaded.documents))
        fingerprint = build_fingerprint(self.settings)
        if rebuild:
            manifest = None
        elif unreadable:
            log.warning("%s; rebuilding the index from the corpus", unreadable)
            report.reason = "unreadable manifest"
        wrong_store = self.store.mismatch(manifest) if manifest is not None else None
        if rebuild:
            report.reason = "--rebuild"
        elif manifest is not None and manifest.get("fingerprint") != fingerprint:
            report.reason = "embedding model or chunker changed"
            manifest = None
        elif wrong_store:
            report.reason = wrong_store
            manifest = None
        elif manifest is not None and self.store.is_server and not self.store.collection_exists(current):
            report.reason = f"its collection is missing on the Chroma server at {self.store.url}"
            manifest = None
        elif current is None:
            report.reason = "no index yet"
        report.rebuilt = manifest is None

        docs = {doc.doc_id: doc for doc in loaded.documents}
        indexed: dict[str, Any] = manifest["files"] if manifest else {}
        for doc_id, doc in docs.items():
            if doc_id not in indexed:
                report.added.append(doc_id)
            elif indexed[doc_id]["sha256"] != doc.sha256:
                report.updated.append(doc_id)
            else:
                report.unchanged.append(doc_id)
        report.removed = sorted(set(indexed) - set(docs))
        if not report.rebuilt and not report.changed:
            report.chunks = int(manifest.get("chunks", 0))
            report.build = current.name
            skipped = _skipped_entries(self.corpus_dir, report.skipped)
            records = self._corpus_records()
            if (self._stat_refresh_needed(manifest, docs) or manifest.get("skipped", {}) != skipped
                    or any(manifest.get(key) != value for key, value in records.items())):
                manifest["skipped"] = skipped
                manifest.update(records)
                self._refresh_stats(current, manifest, docs)
            self._tidy(current)
            return report

        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        staging = self.builds_dir / f"{name}.partial"
        self.builds_dir.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned()
        try:
            staging.mkdir(parents=True)
            previous = None if report.rebuilt else current
            with self.store.new_collection(staging, name, previous) as collection:
                files = self._apply_changes(collection, staging, docs, indexed, report)
            new_manifest = {"fingerprint": fingerprint, "versions": library_versions(),
                            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                            "collection": self.store.collection_name(name), "store": self.store.record(name),
                            "chunks": report.chunks, "files": files, **self._corpus_records(),
                            "embedding_runtimes": vectors_record(manifest, self.settings, report.embedded > 0),
                            "skipped": _skipped_entries(self.corpus_dir, report.skipped)}
            _write_json(staging / "manifest.json", new_manifest)
            final = self.builds_dir / name
            os.replace(staging, final)
            _fsync_dir(self.builds_dir)
            _atomic_write(self.root / "CURRENT", name)
        except BaseException:
            self.store.discard(staging)
            shutil.rmtree(staging, ignore_errors=True)
            raise
        report.build = name
        self._remove_old_builds(keep={name, current.name if current else ""})
        return report

    def _apply_changes(self, collection, staging: Path, docs: dict[str, Document], indexed: dict[str, Any],
                       report: IngestReport) -> dict[str, Any]:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        for doc_id in report.removed + report.updated:
            collection.delete(where={"doc_id": doc_id})
        to_embed = [docs[d] for d in report.added + report.updated]
        nodes = []
        chunk_counts: dict[str, int] = {}
        for doc in to_embed:
            chunks = chunk_document(doc, self.settings.chunk_tokens, self.settings.chunk_overlap_tokens)
            chunk_counts[doc.doc_id] = len(chunks)
            nodes.extend(chunk_to_node(c) for c in chunks)
        self._embed(nodes)
        store = ChromaVectorStore(chroma_collection=collection)
        # Chroma refuses a batch above its maximum (5,461 for chromadb 1.5's local store), and
        # ChromaVectorStore.add sends up to 41,665 at once: add in batches Chroma accepts.
        batch = _max_batch_size(collection)
        for start in range(0, len(nodes), batch):
            store.add(nodes[start:start + batch])
        report.embedded = len(nodes)
        report.chunks = collection.count()
        build_bm25(collection, staging / "bm25")
        files = {}
        for doc_id, doc in docs.items():
            stat = doc.path.stat()
            previous = indexed.get(doc_id, {})
            files[doc_id] = {
                "sha256": doc.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                "title": doc.title, "publisher": doc.metadata.get("publisher", ""),
                "date": doc.metadata.get("date", ""),
                "chunks": chunk_counts.get(doc_id, previous.get("chunks", 0)),
                "kept": round(doc.cleaned.kept_share, 4), "removed": doc.cleaned.removed_by_rule(),
            }
            if doc.page_starts is not None:
                files[doc_id]["pages"] = len(doc.page_starts)
        return files

    def _embed(self, nodes: list) -> None:
        if not nodes:
            return
        from .embedding import document_embedder

        embedder = document_embedder(self.settings)
        texts = [embed_text(n) for n in nodes]
        batch = 32
        bar = None
        if self.settings.progress and self._progress is None:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="embedding chunks", unit="chunk")
        try:
            for start in range(0, len(texts), batch):
                vectors = embedder.get_text_embedding_batch(texts[start:start + batch])
                for node, vector in zip(nodes[start:start + batch], vectors):
                    node.embedding = vector
                done = min(start + batch, len(texts))
                if bar is not None:
                    bar.update(done - bar.n)
                if self._progress is not None:
                    self._progress(done, len(texts))
        finally:
            if bar is not None:
                bar.close()

    def _stat_refresh_needed(self, manifest: dict[str, Any], docs: dict[str, Document]) -> bool:
        for doc_id, doc in docs.items():
            entry = manifest["files"].get(doc_id, {})
            stat = doc.path.stat()
            if entry.get("size") != stat.st_size or entry.get("mtime_ns") != stat.st_mtime_ns:
                return True
        return False

    def _refresh_stats(self, build: Path, manifest: dict[str, Any], docs: dict[str, Document]) -> None:
        """Content unchanged but touched: record the new mtimes so status() stays cheap."""
        for doc_id, doc in docs.items():
            stat = doc.path.stat()
            manifest["files"][doc_id].update(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
        _write_json(build / "manifest.json", manifest)

    def _tidy(self, current: Path) -> None:
        """Clear what killed ingests left behind even when nothing changed: an unfinished build
        (a whole copy of the store) or builds a killed writer was still removing. The newest
        older build is kept, as after any ingest, for readers that may still be using it."""
        self._remove_abandoned()
        older = sorted(b.name for b in self.builds_dir.iterdir()
                       if b.name != current.name and not b.name.endswith(".partial"))
        self._remove_old_builds(keep={current.name, *older[-1:]})

    def _remove_abandoned(self) -> None:
        # A writer killed while replacing CURRENT leaves its temporary file behind.
        for tmp in self.root.glob(".CURRENT.*.tmp"):
            tmp.unlink(missing_ok=True)
        for partial in self.builds_dir.glob("*.partial"):
            self.store.discard(partial)
            shutil.rmtree(partial, ignore_errors=True)

    def _remove_old_builds(self, keep: set[str]) -> None:
        # The previous build is kept: a reader that opened it before the swap may still use it.
        for build in self.builds_dir.iterdir():
            if build.name not in keep:
                self.store.discard(build)
                shutil.rmtree(build, ignore_errors=True)


def _read_manifest(path: Path) -> dict[str, Any]:
    """A build's manifest, checked; ValueError says what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        _check_manifest(data)
    except (OSError, ValueError) as exc:
        raise ValueError(f"the index manifest {path} is unreadable ({exc})") from None
    return data


def _check_manifest(data: Any) -> None:
    """A damaged or hand-edited manifest is refused here, with what is wrong, instead of
    failing later as a TypeError in status() or ingest(), or being trusted while it
    disagrees with itself (a removed file entry would leave that file's chunks orphaned)."""
    def count(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, found {type(data).__name__}")
    files = data.get("files")
    if not isinstance(files, dict):
        raise ValueError("missing 'files'")
    for doc_id, entry in files.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
                and all(count(entry.get(key)) for key in ("size", "mtime_ns", "chunks"))):
            raise ValueError(f"the entry for {doc_id!r} is not a file record with sha256, size, mtime_ns and chunks")
    skipped = data.get("skipped", {})
    if not isinstance(skipped, dict) or not all(isinstance(entry, dict) for entry in skipped.values()):
        raise ValueError("'skipped' is not a table of skipped files")
    if not count(data.get("chunks")):
        raise ValueError(f"'chunks' is {data.get('chunks')!r}, not a count")
    listed = sum(entry["chunks"] for entry in files.values())
    if listed != data["chunks"]:
        raise ValueError(f"its files add up to {listed} chunks but it records {data['chunks']}; "
                         f"a file entry was removed or edited")


def _max_batch_size(collection, fallback: int = 1000) -> int:
    try:
        return max(1, int(collection._client.get_max_batch_size()))
    except Exception:  # noqa: BLE001 - an older or remote client without the call
        return fallback


def _skipped_entries(corpus_dir: Path, skipped: list[SkippedFile]) -> dict[str, Any]:
    entries = {}
    for item in skipped:
        try:
            stat = item.path.lstat()
            rel = item.path.relative_to(corpus_dir).as_posix()
        except (OSError, ValueError):
            continue
        entries[rel] = {"reason": item.reason, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return entries


def build_bm25(collection, path: Path) -> None:
    """Keyword index over every chunk of the collection, persisted beside it."""
    from llama_index.retrievers.bm25 import BM25Retriever

    from .lexicon import document_frequencies

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    nodes = all_nodes(collection)
    path.mkdir(parents=True, exist_ok=True)
    _write_json(path.parent / "terms.json", document_frequencies([n.get_content() for n in nodes]))
    if not nodes:
        return
    retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(10, len(nodes)))
    retriever.persist(str(path))


def all_nodes(collection) -> list:
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    # Read in pages: one get() of a whole collection fails beyond about 32k chunks ("too many
    # SQL variables", SQLite's limit), which a 100k-chunk build reached after all its embedding.
    nodes = []
    page = _max_batch_size(collection)
    for offset in range(0, collection.count(), page):
        got = collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
        for text, metadata in zip(got["documents"], got["metadatas"]):
            nodes.append(metadata_dict_to_node(metadata, text=text))
    nodes.sort(key=lambda n: (n.metadata["doc_id"], n.metadata["chunk_index"]))
    return nodes


def _write_json(path: Path, data: Any) -> None:
    _atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["CorpusIndex", "IngestReport", "IndexForAnotherCorpus", "IndexUnavailable", "IndexBusy", "StoreUnavailable",
           "build_fingerprint", "chroma_client", "all_nodes", "COLLECTION", "KEPT_WARNING", "cleaning_warnings"]
