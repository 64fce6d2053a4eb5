"""Evaluation sets (design-notes JSONL): load with line-numbered errors, run, score.

Metrics here are the ones the foundation needs; each is defined in the README:
key facts (every `answers` group appears in the answer), gold cited (a cited passage
contains an `evidence` substring), abstention (unanswerable questions abstained).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

QUESTION_TYPES = ("single", "multi", "conflict", "unanswerable", "followup")
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "\u00a0": " ", "–": "-", "—": "-"})


class EvalSetError(ValueError):
    """An evaluation set line is invalid; the message names the file and line."""


@dataclass
class EvalItem:
    id: str
    question: str
    answers: list[list[str]]
    evidence: list[str]
    history: list[tuple[str, str]] = field(default_factory=list)
    reference_answer: str = ""
    type: str = "single"
    line: int = 0

    @property
    def unanswerable(self) -> bool:
        return self.type == "unanswerable" or (not self.answers and not self.evidence)


def normalize(text: str) -> str:
    """Case-, quote- and whitespace-insensitive form used for matching."""
    return " ".join(text.translate(_QUOTES).lower().split())


def _string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EvalSetError(f"{where} must be a list of strings")
    return value


def parse_item(data: Any, where: str, line: int) -> EvalItem:
    if not isinstance(data, dict):
        raise EvalSetError(f"{where}: expected a JSON object")
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise EvalSetError(f"{where}: missing 'question' (a non-empty string)")
    answers = data.get("answers", [])
    if not isinstance(answers, list):
        raise EvalSetError(f"{where}: 'answers' must be a list of lists of strings")
    groups = [_string_list(g, f"{where}: each 'answers' group") for g in answers]
    evidence = _string_list(data.get("evidence", []), f"{where}: 'evidence'")
    history = data.get("history") or []
    if not isinstance(history, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in history):
        raise EvalSetError(f"{where}: 'history' must be a list of [question, answer] pairs")
    kind = data.get("type", "unanswerable" if not groups else "single")
    if kind not in QUESTION_TYPES:
        raise EvalSetError(f"{where}: 'type' must be one of {', '.join(QUESTION_TYPES)}")
    return EvalItem(id=str(data.get("id", f"line{line}")), question=question, answers=groups,
                    evidence=evidence, history=[(q, a) for q, a in history],
                    reference_answer=str(data.get("reference_answer", "")), type=kind, line=line)


def load_eval_set(path: Path) -> list[EvalItem]:
    items = []
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise EvalSetError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            items.append(parse_item(data, where, number))
    if not items:
        raise EvalSetError(f"{path}: no questions")
    return items


def has_key_facts(answer_text: str, groups: list[list[str]]) -> bool:
    text = normalize(answer_text)
    return all(any(normalize(alt) in text for alt in group) for group in groups)


def is_gold(passage_text: str, evidence: Iterable[str]) -> bool:
    text = normalize(passage_text)
    return any(normalize(e) in text for e in evidence)


@dataclass
class ItemResult:
    item: EvalItem
    answer: dict[str, Any] | None
    error: str = ""
    key_facts: bool = False
    gold_cited: bool = False
    abstained: bool = False
    latency_ms: float = 0.0


@dataclass
class Report:
    results: list[ItemResult]

    def _share(self, values: list[bool]) -> float:
        return sum(values) / len(values) if values else float("nan")

    def metrics(self) -> dict[str, float]:
        answerable = [r for r in self.results if not r.item.unanswerable and not r.error]
        unanswerable = [r for r in self.results if r.item.unanswerable and not r.error]
        abstained = [r for r in self.results if r.abstained]
        latencies = sorted(r.latency_ms for r in self.results if not r.error)
        return {
            "questions": len(self.results),
            "errors": sum(1 for r in self.results if r.error),
            "key_facts": self._share([r.key_facts for r in answerable]),
            "gold_cited": self._share([r.gold_cited for r in answerable]),
            "abstention_recall": self._share([r.abstained for r in unanswerable]),
            "abstention_precision": self._share([r.item.unanswerable for r in abstained]),
            "latency_median_ms": statistics.median(latencies) if latencies else float("nan"),
            "latency_p95_ms": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else float("nan"),
        }

    def by_type(self) -> dict[str, dict[str, float]]:
        out = {}
        for kind in QUESTION_TYPES:
            subset = [r for r in self.results if r.item.type == kind]
            if subset:
                out[kind] = Report(subset).metrics()
        return out

    def table(self) -> str:
        m = self.metrics()
        rows = [("questions", f"{m['questions']}"), ("errors", f"{m['errors']}"),
                ("key facts in answer", f"{m['key_facts']:.2f}"), ("gold passage cited", f"{m['gold_cited']:.2f}"),
                ("unanswerable abstained (recall)", f"{m['abstention_recall']:.2f}"),
                ("abstentions correct (precision)", f"{m['abstention_precision']:.2f}"),
                ("latency median / p95 (ms)", f"{m['latency_median_ms']:.0f} / {m['latency_p95_ms']:.0f}")]
        width = max(len(r[0]) for r in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        lines.append("")
        lines.append(f"{'type':<13}{'n':>4}{'key facts':>11}{'gold cited':>12}{'abstained':>11}")
        for kind, km in self.by_type().items():
            n = sum(1 for r in self.results if r.item.type == kind)
            abst = sum(1 for r in self.results if r.item.type == kind and r.abstained)
            lines.append(f"{kind:<13}{n:>4}{_fmt(km['key_facts']):>11}{_fmt(km['gold_cited']):>12}{abst:>11}")
        return "\n".join(lines)


def _fmt(value: float) -> str:
    return "-" if value != value else f"{value:.2f}"


def score_item(item: EvalItem, answer: dict[str, Any]) -> ItemResult:
    result = ItemResult(item, answer, abstained=bool(answer["abstained"]),
                        latency_ms=float(answer.get("timings_ms", {}).get("total", 0.0)))
    if not item.unanswerable and not result.abstained:
        result.key_facts = has_key_facts(answer["text"], item.answers)
        result.gold_cited = any(is_gold(c["text"], item.evidence) for c in answer["citations"])
    return result


def run(items: list[EvalItem], ask: Callable[..., Any], progress: bool = False) -> Report:
    """Ask every question; one failing question is recorded and the run goes on."""
    iterator: Iterable[EvalItem] = items
    if progress:
        from tqdm import tqdm

        iterator = tqdm(items, desc="evaluating", unit="question")
    results = []
    for item in iterator:
        try:
            answer = ask(item.question, history=item.history or None)
        except Exception as exc:  # noqa: BLE001 - reported per question, the run continues
            results.append(ItemResult(item, None, error=f"{type(exc).__name__}: {exc}"))
            continue
        results.append(score_item(item, answer.to_dict()))
    return Report(results)


__all__ = ["EvalItem", "EvalSetError", "load_eval_set", "run", "Report", "has_key_facts", "is_gold",
           "normalize", "score_item"]
