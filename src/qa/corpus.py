"""Load corpus files, clean them, and read their metadata."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cleaning import CleanText, clean
from .html_text import clean_html

log = logging.getLogger("qa")

HTML_SUFFIXES = (".html", ".htm")
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text") + HTML_SUFFIXES
META_SUFFIX = ".meta.json"
MAX_FILE_BYTES = 20 * 1024 * 1024
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


@dataclass(frozen=True)
class Document:
    doc_id: str          # stable: the file's path relative to the corpus folder
    path: Path           # the file itself
    original: str        # the file's text as it is on disk
    cleaned: CleanText   # article text with offsets back into `original`
    metadata: dict[str, Any]
    sha256: str          # of the file's bytes and of its metadata sidecar

    @property
    def text(self) -> str:
        return self.cleaned.text

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.doc_id)

    @property
    def source(self) -> str:
        return source_label(self.metadata, self.doc_id)


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"skipped {self.path}: {self.reason}"


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def human_date(date: str) -> str:
    """'2016-12-14' -> '14 December 2016'; '2016-02' -> 'February 2016'."""
    match = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", date or "")
    if not match or (match.group(2) and not 1 <= int(match.group(2)) <= 12):
        return date or ""
    year, month, day = match.groups()
    if not month:
        return year
    name = _MONTHS[int(month) - 1]
    return f"{int(day)} {name} {year}" if day else f"{name} {year}"


def source_label(metadata: dict[str, Any], fallback: str) -> str:
    """'The Guardian — Iran hails victory in Aleppo… (2016-12-14)'."""
    title = str(metadata.get("title") or fallback)
    if len(title) > 60:
        title = title[:57].rstrip() + "…"
    publisher = metadata.get("publisher")
    label = f"{publisher} — {title}" if publisher else title
    if metadata.get("date"):
        label += f" ({metadata['date']})"
    return label


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


def _read_metadata(path: Path) -> tuple[dict[str, Any], bytes]:
    sidecar = path.with_name(path.name + META_SUFFIX)
    if not sidecar.is_file():
        return {}, b""
    raw = sidecar.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
    except (UnicodeDecodeError, ValueError) as exc:
        log.warning("ignoring metadata %s: %s", sidecar, exc)
        return {}, raw
    return data, raw


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 text of a file, or ValueError with a reason a person can act on."""
    if not data.strip():
        raise ValueError("empty file")
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            f"convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8 '{path.name}'") from None
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 0.05 * min(len(text), 8192):
        raise ValueError("binary file (mostly control characters), not text")
    return text


def corpus_files(corpus_dir: Path) -> tuple[list[Path], list[SkippedFile]]:
    """Text files under corpus_dir (not eval sets or sidecars), and the files refused."""
    root = corpus_dir.resolve()
    files, skipped = [], []
    if not root.is_dir():
        return files, skipped
    for path in sorted(corpus_dir.rglob("*")):
        rel = path.relative_to(corpus_dir)
        if rel.parts[0] == "eval" or any(p.startswith(".") for p in rel.parts):
            continue
        if path.name.endswith(META_SUFFIX) or path.is_dir():
            continue
        if not path.resolve().is_relative_to(root):
            skipped.append(SkippedFile(path, "links outside the corpus folder; copy the file in instead"))
            continue
        if path.suffix.lower() not in TEXT_SUFFIXES:
            skipped.append(SkippedFile(path, f"unsupported file type {path.suffix or '(none)'}; "
                                             f"supported: {', '.join(TEXT_SUFFIXES)}"))
            continue
        files.append(path)
    return files, skipped


def load_document(path: Path, corpus_dir: Path) -> Document:
    """Read, decode and clean one file; ValueError says why it cannot be used."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"too large ({size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB); split it")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror})") from None
    original = _decode(path, data)
    cleaned = clean_html(original) if path.suffix.lower() in HTML_SUFFIXES else clean(original)
    if not cleaned.text.strip():
        raise ValueError("no article text left after removing boilerplate")
    metadata, meta_raw = _read_metadata(path)
    metadata.setdefault("title", _first_line(cleaned.text))
    digest = hashlib.sha256(data + b"\0" + meta_raw).hexdigest()
    doc_id = path.relative_to(corpus_dir).as_posix()
    return Document(doc_id, path, original, cleaned, metadata, digest)


def load_corpus(corpus_dir: Path) -> LoadResult:
    """Load every usable file of the corpus; name each file that cannot be used."""
    result = LoadResult()
    files, result.skipped = corpus_files(corpus_dir)
    for path in files:
        try:
            result.documents.append(load_document(path, corpus_dir))
        except ValueError as exc:
            result.skipped.append(SkippedFile(path, str(exc)))
    for skipped in result.skipped:
        log.warning("%s", skipped)
    return result


__all__ = ["Document", "SkippedFile", "LoadResult", "load_corpus", "load_document",
           "corpus_files", "source_label", "human_date"]
