"""Per-question scores, as pure functions on plain values (each is defined in the README).

Retrieval scores reuse llama-index's HitRate, MRR and Recall. Token F1 follows SQuAD.
Citation recall and precision follow ALCE (Gao et al., 2023), with the entailment model
replaced by a `Judge` — any callable that says whether passages support a claim.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from .lexicon import normalize

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation + "“”‘’–—")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*$")

Judge = Callable[[str, Sequence[str]], bool]
"""judge(claim, passages) -> True when the passages, read together, support the claim."""


# Answers ---------------------------------------------------------------------------------
def has_key_facts(answer_text: str, groups: list[list[str]]) -> bool:
    """Every group of key facts has at least one alternative in the answer, as whole words
    ("13" is not found in "2013", nor "two" in "network")."""
    text = normalize(answer_text)
    return all(any(_contains_words(text, normalize(alt)) for alt in group) for group in groups)


def _contains_words(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


def _squad_tokens(text: str) -> list[str]:
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return text.split()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: harmonic mean of token precision and recall, after lower-casing and
    removing punctuation and articles."""
    predicted, gold = _squad_tokens(prediction), _squad_tokens(reference)
    if not predicted or not gold:
        return float(predicted == gold)
    common = sum((Counter(predicted) & Counter(gold)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


# Retrieval -------------------------------------------------------------------------------
def _evidence_sentences(evidence: str) -> list[str]:
    pieces = re.split(r"(?<=[.!?])\s+", normalize(evidence))
    return [p for p in pieces if len(p) >= 30]


def contains_evidence(passage_text: str, evidence: str) -> bool:
    """The passage contains the evidence string, or — for evidence longer than a sentence,
    such as a llama-index reference context cut by another chunker — one of its sentences."""
    text = normalize(passage_text)
    wanted = normalize(evidence)
    if wanted in text:
        return True
    sentences = _evidence_sentences(evidence)
    return len(sentences) > 1 and any(s in text for s in sentences)


def is_gold(passage_text: str, evidence: Iterable[str]) -> bool:
    return any(contains_evidence(passage_text, e) for e in evidence)


@dataclass(frozen=True)
class RetrievalScores:
    hit: float          # 1 if any of the first k passages is gold
    rr: float           # 1 / rank of the first gold passage (0 if none)
    gold_recall: float  # share of evidence strings found in the first k passages


def retrieval_scores(passage_texts: Sequence[str], evidence: Sequence[str]) -> RetrievalScores:
    """Scores for ranked passages against gold evidence, via llama-index's metrics.

    Passages are gold when they contain an evidence string, so ids are made up here: each
    passage is `p<rank>`, and the expected ids are the gold ones. Recall is per evidence
    string (`e<i>`): each stands for one gold passage, whatever the chunking."""
    from llama_index.core.evaluation.retrieval.metrics import MRR, HitRate, Recall

    ranked = [f"p{i}" for i in range(len(passage_texts))]
    gold = [f"p{i}" for i, text in enumerate(passage_texts) if is_gold(text, evidence)]
    found = [f"e{j}" for j, e in enumerate(evidence) if any(contains_evidence(t, e) for t in passage_texts)]
    wanted = [f"e{j}" for j in range(len(evidence))]
    if not gold:
        hit = rr = 0.0
    else:
        hit = HitRate().compute(expected_ids=gold, retrieved_ids=ranked).score
        rr = MRR().compute(expected_ids=gold, retrieved_ids=ranked).score
    recall = Recall().compute(expected_ids=wanted, retrieved_ids=found or ["none"]).score
    return RetrievalScores(float(hit), float(rr), float(recall))


# Citations -------------------------------------------------------------------------------
@dataclass(frozen=True)
class JudgedSentence:
    text: str
    citations: list[int]
    supported: bool


@dataclass(frozen=True)
class CitationScores:
    recall: float            # share of statements whose cited passages together support them
    precision: float         # share of citations that are needed (ALCE's definition)
    sentences: list[JudgedSentence]


def citation_scores(statements: Sequence[tuple[str, list[int]]], passages: dict[int, str],
                    judge: Judge) -> CitationScores | None:
    """ALCE citation recall and precision for an answer's statements.

    A statement is supported when the concatenation of its cited passages supports it; one
    without citations, or citing a passage that was not shown, is not. A citation is
    precise when its statement is supported and the citation either supports the statement
    alone or is needed by the others (removing it breaks the support). None when the answer
    makes no statement (an abstention)."""
    if not statements:
        return None
    judged: list[JudgedSentence] = []
    precise = total = 0
    for text, numbers in statements:
        cited = [passages[n] for n in numbers if n in passages]
        supported = bool(numbers) and len(cited) == len(numbers) and judge(text, cited)
        judged.append(JudgedSentence(text, list(numbers), supported))
        total += len(numbers)
        if not supported:
            continue
        if len(numbers) == 1:
            precise += 1
            continue
        for i, n in enumerate(numbers):
            others = [passages[m] for j, m in enumerate(numbers) if j != i]
            if judge(text, [passages[n]]) or not judge(text, others):
                precise += 1
    recall = sum(s.supported for s in judged) / len(judged)
    precision = precise / total if total else 0.0
    return CitationScores(recall, precision, judged)


# Aggregates ------------------------------------------------------------------------------
def mean(values: Iterable[float | bool | None]) -> float:
    """Mean of the values that apply (None means 'does not apply'); NaN when none do."""
    kept = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(kept) / len(kept) if kept else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): the smallest value with at least q% at or below it."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


__all__ = ["Judge", "normalize", "has_key_facts", "token_f1", "contains_evidence", "is_gold",
           "RetrievalScores", "retrieval_scores", "JudgedSentence", "CitationScores", "citation_scores",
           "mean", "percentile", "median"]
