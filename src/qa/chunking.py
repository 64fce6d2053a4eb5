"""Sentence-aware chunks measured in tiktoken tokens, with offsets and stable ids.

Written here instead of llama-index's SentenceSplitter because its overlap is cut at a
token count and so starts chunks mid-sentence; ours overlaps by whole sentences, so
every chunk (and every cited passage) starts and ends on a sentence boundary, and each
chunk carries exact offsets into the cleaned and the original text.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .corpus import Document

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "maj", "lt", "col", "capt", "sgt", "brig", "adm",
    "gov", "sen", "rep", "st", "jr", "sr", "no", "vs", "etc", "inc", "ltd", "co", "corp", "dept",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "e.g", "i.e", "u.s", "u.k", "u.n", "approx", "est", "fig", "al",
}
# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and a capital,
# a digit or an opening quote; or at a line break.
_BOUNDARY = re.compile(r"""(?<=[.!?])["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9])|\n+""")
_WORD_BEFORE = re.compile(r"(?<![\w.])([A-Za-z][A-Za-z.]*)\.[\"'”’)\]]*$")


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    index: int
    text: str
    clean_start: int   # offsets in the cleaned text
    clean_end: int
    start: int         # offsets in the original file
    end: int
    tokens: int
    metadata: dict[str, Any]


@lru_cache(maxsize=1)
def _encoding():
    import llama_index.core as core
    import tiktoken

    cache = Path(core.__file__).parent / "_static" / "tiktoken_cache"
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache))
    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences in text, shifted by offset, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end() if match.group().strip() else match.start()
        if "\n" not in match.group():
            last_word = _WORD_BEFORE.search(text, start, end)
            if last_word and (last_word.group(1).lower() in _ABBREVIATIONS or len(last_word.group(1)) == 1):
                continue  # "Maj. Gen. Soleimani", "Feb. 11", "J. Smith"
        _append_trimmed(spans, text, start, end, offset)
        start = match.end()
    _append_trimmed(spans, text, start, len(text), offset)
    return spans


def _append_trimmed(spans: list[tuple[int, int]], text: str, start: int, end: int, offset: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((offset + start + lead, offset + start + lead + len(stripped)))


def _split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than the limit at word boundaries."""
    pieces, piece_start = [], start
    words = [m.end() for m in re.finditer(r"\S+", text[start:end])]
    last_ok = piece_start
    for word_end in words:
        word_end += start
        if count_tokens(text[piece_start:word_end]) > limit and last_ok > piece_start:
            pieces.append((piece_start, last_ok))
            piece_start = last_ok
            while piece_start < end and text[piece_start].isspace():
                piece_start += 1
        last_ok = word_end
    if piece_start < end:
        pieces.append((piece_start, end))
    return pieces


def chunk_id(doc_id: str, index: int, text: str, config: dict[str, Any]) -> str:
    payload = json.dumps([doc_id, index, text, config], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class _Unit:
    """A piece the packer never splits: a sentence, a heading or a table row."""
    start: int
    end: int
    tokens: int
    part: int          # which document of the file
    section: str       # section path in force at the unit
    table: int = -1    # index into the layout's tables, for a row
    heading: bool = False
    opens_section: bool = False  # a heading: a chunk may start afresh here

    def context_tokens(self, headers: list[str]) -> int:
        """Tokens the chunk's header lines (section, table header) take in the embedded text."""
        tokens = count_tokens(self.section) + 1 if self.section else 0
        if self.table >= 0 and headers[self.table]:
            tokens += count_tokens(headers[self.table]) + 1
        return tokens


def _units(doc: Document, chunk_tokens: int) -> list[_Unit]:
    """Sentences of the text outside headings and table rows; each heading and each row whole."""
    text = doc.text
    layout = doc.structure
    protected: list[tuple[int, int, int, bool]] = [(s, e, -1, True) for s, e in layout.headings]
    for number, (_, header, rows) in enumerate(layout.tables):
        protected += [(s, e, number, False) for s, e in ([header] if header else []) + list(rows)]
    protected.sort()
    spans: list[tuple[int, int, int, bool]] = []
    at = 0
    for start, end, table, heading in protected:
        if start < at:
            continue  # overlaps the one before (a heading inside a table cell): keep the first
        spans += [(s, e, -1, False) for s, e in split_sentences(text[at:start], offset=at)]
        spans.append((start, end, table, heading))
        at = end
    spans += [(s, e, -1, False) for s, e in split_sentences(text[at:], offset=at)]
    # Document boundaries cut whatever spans them.
    cuts = sorted(p.start for p in layout.parts[1:])
    cut_spans = []
    for start, end, table, heading in spans:
        for cut in cuts:
            if start < cut < end:
                cut_spans.append((start, cut, table, heading))
                start = cut
        cut_spans.append((start, end, table, heading))
    headers = [header for header, _, _ in layout.tables]
    units = []
    for start, end, table, heading in cut_spans:
        start, end = _trimmed(text, start, end)
        if end <= start:
            continue
        unit = _Unit(start, end, count_tokens(text[start:end]), layout.part_at(start), layout.section_at(start),
                     table, heading, heading)
        limit = max(chunk_tokens - unit.context_tokens(headers), chunk_tokens // 2)
        if unit.tokens <= limit:
            units.append(unit)
            continue
        for number, (s, e) in enumerate(_split_long(text, start, end, limit)):
            units.append(_Unit(s, e, count_tokens(text[s:e]), unit.part, unit.section, table, heading,
                               heading and number == 0))
    return units


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def chunk_document(doc: Document, chunk_tokens: int, overlap_tokens: int) -> list[Chunk]:
    """Pack whole sentences into chunks of at most chunk_tokens, overlapping by whole sentences.

    Structure (doc.structure) shapes the packing: a chunk never spans two documents of a
    file; a heading starts a new chunk unless the chunk so far is tiny; a table row is one
    unit. The header lines embedded with a chunk (its section, its table's header row)
    count against its budget, so the embedded text still fits the model's window."""
    text = doc.text
    layout = doc.structure
    headers = [header for header, _, _ in layout.tables]
    config = {"chunk_tokens": chunk_tokens, "overlap_tokens": overlap_tokens}
    tiny = max(1, chunk_tokens // 4)
    units = _units(doc, chunk_tokens)

    def fits(group: list[_Unit]) -> bool:
        context = max(u.context_tokens(headers) for u in group)
        return _span_tokens(text, group[0].start, group[-1].end) + context <= chunk_tokens

    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    for unit in units:
        if current and (unit.part != current[0].part
                        or (unit.opens_section and _span_tokens(text, current[0].start, current[-1].end) >= tiny)):
            groups.append(current)  # a new document or section: no overlap carried across
            current = []
        if current and not fits(current + [unit]):
            carried: list[_Unit] = []
            while len(current) > 1 and current[-1].heading:
                carried.insert(0, current.pop())  # a heading goes with what follows it
            groups.append(current)
            overlap: list[_Unit] = []
            if not carried:
                for previous in reversed(current):
                    # At least one sentence is carried over whenever it fits, even a long one.
                    if overlap and sum(u.tokens for u in overlap) + previous.tokens > overlap_tokens:
                        break
                    if not fits([previous] + overlap + [unit]):
                        break
                    overlap.insert(0, previous)
            current = overlap or carried
            if current and not fits(current + [unit]):
                groups.append(current)
                current = []
        current.append(unit)
    if current:
        groups.append(current)

    chunks = []
    for index, group in enumerate(groups):
        start, end = group[0].start, group[-1].end
        piece = text[start:end]
        orig_start, orig_end = doc.cleaned.original_span(start, end)
        metadata = _chunk_metadata(doc, group, headers)
        page = doc.page_at(orig_start)
        if page is not None:  # the page the chunk starts on (a PDF, or a DOCX with recorded pages)
            metadata["page"] = page
        chunks.append(Chunk(
            id=chunk_id(doc.doc_id, index, piece, config), doc_id=doc.doc_id, index=index,
            text=piece, clean_start=start, clean_end=end, start=orig_start, end=orig_end,
            tokens=count_tokens(piece), metadata=metadata))
    return chunks


def _chunk_metadata(doc: Document, group: list[_Unit], headers: list[str]) -> dict[str, Any]:
    """The document's metadata, with the title of the document the chunk belongs to (a file
    may hold several), the section most of its text is in, and its table's header row."""
    layout = doc.structure
    metadata = dict(doc.metadata)
    if len(layout.parts) > 1:
        metadata["title"] = layout.parts[group[0].part].title
    weight: dict[str, int] = {}
    for unit in group:
        if not unit.heading:
            weight[unit.section] = weight.get(unit.section, 0) + unit.end - unit.start
    metadata["section"] = max(weight, key=weight.get) if weight else group[0].section
    tables = [u.table for u in group if u.table >= 0 and headers[u.table]]
    metadata["table_header"] = headers[tables[0]] if tables else ""
    return metadata


def _span_tokens(text: str, start: int, end: int) -> int:
    return count_tokens(text[start:end])


__all__ = ["Chunk", "chunk_document", "split_sentences", "count_tokens", "chunk_id"]
