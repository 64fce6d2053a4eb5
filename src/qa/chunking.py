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


def chunk_document(doc: Document, chunk_tokens: int, overlap_tokens: int) -> list[Chunk]:
    """Pack whole sentences into chunks of at most chunk_tokens, overlapping by whole sentences."""
    text = doc.text
    config = {"chunk_tokens": chunk_tokens, "overlap_tokens": overlap_tokens}
    units: list[tuple[int, int, int]] = []  # (start, end, tokens)
    for start, end in split_sentences(text):
        tokens = count_tokens(text[start:end])
        if tokens <= chunk_tokens:
            units.append((start, end, tokens))
        else:
            units.extend((s, e, count_tokens(text[s:e])) for s, e in _split_long(text, start, end, chunk_tokens))

    groups: list[list[tuple[int, int, int]]] = []
    current: list[tuple[int, int, int]] = []
    for unit in units:
        if current and _span_tokens(text, current[0][0], unit[1]) > chunk_tokens:
            groups.append(current)
            overlap: list[tuple[int, int, int]] = []
            for previous in reversed(current):
                # At least one sentence is carried over whenever it fits, even a long one.
                if overlap and sum(u[2] for u in overlap) + previous[2] > overlap_tokens:
                    break
                if _span_tokens(text, previous[0], unit[1]) > chunk_tokens:
                    break
                overlap.insert(0, previous)
            current = overlap
        current.append(unit)
    if current:
        groups.append(current)

    chunks = []
    for index, group in enumerate(groups):
        start, end = group[0][0], group[-1][1]
        piece = text[start:end]
        orig_start, orig_end = doc.cleaned.original_span(start, end)
        chunks.append(Chunk(
            id=chunk_id(doc.doc_id, index, piece, config), doc_id=doc.doc_id, index=index,
            text=piece, clean_start=start, clean_end=end, start=orig_start, end=orig_end,
            tokens=count_tokens(piece), metadata=doc.metadata))
    return chunks


def _span_tokens(text: str, start: int, end: int) -> int:
    return count_tokens(text[start:end])


__all__ = ["Chunk", "chunk_document", "split_sentences", "count_tokens", "chunk_id"]
