"""Fit the extractive answerer's model on several domains, and say how well it generalises.

`qa calibrate --fit corpus/eval/suite.toml`:
1. For every development question of every domain, runs the assistant's own steps
   (understand, retrieve) and scores every candidate sentence's features, embedding included.
2. Fits the three logistic regressions of qa.evidence (shortlist, sentence, answerable), the
   abstention threshold and the selection ratio on all domains together.
3. Leave-one-domain-out: fits on all domains but one and answers the held-out domain's
   questions with that model, for every domain in turn. Those are the figures that say what a
   new kind of document can expect; the in-sample figures are printed beside them.
4. Writes the model fitted on all domains (src/qa/evidence_model.json unless --output says).

Answers are replayed from the collected candidates through ExtractiveAnswerer.answer_from,
the same code that answers at run time, so the figures are the pipeline's, for the passages
that were retrieved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..config import Settings
from ..evidence import (
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    SHORTLIST_FEATURES,
    EvidenceModel,
    LogisticModel,
    fit_logistic,
    neutral,
    neutral_model,
)
from ..extractive import MAX_EMBEDDED_CANDIDATES, Candidate, ExtractiveAnswerer
from ..lexicon import TermStatistics, normalize
from ..types import Answer
from .datasets import EvalItem, load_sets
from .scoring import evidence_form, is_gold, score_answer
from .stats import mean
from .suite import Domain, domain_settings, load_suite

SELECTION_RATIOS = tuple(np.round(np.arange(0.1, 0.96, 0.05), 2))
# The target for wrong abstentions on every domain: the threshold is fitted to it.
MAX_WRONG_ABSTENTION = 0.05
L2 = 1.0


def gold_sentence(text: str, evidence: Sequence[str]) -> bool:
    """The sentence holds an evidence string, or is part of one that spans sentences."""
    sentence = evidence_form(text)
    for wanted in map(evidence_form, evidence):
        if wanted in sentence or (len(normalize(text).split()) >= 4 and sentence.rstrip(".") in wanted):
            return True
    return False


@dataclass
class Example:
    """One question with everything the answerer saw for it."""
    domain: str
    item: EvalItem
    question: str                          # as asked (display)
    alternatives: bool
    parts: list[tuple[str, list[Candidate]]]   # every candidate, embedded, cheap features set
    terms: TermStatistics                      # the domain's term weights and vocabulary
    passages: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return not self.item.unanswerable


def collect(domains: Sequence[Domain], base: Settings, heldout: bool = False,
            progress: Callable[[str], None] | None = None) -> list[Example]:
    """Run understand and retrieve for every question, and keep every candidate sentence."""
    from ..assistant import Assistant

    examples: list[Example] = []
    for domain in domains:
        settings = domain_settings(base, domain)
        bot = Assistant(settings)
        try:
            retriever = bot.retriever()  # builds or updates the domain's index when needed
            statistics = retriever.terms
            answerer = ExtractiveAnswerer(bot.vectors, statistics.idf, None, settings.max_answer_sentences,
                                          known=statistics.in_corpus, model=neutral_model(),
                                          named=statistics.named_titles)
            for item in load_sets(domain.heldout if heldout else domain.dev):
                query = bot.understand(item.question, item.history, settings, documents=item.documents)
                passages = bot.retrieve(query, settings)
                parts = []
                for text, vector in query.parts:
                    found = answerer.candidates(text, vector, passages, shortlist=10**6)
                    for cand in found:
                        cand.features["gold"] = float(gold_sentence(cand.text, item.evidence))
                    parts.append((text, found))
                examples.append(Example(domain.name, item, query.question, query.decomposed.alternatives, parts,
                                        statistics, [p.text for p in passages]))
        finally:
            bot.close()
        if progress:
            progress(f"{domain.name}: {sum(e.domain == domain.name for e in examples)} questions")
    return examples


# Fitting -------------------------------------------------------------------------------------
def _rows(model: LogisticModel, candidates: Sequence[Candidate]) -> np.ndarray:
    return model.matrix([c.features for c in candidates])


def _question_weights(groups: Sequence[Sequence[Candidate]]) -> np.ndarray:
    """Each question weighs the same, however many candidates it has."""
    return np.concatenate([np.full(len(g), 1.0 / len(g)) for g in groups if g]) if groups else np.zeros(0)


def _answerable_parts(examples: Sequence[Example]) -> list[list[Candidate]]:
    return [found for e in examples if e.answerable for _, found in e.parts if found]


def fit(examples: Sequence[Example], l2: float = L2) -> EvidenceModel:
    """The three models, the abstention threshold and the selection ratio, from examples."""
    groups = _answerable_parts(examples)
    x = np.vstack([_rows(neutral(SHORTLIST_FEATURES), g) for g in groups])
    y = np.array([c.features["gold"] for g in groups for c in g])
    shortlist = fit_logistic(SHORTLIST_FEATURES, x, y, l2, _question_weights(groups))

    sentence_neutral = neutral(SENTENCE_FEATURES)
    staged = EvidenceModel(shortlist, sentence_neutral, sentence_neutral, 0.5, 0.5)
    # ranked() sets each shortlisted candidate's dense_gap, as at run time (its order and P are not used here).
    shortlisted = [_answerer(staged).ranked(_answerer(staged).shortlisted(g, MAX_EMBEDDED_CANDIDATES)) for g in groups]
    x = np.vstack([_rows(sentence_neutral, g) for g in shortlisted])
    y = np.array([c.features["gold"] for g in shortlisted for c in g])
    sentence = fit_logistic(SENTENCE_FEATURES, x, y, l2, _question_weights(shortlisted))

    staged = EvidenceModel(shortlist, sentence, sentence_neutral, 0.5, 0.5)
    rows, labels = [], []
    for example in examples:
        answerer = _answerer(staged, example)
        for text, found in example.parts:
            ranked = answerer.ranked(answerer.shortlisted(found))
            rows.append(answerer.question_features(text, ranked))
            labels.append(float(example.answerable))
    x = neutral(QUESTION_FEATURES).matrix(rows)
    y = np.array(labels)
    # The two classes weigh the same: unanswerable questions are about a fifth of each set.
    weights = np.where(y > 0, 0.5 / max(1, y.sum()), 0.5 / max(1, (1 - y).sum())) * len(y)
    answerable = fit_logistic(QUESTION_FEATURES, x, y, l2, weights)
    threshold = _best_threshold(answerable.probabilities(answerable.matrix(rows)), y)
    model = EvidenceModel(shortlist, sentence, answerable, threshold, 0.5)
    model.selection_ratio = _best_selection_ratio(model, examples)
    return model


def _best_threshold(p: np.ndarray, answerable: np.ndarray) -> float:
    """The highest P(answerable) cut-off that abstains on at most MAX_WRONG_ABSTENTION of the
    answerable questions: a needless abstention costs the user an answer the documents hold,
    so it is bounded first, and as many unanswerable questions are declined as that allows."""
    answerable_p = np.sort(p[answerable > 0])
    if not len(answerable_p):
        return 0.5
    allowed = int(np.floor(MAX_WRONG_ABSTENTION * len(answerable_p)))
    # Abstaining below the (allowed+1)-th lowest answerable P abstains on `allowed` of them.
    return float(answerable_p[allowed] - 1e-6) if allowed < len(answerable_p) else float(answerable_p[-1])


def _best_selection_ratio(model: EvidenceModel, examples: Sequence[Example]) -> float:
    """The ratio whose answers carry the most key facts (ties: the larger, shorter answers)."""
    answerable = [e for e in examples if e.answerable and e.item.answers]
    best, best_score = 0.5, -1.0
    for ratio in SELECTION_RATIOS:
        model.selection_ratio = float(ratio)
        score = float(np.mean([score_answer(e.item, replay(model, e), e.passages, None).scores.key_facts
                               or 0.0 for e in answerable])) if answerable else 0.0
        if score >= best_score:
            best, best_score = float(ratio), score
    return best


def _answerer(model: EvidenceModel, example: Example | None = None,
              max_sentences: int = Settings.max_answer_sentences) -> ExtractiveAnswerer:
    """An answerer with this model and the example's domain vocabulary, for replaying."""
    if example is None:
        return ExtractiveAnswerer(_no_embedding, lambda term: 1.0, None, max_sentences, model=model)
    return ExtractiveAnswerer(_no_embedding, example.terms.idf, None, max_sentences,
                              known=example.terms.in_corpus, model=model, named=example.terms.named_titles)


def _no_embedding(texts: list[str]) -> np.ndarray:
    raise AssertionError("replayed candidates are already embedded")


def replay(model: EvidenceModel, example: Example) -> Answer:
    """The answer the pipeline gives with this model, from the collected candidates."""
    answerer = _answerer(model, example)
    scored = [(text, answerer.ranked(answerer.shortlisted(found))) for text, found in example.parts]
    return answerer.answer_from(scored, example.question, example.alternatives)


# Reporting -----------------------------------------------------------------------------------
MEASURES = ("key_facts", "gold_cited", "wrong_abstention", "unanswerable_abstained")


def measure(model: EvidenceModel, examples: Sequence[Example]) -> dict[str, float]:
    """Key facts, gold passage cited, wrongly abstained and unanswerable abstained."""
    key_facts, cited, wrong, declined = [], [], [], []
    for example in examples:
        answer = replay(model, example)
        if example.answerable:
            wrong.append(answer.abstained)
            if example.item.answers:
                key_facts.append(bool(score_answer(example.item, answer, example.passages, None).scores.key_facts))
            if example.item.evidence:
                cited.append(not answer.abstained and any(is_gold(c.text, example.item.evidence)
                                                          for c in answer.citations))
        else:
            declined.append(answer.abstained)
    return {"key_facts": mean(key_facts), "gold_cited": mean(cited), "wrong_abstention": mean(wrong),
            "unanswerable_abstained": mean(declined), "questions": float(len(examples))}


def leave_one_domain_out(examples: Sequence[Example]) -> dict[str, dict[str, float]]:
    """For each domain: the figures of a model fitted on all the other domains."""
    figures = {}
    for name in dict.fromkeys(e.domain for e in examples):
        model = fit([e for e in examples if e.domain != name])
        figures[name] = measure(model, [e for e in examples if e.domain == name])
    return figures


def report(in_sample: dict[str, dict[str, float]], held_out: dict[str, dict[str, float]]) -> str:
    labels = {"key_facts": "key facts", "gold_cited": "gold cited", "wrong_abstention": "wrongly abstained",
              "unanswerable_abstained": "unanswerable abstained"}
    names = list(held_out)
    width = max(len(n) for n in names + ["domain"]) + 2
    head = "domain".ljust(width) + "  n  " + "".join(f"{labels[m]:>24}" for m in MEASURES)
    lines = [head, " " * (width + 5) + "".join(f"{'LODO (in-sample)':>24}" for _ in MEASURES)]
    for name in names + ["mean"]:
        if name == "mean":
            row_lodo = {m: float(np.nanmean([held_out[n][m] for n in names])) for m in MEASURES}
            row_in = {m: float(np.nanmean([in_sample[n][m] for n in names])) for m in MEASURES}
            count = sum(int(held_out[n]["questions"]) for n in names)
        else:
            row_lodo, row_in, count = held_out[name], in_sample[name], int(held_out[name]["questions"])
        cells = "".join(f"{row_lodo[m]:>15.2f} ({row_in[m]:.2f})" for m in MEASURES)
        lines.append(f"{name.ljust(width)}{count:>3}  {cells}")
    return "\n".join(lines)


def fit_suite(suite: Path | str, base: Settings, output: Path | None = None,
              progress: Callable[[str], None] | None = None) -> tuple[EvidenceModel, str]:
    """Collect, fit on all domains, report leave-one-domain-out figures, save the model."""
    from ..evidence import MODEL_FILE

    domains = load_suite(suite)
    examples = collect(domains, base, progress=progress)
    model = fit(examples)
    in_sample = {d.name: measure(model, [e for e in examples if e.domain == d.name]) for d in domains}
    held_out = leave_one_domain_out(examples)
    model.provenance = {"suite": str(suite), "domains": [d.name for d in domains],
                        "questions": len(examples), "leave_one_domain_out": held_out, "in_sample": in_sample}
    model.save(output or MODEL_FILE)
    return model, report(in_sample, held_out)


__all__ = ["Example", "collect", "fit", "replay", "measure",
           "leave_one_domain_out", "fit_suite", "gold_sentence"]
