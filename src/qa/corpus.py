"""Load corpus files, clean them, and read their metadata."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection

from .cleaning import CleanText, clean
from .html_text import read_html
from .paged import PagedText, assemble, page_at
from .structure import (
    Layout,
    Part,
    Structure,
    first_heading,
    layout,
    line_starts,
    on_own_lines,
    plain_title,
    text_structure,
)

log = logging.getLogger("qa")

HTML_SUFFIXES = (".html", ".htm")
PAGED_SUFFIXES = (".pdf", ".docx")  # read in a limited subprocess (qa.sandbox), with pages
# Every suffix ingest reads (the name is older than PDF and Word support).
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text") + HTML_SUFFIXES + PAGED_SUFFIXES
META_SUFFIX = ".meta.json"
# Bigger files are skipped unread: 20 MB of text is some 30,000 chunks, a quarter of an hour
# of embedding on 2 cores. A round number, so that the reason's "the limit is 20 MB" is exact.
MAX_FILE_BYTES = 20_000_000
# A PDF or Word file is mostly not text (fonts, images): its limit is on the file, and the text
# read from it has MAX_FILE_BYTES's limit.
MAX_PAGED_FILE_BYTES = 200_000_000
MAX_META_BYTES = 1024 * 1024  # a metadata sidecar is a few fields; a bigger one is not read


@dataclass(frozen=True)
class Document:
    doc_id: str          # stable: the file's path relative to the corpus folder
    path: Path           # the file itself
    original: str        # the file's text as it is on disk
    cleaned: CleanText   # article text with offsets back into `original`
    metadata: dict[str, Any]
    sha256: str          # of the file's bytes and of its metadata sidecar
    layout: Layout | None = None  # headings, documents and tables, in cleaned-text offsets
    # Where each page starts in `original` (a PDF, or a DOCX whose pages Word recorded; the pages
    # are separated by a form feed there); None for a format without pages.
    page_starts: tuple[int, ...] | None = None

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding original offset `offset`; None when the format has no pages."""
        return page_at(self.page_starts, offset)

    @property
    def structure(self) -> Layout:
        return self.layout or Layout((Part(self.title, 0, len(self.cleaned.text)),))

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


_LANGUAGE_TAG = re.compile(r"\.[a-z]{2}(?:[-_][a-zA-Z]{2})?$")  # "start.en" of start.en.html


def readable_file_name(path: Path) -> str:
    """A file's name as a title: "annual-report_2023.md" -> "Annual report 2023",
    "GPL-3.txt" -> "GPL-3" (a hyphen between a name and its number stays)."""
    stem = _LANGUAGE_TAG.sub("", path.stem) or path.stem
    pieces = stem.replace("_", " ").split("-")
    name = pieces[0]
    for piece in pieces[1:]:
        # "GPL-3", "Apache-2.0": a capitalised name keeps the hyphen before its number
        name += "-" + piece if name.split(" ")[-1][:1].isupper() and piece[:1].isdigit() else " " + piece
    name = " ".join(name.split()) or path.name
    return name[:1].upper() + name[1:]


def document_title(metadata: dict[str, Any], structure: Structure, path: Path, file_title: str = "") -> str:
    """How a source is named: the metadata sidecar's title; else the HTML page's <title>
    (or og:title); else the document's first heading; else the title in a PDF's or Word file's
    document properties (`file_title`); else its file name, made readable.
    Never a line of body text. A file that holds several documents is named by its file
    name; each of its documents by its own heading (see qa.structure.layout)."""
    if str(metadata.get("title") or "").strip():
        return str(metadata["title"])
    if structure.page_title:
        return structure.page_title
    tops = [h for h in structure.headings if h.level == 1]
    if len(tops) < 2 or not structure.splits_documents:
        heading = first_heading(structure)
        if heading:
            return heading
    if file_title:
        return plain_title(file_title)
    return plain_title(readable_file_name(path))


def _read_metadata(path: Path, root: Path) -> tuple[dict[str, Any], bytes]:
    sidecar = path.with_name(path.name + META_SUFFIX)
    if not sidecar.is_file():
        return {}, b""
    # A sidecar that is a symlink out of the corpus is never read (corpus_files names it).
    if not sidecar.resolve().is_relative_to(root):
        return {}, b""
    if sidecar.stat().st_size > MAX_META_BYTES:
        log.warning("ignoring metadata %s: larger than %d bytes", sidecar, MAX_META_BYTES)
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
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # a UTF-16 byte order mark: NUL bytes follow
        raise ValueError(f"UTF-16 text, not UTF-8; convert it, e.g. iconv -f UTF-16 -t UTF-8 '{path.name}'")
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
        # Before anything else: a symlink out of the corpus (to a file, a folder or a metadata
        # sidecar) is never followed, and is named rather than silently passed over.
        if not path.resolve().is_relative_to(root):
            skipped.append(SkippedFile(path, "links outside the corpus folder; copy the file in instead"))
            continue
        if path.name.endswith(META_SUFFIX) or path.is_dir():
            continue
        if path.suffix.lower() not in TEXT_SUFFIXES:
            skipped.append(SkippedFile(path, f"unsupported file type {path.suffix or '(none)'}; "
                                             f"supported: {', '.join(TEXT_SUFFIXES)}"))
            continue
        if not path.is_file():
            # Reading a named pipe would block the ingest forever; a broken link cannot be read.
            skipped.append(SkippedFile(path, "not a regular file (a pipe, socket, device or broken link)"))
            continue
        files.append(path)
    return files, skipped


def _read_paged(path: Path, data: bytes) -> PagedText:
    """A PDF's or DOCX's text by page, read in a limited subprocess; ValueError says why not.
    The result is kept for the file's content (the web app reads a cited file again to show
    its page)."""
    from . import sandbox
    from .docx_text import paged_docx
    from .pdf_text import paged_pdf

    if not data.strip():
        raise ValueError("empty file")
    key = hashlib.sha256(data).hexdigest() + path.suffix.lower()
    if key in _PAGED_CACHE:
        return _PAGED_CACHE[key]
    if path.suffix.lower() == ".pdf":
        paged = paged_pdf(sandbox.run("read_pdf", path), path.name)
    else:
        paged = paged_docx(sandbox.run("read_docx", path), path.name)
    if len(paged.original) > MAX_FILE_BYTES:
        raise ValueError(f"too much text ({len(paged.original) / 1e6:.1f} million characters; the limit is "
                         f"{MAX_FILE_BYTES / 1e6:.0f} million); split it")
    if len(_PAGED_CACHE) >= _PAGED_CACHE_SIZE:
        _PAGED_CACHE.pop(next(iter(_PAGED_CACHE)))
    _PAGED_CACHE[key] = paged
    return paged


_PAGED_CACHE: dict[str, PagedText] = {}
_PAGED_CACHE_SIZE = 32


def load_document(path: Path, corpus_dir: Path) -> Document:
    """Read, decode and clean one file; ValueError says why it cannot be used."""
    paged_format = path.suffix.lower() in PAGED_SUFFIXES
    limit = MAX_PAGED_FILE_BYTES if paged_format else MAX_FILE_BYTES
    try:
        size = path.stat().st_size
    except OSError as exc:  # removed or made unreadable since the folder was listed
        raise ValueError(f"cannot be read ({exc.strerror})") from None
    if size > limit:
        raise ValueError(f"too large ({size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB); split it")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror})") from None
    paged: PagedText | None = None
    file_title = ""
    if paged_format:
        paged = _read_paged(path, data)
        original, file_title = paged.original, paged.title
        cleaned, structure = assemble(paged)
    elif path.suffix.lower() in HTML_SUFFIXES:
        original = _decode(path, data)
        cleaned, structure = read_html(original)
    else:
        original = _decode(path, data)
        structure = text_structure(original)
        cleaned = on_own_lines(clean(original), line_starts(structure, original))
    if not cleaned.text.strip():
        rules = ", ".join(sorted(cleaned.removed_by_rule()))
        raise ValueError("no article text left after removing boilerplate"
                         + (f" (removed by: {rules})" if rules else ""))
    metadata, meta_raw = _read_metadata(path, corpus_dir.resolve())
    # A sidecar's title names the whole file: its level-1 headings are then sections.
    named = bool(str(metadata.get("title") or "").strip())
    metadata["title"] = document_title(metadata, structure, path, file_title)
    digest = hashlib.sha256(data + b"\0" + meta_raw).hexdigest()
    doc_id = path.relative_to(corpus_dir).as_posix()
    parts = layout(structure, cleaned, metadata["title"], keep_whole=named)
    return Document(doc_id, path, original, cleaned, metadata, digest, parts,
                    paged.page_starts if paged is not None else None)


def load_corpus(corpus_dir: Path, indexed: Collection[str] = ()) -> LoadResult:
    """Load every usable file of the corpus; name each file that cannot be used. Of files with
    the same text, one already `indexed` (doc ids) is kept, then a file over a link to it."""
    result = LoadResult()
    files, result.skipped = corpus_files(corpus_dir)
    kept: dict[str, str] = {}  # sha256 of a document's cleaned text -> the doc_id indexed with it

    def keep_first(path: Path) -> tuple[bool, bool]:
        return path.relative_to(corpus_dir).as_posix() not in indexed, path.is_symlink()

    for path in sorted(files, key=keep_first):
        try:
            doc = load_document(path, corpus_dir)
        except ValueError as exc:
            result.skipped.append(SkippedFile(path, str(exc)))
            continue
        # The same text under two names would be indexed twice and could be cited twice in
        # one answer: one is indexed (a new copy never displaces the indexed one) and the
        # other is named.
        key = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
        if key in kept:
            result.skipped.append(SkippedFile(path, f"duplicate: the same text as {kept[key]}, "
                                                    f"which is indexed; remove one of the two"))
            continue
        kept[key] = doc.doc_id
        result.documents.append(doc)
    for skipped in result.skipped:
        log.warning("%s", skipped)
    return result


__all__ = ["Document", "SkippedFile", "LoadResult", "load_corpus", "load_document",
           "corpus_files", "source_label", "document_title", "readable_file_name"]
