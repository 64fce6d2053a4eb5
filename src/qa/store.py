"""Where a build's vectors live: a Chroma folder inside the build, or a Chroma server.

Local (the default): index/builds/<name>/chroma/, one collection named qa_chunks.
Server (chroma_url / QA_CHROMA_URL): one collection per build on the server, named
qa_<build name>, so a new build is still made aside and swapped in by index/CURRENT.
Either way the rest of a build (manifest.json, bm25/, terms.json) stays in index/.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import urlsplit

from .errors import StoreUnavailable

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger("qa")

LOCAL_COLLECTION = "qa_chunks"
COLLECTION_METADATA = {"hnsw:space": "cosine"}
# chromadb's HTTP client waits forever by default; a server that is down refuses at once,
# these bound a host that does not answer at all and a request that never completes.
CONNECT_TIMEOUT = 3.0
REQUEST_TIMEOUT = 60.0
COPY_BATCH = 1000
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")


# Clients of one folder share a Chroma "system", counted by reference. Opening (find the
# system, then count it) and closing (uncount, then stop and forget it at zero) are not
# atomic in chromadb, so a thread opening a folder while another closes its last client
# got a stopped system ("'RustBindingsAPI' object has no attribute 'bindings'", or a
# KeyError naming the folder). Both happen under this lock.
_LOCAL_SYSTEMS = threading.Lock()


def local_client(path: Path) -> "ClientAPI":
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    with _LOCAL_SYSTEMS:
        return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))


def close_client(client: "ClientAPI") -> None:
    """Close a client opened by local_client or Store.open_client."""
    with _LOCAL_SYSTEMS:
        client.close()


def server_collection_name(build_name: str) -> str:
    """Chroma's rules: 3-512 characters of [A-Za-z0-9._-], alphanumeric at both ends."""
    name = "qa_" + _NAME_CHARS.sub("-", build_name)
    name = name[:512].rstrip("._-")
    return name if len(name) >= 3 else "qa_build"


class Store:
    """The vector store behind the builds of one index."""

    def __init__(self, url: str = "") -> None:
        self.url = url  # "" for local folders, else http(s)://host:port (checked by Settings)

    @property
    def is_server(self) -> bool:
        return bool(self.url)

    def collection_name(self, build_name: str) -> str:
        return server_collection_name(build_name) if self.url else LOCAL_COLLECTION

    def record(self, build_name: str) -> dict[str, str]:
        """What a build's manifest says about where its vectors are."""
        if self.url:
            return {"kind": "http", "url": self.url, "collection": self.collection_name(build_name)}
        return {"kind": "local", "path": "chroma", "collection": LOCAL_COLLECTION}

    def mismatch(self, manifest: dict[str, Any]) -> str | None:
        """Why a build cannot be used with this store, or None. Manifests from before server
        mode have no "store" and are local."""
        recorded = manifest.get("store") or {"kind": "local"}
        if not isinstance(recorded, dict):
            return f"the manifest's store record {recorded!r} is not understood"
        if recorded.get("kind") == "http":
            if not self.url:
                return f"the index was built for the Chroma server at {recorded.get('url')}, not a local store"
            if recorded.get("url") != self.url:
                return f"the index was built for the Chroma server at {recorded.get('url')}, not {self.url}"
            return None
        if self.url:
            return f"the index was built for a local Chroma store, not the server at {self.url}"
        return None

    def looks_complete(self, build: Path) -> bool:
        """The cheap check made on every question (a server is only asked when used). A build
        made for a server counts in local mode too, so that status() says what it is for."""
        if self.url or (build / "chroma").is_dir():
            return True
        return (_recorded_store(build) or {}).get("kind") == "http"

    # Talking to a server ----------------------------------------------------------------
    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn a connection failure anywhere in the block into a StoreUnavailable that says what to do."""
        import httpx

        try:
            yield
        except httpx.TransportError as exc:
            raise self.unavailable(exc) from None

    def unavailable(self, cause: BaseException | str) -> StoreUnavailable:
        parts = urlsplit(self.url)
        reason = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}".rstrip(": ")
        return StoreUnavailable(
            f"the Chroma server at {self.url} is not answering ({reason}); start it with: "
            f"chroma run --path <its data folder> --host {parts.hostname} --port {parts.port}, then try again")

    def open_client(self, build: Path) -> "ClientAPI":
        """A client for the build's vectors; the caller closes it."""
        if not self.url:
            return local_client(build / "chroma")
        import chromadb
        import httpx
        from chromadb.config import Settings as ChromaSettings

        # Checked first with a short timeout: creating chromadb's client already makes
        # requests, without any timeout.
        try:
            beat = httpx.get(f"{self.url}/api/v2/heartbeat", timeout=CONNECT_TIMEOUT)
        except httpx.TransportError as exc:
            raise self.unavailable(exc) from None
        if beat.status_code != 200 or "nanosecond heartbeat" not in beat.text:
            raise self.unavailable(f"HTTP {beat.status_code} from /api/v2/heartbeat: is it a Chroma server?")
        parts = urlsplit(self.url)
        try:
            with self.errors():
                client = chromadb.HttpClient(host=str(parts.hostname), port=int(parts.port or 0),
                                             ssl=parts.scheme == "https",
                                             settings=ChromaSettings(anonymized_telemetry=False))
        except ValueError as exc:  # chromadb's "Could not connect to a Chroma server"
            raise self.unavailable(str(exc)) from None
        session = getattr(getattr(client, "_server", None), "_session", None)
        if isinstance(session, httpx.Client):  # private in chromadb 1.x; without it, no timeout at all
            session.timeout = httpx.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT)
        return client

    def collection_exists(self, build: Path) -> bool:
        from chromadb.errors import NotFoundError

        client = self.open_client(build)
        try:
            with self.errors():
                client.get_collection(self.collection_name(build.name))
            return True
        except NotFoundError:
            return False
        finally:
            close_client(client)

    # Writing builds ---------------------------------------------------------------------
    @contextmanager
    def new_collection(self, staging: Path, name: str, previous: Path | None) -> Iterator["Collection"]:
        """The collection build `name` is written to (its folder being `staging` meanwhile),
        starting as a copy of the `previous` build's vectors."""
        if not self.url:
            if previous is not None:
                shutil.copytree(previous / "chroma", staging / "chroma")
            client = local_client(staging / "chroma")
            try:
                yield client.get_or_create_collection(LOCAL_COLLECTION, metadata=COLLECTION_METADATA)
            finally:
                close_client(client)
            return
        client = self.open_client(staging)
        try:
            with self.errors():
                target = client.create_collection(self.collection_name(name), metadata=COLLECTION_METADATA)
                if previous is not None:
                    copy_collection(client.get_collection(self.collection_name(previous.name)), target)
                yield target
        finally:
            close_client(client)

    def discard(self, build: Path) -> None:
        """Delete a build's vectors on the server it recorded (or, for an unfinished build, on
        ours). Best effort: a server that is down keeps an orphaned collection."""
        record = _recorded_store(build)
        name = build.name.removesuffix(".partial")
        if record is None and self.url:
            record = self.record(name)
        if not record or record.get("kind") != "http" or not record.get("url"):
            return
        other = Store(str(record.get("url", "")))
        try:
            client = other.open_client(build)
        except StoreUnavailable as exc:
            log.info("could not delete collection %s: %s", record.get("collection"), exc)
            return
        try:
            with suppress(Exception):
                client.delete_collection(str(record.get("collection") or server_collection_name(name)))
        finally:
            close_client(client)


def _recorded_store(build: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    store = data.get("store") if isinstance(data, dict) else None
    return store if isinstance(store, dict) else None


def copy_collection(source: "Collection", target: "Collection", batch: int = COPY_BATCH) -> int:
    """Copy every entry (id, embedding, document, metadata) in batches; returns how many."""
    copied = 0
    while True:
        got = source.get(include=["embeddings", "documents", "metadatas"], limit=batch, offset=copied)
        if not got["ids"]:
            return copied
        target.add(ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"],
                   metadatas=got["metadatas"])
        copied += len(got["ids"])


__all__ = ["Store", "StoreUnavailable", "local_client", "close_client", "server_collection_name", "copy_collection",
           "LOCAL_COLLECTION"]
