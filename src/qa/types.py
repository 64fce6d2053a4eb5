"""The contract other code relies on: Passage (what retrieval returns), Citation and Answer
(what qa.ask returns). Data only; the [n] grammar that ties them together is in citations.py."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SECTION_SEPARATOR = " › "  # between a document and its section, and between nested sections


@dataclass
class Passage:
    """A contiguous piece of one document: one chunk, or overlapping chunks merged."""
    chunk_ids: list[str]
    doc_id: str
    text: str
    start: int          # offsets in the original file
    end: int
    clean_start: int    # offsets in the cleaned text
    clean_end: int
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return str(self.metadata.get("source") or self.doc_id)

    @property
    def path(self) -> str:
        return str(self.metadata.get("path") or self.doc_id)


@dataclass
class Citation:
    number: int
    text: str            # the full passage text that was cited
    source: str          # "The Guardian — Iran hails victory in Aleppo… (2016-12-14)", "… › section"
    path: str            # corpus file the passage comes from
    start: int           # offsets of the passage in that file's original text
    end: int
    title: str = ""
    publisher: str = ""
    date: str = ""
    url: str = ""
    section: str = ""    # section path in the document, "Terms and Conditions › 3. Grant of Patent License"
    highlights: list[tuple[int, int]] = field(default_factory=list)  # sentences relied on, offsets in text
    # The 1-based page the passage starts on (a PDF, or a Word file whose pages Word recorded);
    # None for a format without pages. A passage that runs onto the next page cites its first.
    page: int | None = None

    @classmethod
    def from_passage(cls, number: int, passage: Passage, highlights: list[tuple[int, int]]) -> "Citation":
        meta = passage.metadata
        section = str(meta.get("section") or "")
        source = f"{passage.source}{SECTION_SEPARATOR}{section}" if section else passage.source
        return cls(number=number, text=passage.text, source=source, path=passage.path,
                   start=passage.start, end=passage.end, title=str(meta.get("title", "")),
                   publisher=str(meta.get("publisher", "")), date=str(meta.get("date", "")),
                   url=str(meta.get("url", "")), section=section, highlights=list(highlights),
                   page=int(meta["page"]) if meta.get("page") is not None else None)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["highlights"] = [list(span) for span in self.highlights]
        return data


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    conflict: bool = False
    standalone_question: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    answerer: str = "extractive"    # "extractive", or "llm" for a generated, checked answer
    notice: str = ""                # why a generated answer was replaced (also the text's first sentence)
    generation: dict[str, Any] = field(default_factory=dict)  # model, tokens, tokens/s, dropped sentences
    # The documents the question was limited to (corpus-relative paths, what documents= resolved
    # to); None when it was asked about all of them.
    documents: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "standalone_question": self.standalone_question,
                "text": self.text, "abstained": self.abstained, "conflict": self.conflict,
                "citations": [c.to_dict() for c in self.citations], "timings_ms": self.timings_ms,
                "answerer": self.answerer, "notice": self.notice, "generation": self.generation,
                "documents": self.documents}

    def __str__(self) -> str:
        return self.text


__all__ = ["Passage", "Citation", "Answer"]
