"""The record of one evaluated question: its answer, the passages retrieved for it, its
sentences as judged, and its scores, as typed fields. `to_dict()` writes the saved-run
format (`qa-eval-run/1`); `from_dict()` reads it back."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..types import Answer, Citation
from .datasets import EvalItem


@dataclass
class QuestionScores:
    """One question's scores; None where a score does not apply (e.g. key facts of an
    unanswerable question, citation scores of an abstention). The field order is the
    saved run's key order."""
    hit: float | None = None                 # a gold passage among those retrieved (1.0 / 0.0)
    rr: float | None = None                  # 1 / rank of the first gold passage
    gold_recall: float | None = None         # share of the evidence strings retrieved
    key_facts: bool | None = None            # every key-fact group in what the answer states
    gold_cited: bool | None = None           # the answer cites a gold passage
    token_f1: float | None = None            # SQuAD token F1 against the reference answer
    similarity: float | None = None          # embedding similarity to the reference answer
    citation_recall: float | None = None     # ALCE
    citation_precision: float | None = None  # ALCE
    abstained: bool = False
    abstention_correct: bool = False         # abstained exactly when the question is unanswerable
    latency_ms: float = 0.0
    generated: bool = False                  # written by the language model
    fell_back: bool = False                  # a generated answer was replaced by the extractive one
    tokens_per_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuestionScores:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class RetrievedPassage:
    """A passage retrieved for the question, in rank order."""
    rank: int
    source: str
    path: str
    start: int
    end: int
    gold: bool   # contains one of the question's evidence strings
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetrievedPassage:
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})


@dataclass
class AnswerSentence:
    """A sentence of the answer as shown (its [n] markers kept), with the claim the judge
    saw and its verdict; the answerer's own remarks have no claim and no verdict."""
    text: str
    claim: str | None
    citations: list[int]
    supported: bool | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerSentence:
        return cls(data.get("text", ""), data.get("claim"), list(data.get("citations") or []), data.get("supported"))


@dataclass
class QuestionResult:
    item: EvalItem
    answer: Answer | None    # None when the pipeline failed on the question
    retrieved: list[RetrievedPassage] = field(default_factory=list)
    sentences: list[AnswerSentence] = field(default_factory=list)
    scores: QuestionScores | None = None   # None when the pipeline failed on the question
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        item = self.item
        return {"key": item.key, "id": item.id, "set": item.set, "line": item.line, "type": item.type,
                "question": item.question, "history": [list(p) for p in item.history], "answers": item.answers,
                "evidence": item.evidence, "reference_answer": item.reference_answer, "documents": item.documents,
                "error": self.error,
                "answer": self.answer.to_dict() if self.answer is not None else None,
                "retrieved": [p.to_dict() for p in self.retrieved],
                "sentences": [s.to_dict() for s in self.sentences],
                "scores": self.scores.to_dict() if self.scores is not None else {}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuestionResult:
        item = EvalItem(id=data["id"], question=data["question"], answers=data.get("answers") or [],
                        evidence=data.get("evidence") or [],
                        history=[(q, a) for q, a in data.get("history") or []],
                        reference_answer=data.get("reference_answer") or "", type=data.get("type") or "single",
                        line=data.get("line") or 0, set=data.get("set") or "", documents=data.get("documents"))
        answer = data.get("answer")
        return cls(item, answer_from_dict(answer) if answer else None,
                   [RetrievedPassage.from_dict(p) for p in data.get("retrieved") or []],
                   [AnswerSentence.from_dict(s) for s in data.get("sentences") or []],
                   QuestionScores.from_dict(data["scores"]) if data.get("scores") else None,
                   data.get("error") or "")


def answer_from_dict(data: dict[str, Any]) -> Answer:
    """The Answer that `Answer.to_dict()` wrote."""
    citations = [Citation(**{**c, "highlights": [tuple(span) for span in c.get("highlights") or []]})
                 for c in data.get("citations") or []]
    names = {f.name for f in fields(Answer)} - {"citations"}
    return Answer(citations=citations, **{k: v for k, v in data.items() if k in names})


__all__ = ["QuestionScores", "RetrievedPassage", "AnswerSentence", "QuestionResult", "answer_from_dict"]
