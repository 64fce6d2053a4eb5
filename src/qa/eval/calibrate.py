"""Choose the abstention threshold from an evaluation set, instead of guessing it.

For every question the answerer's evidence score (its best sentence) is recorded; the
threshold that best separates answerable from unanswerable questions is printed with a
table, and leave-one-out accuracy says how well it generalises on that set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .datasets import load_eval_set


def evidence_scores(assistant, path: Path) -> list[tuple[str, bool, float]]:
    """(id, answerable, P(answerable)) for each question of the set, through the assistant's
    own steps: understand, retrieve, then the extractive answerer's fitted model (the best
    part of a compound question counts)."""
    settings = assistant.settings
    answerer = assistant.answerer(settings)
    rows = []
    for item in load_eval_set(path):
        query = assistant.understand(item.question, item.history, settings, documents=item.documents)
        passages = assistant.retrieve(query, settings)
        best = max(answerer.answerability(text, answerer.candidates(text, vector, passages))[0]
                   for text, vector in query.parts)
        # Three decimals: the last digits of a probability move with the machine's arithmetic
        # (threads, batch shapes), and the table should not.
        rows.append((item.id, not item.unanswerable, round(best, 3)))
    return rows


def _accuracy(rows: list[tuple[str, bool, float]], threshold: float) -> float:
    """Share of questions handled right: answerable ones answered, unanswerable ones abstained.
    Each question counts once; a needless abstention costs as much as a wrong answer."""
    right = sum(1 for _, ok, s in rows if (s >= threshold) == ok)
    return right / len(rows)


def calibrate(assistant, path: Path) -> str:
    """The abstention threshold's table on one set: what each threshold would answer and
    decline. The default threshold is fitted on every domain by `qa calibrate --fit`; this
    shows how it does on one set (a single set is too small, and too much of one kind, to
    choose it from)."""
    rows = evidence_scores(assistant, path)
    fitted = assistant.answerer(assistant.settings).abstain_threshold
    lines = [f"{'threshold':>9}  {'answered (answerable)':>22}  {'abstained (unanswerable)':>25}  accuracy"]
    for t in sorted({round(x, 2) for x in np.arange(0.05, 0.96, 0.1)} | {round(fitted, 3)}):
        answered = [s >= t for _, ok, s in rows if ok]
        abstained = [s < t for _, ok, s in rows if not ok]
        mark = "  <- in use" if abs(t - round(fitted, 3)) < 1e-9 else ""
        lines.append(f"{t:>9.3f}  {sum(answered):>12}/{len(answered):<9}  {sum(abstained):>14}/{len(abstained):<10}"
                     f"  {_accuracy(rows, t):.3f}{mark}")
    lines.append(f"\nthreshold in use {fitted:.3f}: P(the passages answer) below it abstains (abstain_threshold / "
                 f"QA_ABSTAIN_THRESHOLD; empty: the one fitted by qa calibrate --fit)")
    return "\n".join(lines)


# The support judge ------------------------------------------------------------------------
_WEIGHTS = np.round(np.arange(0.0, 1.01, 0.1), 2)
_THRESHOLDS = np.round(np.arange(0.30, 0.96, 0.01), 2)


def judge_signals(assistant, path: Path) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """For each labelled pair: the pair, its label, its blended score for every weight of the
    grid (rows: pairs, columns: weights), and whether numbers and negation agree."""
    from ..citations import strip_attribution
    from ..support import SupportJudge, load_labels

    pairs = load_labels(path)
    judge = SupportJudge(assistant.vectors)
    # The judge sees claims as the evaluation gives them: without "According to X, ".
    signals = [judge.signals(strip_attribution(p.claim), [p.passage]) for p in pairs]
    scores = np.array([[s.score(w) for w in _WEIGHTS] for s in signals])
    quoted = [s.substantive and s.verbatim and s.negation_ok and s.hedge_ok for s in signals]
    scores[quoted] = np.inf   # a faithful quotation is supported at any threshold
    gates = np.array([s.substantive and (q or s.checks_pass) for s, q in zip(signals, quoted)])
    return pairs, np.array([p.label for p in pairs]), scores, gates


def _grid_accuracy(labels: np.ndarray, scores: np.ndarray, gates: np.ndarray) -> np.ndarray:
    """Accuracy for every (weight, threshold) of the grid."""
    predicted = gates[:, None, None] & (scores[:, :, None] >= _THRESHOLDS[None, None, :] - 1e-9)
    return (predicted == labels[:, None, None]).mean(axis=0)


def _best(labels: np.ndarray, scores: np.ndarray, gates: np.ndarray) -> tuple[int, int]:
    accuracy = _grid_accuracy(labels, scores, gates)
    # Ties go to the strictest threshold: a judge that waves claims through flatters every answer.
    best = np.argwhere(accuracy >= accuracy.max() - 1e-12)
    w, t = max(best, key=lambda wt: (_THRESHOLDS[wt[1]], -abs(_WEIGHTS[wt[0]] - 0.5)))
    return int(w), int(t)


def calibrate_judge(assistant, path: Path) -> str:
    """Choose the judge's lexical weight and threshold on hand-labelled claim/passage pairs,
    with leave-one-out accuracy and the accuracy per kind of pair."""
    pairs, labels, scores, gates = judge_signals(assistant, path)
    w, t = _best(labels, scores, gates)
    predicted = gates & (scores[:, w] >= _THRESHOLDS[t] - 1e-9)
    held_out = 0
    for i in range(len(pairs)):
        keep = np.arange(len(pairs)) != i
        wi, ti = _best(labels[keep], scores[keep], gates[keep])
        held_out += int((gates[i] and scores[i, wi] >= _THRESHOLDS[ti] - 1e-9) == labels[i])
    tp = int((predicted & labels).sum())
    lines = [f"{len(pairs)} labelled pairs ({int(labels.sum())} supported) from {path}",
             f"chosen lexical weight {_WEIGHTS[w]:.1f}, threshold {_THRESHOLDS[t]:.2f}",
             f"accuracy {float((predicted == labels).mean()):.3f}, "
             f"leave-one-out accuracy {held_out}/{len(pairs)} = {held_out / len(pairs):.3f}",
             f"precision {tp / max(1, int(predicted.sum())):.3f} (claims judged supported that are), "
             f"recall {tp / max(1, int(labels.sum())):.3f} (supported claims judged so)", "",
             f"{'kind':<22}{'n':>4}{'correct':>9}"]
    for kind in sorted({p.kind for p in pairs}):
        members = np.array([p.kind == kind for p in pairs])
        lines.append(f"{kind or '-':<22}{int(members.sum()):>4}{int((predicted == labels)[members].sum()):>9}")
    wrong = [p for p, ok in zip(pairs, predicted == labels) if not ok]
    if wrong:
        lines += ["", "misjudged:"] + [f"  {p.id} ({p.kind}, label {str(p.label).lower()}): {p.claim[:90]}"
                                       for p in wrong]
    lines.append("\nset LEXICAL_WEIGHT and THRESHOLD in src/qa/support.py to the chosen values")
    return "\n".join(lines)


__all__ = ["calibrate", "evidence_scores", "calibrate_judge", "judge_signals"]
