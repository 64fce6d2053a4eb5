"""Scoring: the per-question metrics as pure functions on plain values (each is defined in
docs/evaluation.md), one answer's scores (`score_answer`), and their means over a run (`aggregate`).

Retrieval scores reuse llama-index's HitRate, MRR and Recall. Token F1 follows SQuAD.
Citation recall and precision follow ALCE (Gao et al., 2023), with the entailment model
replaced by a `Judge` — any callable that says whether passages support a claim.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from ..citations import answer_sentences, statements
from ..lexicon import normalize
from ..types import Answer
from .datasets import EvalItem
from .records import AnswerSentence, QuestionResult, QuestionScores
from .stats import mean, median, percentile

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
_SPACE_AT_PUNCTUATION = re.compile(r"\s*([^\w\s])\s*")


def evidence_form(text: str) -> str:
    """normalize(), and spacing around punctuation ignored: evidence copied from a text dump
    of an HTML page reads "the uscan (1) manpage" or "date -R ." where the page, as a browser
    shows it and as the passage holds it, reads "uscan(1) manpage" and "date -R."."""
    return _SPACE_AT_PUNCTUATION.sub(r"\1", normalize(text))


def _evidence_sentences(evidence: str) -> list[str]:
    pieces = re.split(r"(?<=[.!?])\s+", normalize(evidence))
    return [evidence_form(p) for p in pieces if len(p) >= 30]


def contains_evidence(passage_text: str, evidence: str) -> bool:
    """The passage contains the evidence string, or — for evidence longer than a sentence,
    such as a llama-index reference context cut by another chunker — one of its sentences."""
    text = evidence_form(passage_text)
    wanted = evidence_form(evidence)
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


# One answer, and a run ---------------------------------------------------------------
def score_answer(item: EvalItem, answer: Answer, passages: Sequence[str], judge: Judge | None,
                 similarity: Callable[[str, str], float] | None = None) -> QuestionResult:
    """Scores of one answer given the texts of the passages retrieved for it. A score that
    does not apply to the question is None (e.g. key facts of an unanswerable one)."""
    abstained = bool(answer.abstained)
    answerable = not item.unanswerable
    claims = " ".join(s for s, _ in statements(answer.text))
    # Key facts are looked for in what the answer states, attribution included ("According to
    # The Guardian (14 December 2016)" says who and when), but not in the answerer's remarks,
    # which may quote the question back.
    stated = " ".join(sentence for sentence, claim, _ in answer_sentences(answer.text) if claim)
    scores = QuestionScores(abstained=abstained, abstention_correct=abstained == item.unanswerable,
                            latency_ms=float((answer.timings_ms or {}).get("total", 0.0)),
                            generated=answer.answerer == "llm", fell_back=bool(answer.notice),
                            tokens_per_s=(answer.generation or {}).get("tokens_per_s"))
    if answerable and item.evidence:
        found = retrieval_scores(passages, item.evidence)
        scores.hit, scores.rr, scores.gold_recall = found.hit, found.rr, found.gold_recall
        scores.gold_cited = (not abstained) and any(is_gold(c.text, item.evidence) for c in answer.citations)
    if answerable and item.answers:
        scores.key_facts = (not abstained) and has_key_facts(stated, item.answers)
    if answerable and item.reference_answer:
        # An abstention on an answerable question states nothing: 0, not the overlap of its
        # quoted question with the reference.
        stating = claims and not abstained
        scores.token_f1 = token_f1(claims, item.reference_answer) if stating else 0.0
        if similarity is not None:
            scores.similarity = similarity(claims, item.reference_answer) if stating else 0.0
    sentences: list[AnswerSentence] = []
    if not abstained and judge is not None:
        shown = {c.number: c.text for c in answer.citations}
        cited = citation_scores(statements(answer.text), shown, judge)
        if cited is not None:
            scores.citation_recall, scores.citation_precision = cited.recall, cited.precision
            sentences = _judged_sentences(answer.text, cited.sentences)
    return QuestionResult(item, answer, sentences=sentences, scores=scores)


def _judged_sentences(text: str, judged: list[JudgedSentence]) -> list[AnswerSentence]:
    """Every sentence as shown (markers kept), with the judge's verdict on its claim; the
    answerer's own remarks are not judged (supported: None)."""
    verdicts = iter(judged)
    out = []
    for sentence, claim, numbers in answer_sentences(text):
        markers = "".join(f" [{n}]" for n in numbers)
        if markers and sentence[-1:] in ".!?":
            sentence, markers = sentence[:-1], markers + sentence[-1]
        supported = None if claim is None else next(verdicts).supported
        out.append(AnswerSentence(sentence + markers, claim, numbers, supported))
    return out


def aggregate(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Means over the questions each metric applies to (errors are counted, not scored).
    The keys are the catalogue's (catalogue.py)."""
    scored = [(r, r.scores) for r in results if not r.error and r.scores is not None]
    ok = [s for _, s in scored]
    unanswerable = [s for r, s in scored if r.item.unanswerable]
    abstentions = [r for r, s in scored if s.abstained]
    latencies = [s.latency_ms for s in ok]

    def avg(name: str) -> float:
        return mean(getattr(s, name) for s in ok)

    return {"questions": len(results), "errors": len(results) - len(ok),
            "hit_rate": avg("hit"), "mrr": avg("rr"), "gold_recall": avg("gold_recall"),
            "key_facts": avg("key_facts"), "gold_cited": avg("gold_cited"), "token_f1": avg("token_f1"),
            "similarity": avg("similarity"), "citation_recall": avg("citation_recall"),
            "citation_precision": avg("citation_precision"),
            "abstention_recall": mean(s.abstained for s in unanswerable),
            "abstention_precision": mean(r.item.unanswerable for r in abstentions),
            "wrong_abstention": mean(s.abstained for r, s in scored if not r.item.unanswerable),
            "latency_median_ms": median(latencies), "latency_p95_ms": percentile(latencies, 95),
            "generated": avg("generated"), "tokens_per_s": avg("tokens_per_s")}


__all__ = ["Judge", "normalize", "evidence_form", "has_key_facts", "token_f1", "contains_evidence", "is_gold",
           "RetrievalScores", "retrieval_scores", "JudgedSentence", "CitationScores", "citation_scores",
           "score_answer", "aggregate"]
