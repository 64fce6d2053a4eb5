"""The fitted model behind the extractive answerer: which sentences answer a question, and
whether any does.

Three logistic regressions over generic features (no vocabulary of any corpus):
- `shortlist`: P(sentence answers) from cheap features, to choose which sentences to embed;
- `sentence`: the same with the embedding similarity added, to choose what to quote;
- `answerable`: P(the passages answer the question) from question-level features, to abstain.
They are fitted together on evaluation sets of several domains by `qa calibrate --fit`
(src/qa/eval/fit.py), which reports leave-one-domain-out figures; the fitted weights ship in
evidence_model.json beside this module. A logistic regression is small enough to write here
(Newton's method with an L2 penalty) rather than add scikit-learn for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

MODEL_FILE = Path(__file__).with_name("evidence_model.json")

# Features of one candidate sentence for one question (see extractive.py for each).
SHORTLIST_FEATURES = ("lexical", "window", "passage", "heading", "rank", "supplies", "lacks", "length",
                      "complete", "bigrams", "date_match", "passage_dense", "keyword", "named", "named_other",
                      "lexical_gap")
SENTENCE_FEATURES = SHORTLIST_FEATURES + ("dense", "dense_gap")
# Features of a question given its candidates.
QUESTION_FEATURES = ("best", "named_missing", "focus_covered", "best_dense", "best_lexical", "best_window",
                     "passage_coverage", "passage_dense", "unknown_share", "unknown_names", "kind_missing",
                     "head_missing", "event_missing", "anonymous")


@dataclass
class LogisticModel:
    features: tuple[str, ...]
    weights: np.ndarray   # per standardised feature
    bias: float
    mean: np.ndarray
    scale: np.ndarray

    def matrix(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        return np.array([[float(row.get(f, 0.0)) for f in self.features] for row in rows], dtype=np.float64)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        if x.size == 0:
            return np.zeros(0)
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))

    def probability(self, row: Mapping[str, float]) -> float:
        return float(self.probabilities(self.matrix([row]))[0])

    def contributions(self, row: Mapping[str, float]) -> dict[str, float]:
        """Each feature's share of the log-odds for one row (what pushed the decision)."""
        x = self.matrix([row])[0]
        return {f: float(w * v) for f, w, v in zip(self.features, self.weights, (x - self.mean) / self.scale)}

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "weights": [round(float(w), 6) for w in self.weights],
                "bias": round(float(self.bias), 6), "mean": [round(float(m), 6) for m in self.mean],
                "scale": [round(float(s), 6) for s in self.scale]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LogisticModel":
        return cls(tuple(data["features"]), np.array(data["weights"], dtype=np.float64), float(data["bias"]),
                   np.array(data["mean"], dtype=np.float64), np.array(data["scale"], dtype=np.float64))


def fit_logistic(features: Sequence[str], x: np.ndarray, y: np.ndarray, l2: float = 1.0,
                 sample_weight: np.ndarray | None = None) -> LogisticModel:
    """L2-penalised logistic regression by Newton's method on standardised features."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w_sample = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    mean = x.mean(axis=0) if len(x) else np.zeros(len(features))
    scale = x.std(axis=0) if len(x) else np.ones(len(features))
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not penalised
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -40, 40)))
        gradient = z.T @ (w_sample * (p - y)) + penalty * beta
        hessian = (z * (w_sample * p * (1 - p))[:, None]).T @ z + np.diag(penalty) + 1e-9 * np.eye(len(beta))
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return LogisticModel(tuple(features), beta[:-1], float(beta[-1]), mean, scale)


@dataclass
class EvidenceModel:
    shortlist: LogisticModel
    sentence: LogisticModel
    answerable: LogisticModel
    answer_threshold: float      # abstain when P(answerable) is below this
    selection_ratio: float       # a further sentence needs P >= ratio x the best sentence's P
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"format": 1, "shortlist": self.shortlist.to_dict(), "sentence": self.sentence.to_dict(),
                "answerable": self.answerable.to_dict(), "answer_threshold": round(self.answer_threshold, 4),
                "selection_ratio": round(self.selection_ratio, 4), "provenance": self.provenance}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EvidenceModel":
        return cls(LogisticModel.from_dict(data["shortlist"]), LogisticModel.from_dict(data["sentence"]),
                   LogisticModel.from_dict(data["answerable"]), float(data["answer_threshold"]),
                   float(data["selection_ratio"]), dict(data.get("provenance", {})))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")


def neutral(features: Sequence[str]) -> LogisticModel:
    """A model that weighs nothing (P = 0.5 for everything): the start of a fit."""
    n = len(features)
    return LogisticModel(tuple(features), np.zeros(n), 0.0, np.zeros(n), np.ones(n))


def neutral_model() -> EvidenceModel:
    """The answerer's model before any fitting: used to collect the features it is fitted on."""
    return EvidenceModel(neutral(SHORTLIST_FEATURES), neutral(SENTENCE_FEATURES), neutral(QUESTION_FEATURES),
                         0.0, 0.5)


@lru_cache(maxsize=4)
def load_model(path: str = str(MODEL_FILE)) -> EvidenceModel:
    """The fitted model (the shipped one unless a path is given)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return EvidenceModel.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"the answerer's fitted model {path} cannot be read ({exc}); refit it with: "
                           f"qa calibrate --fit corpus/eval/suite.toml") from None


__all__ = ["EvidenceModel", "LogisticModel", "fit_logistic", "load_model", "neutral", "neutral_model", "MODEL_FILE",
           "SHORTLIST_FEATURES", "SENTENCE_FEATURES", "QUESTION_FEATURES"]
