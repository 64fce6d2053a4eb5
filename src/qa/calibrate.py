"""Choose the abstention threshold from an evaluation set, instead of guessing it.

For every question the answerer's evidence score (its best sentence) is recorded; the
threshold that best separates answerable from unanswerable questions is printed with a
table, and leave-one-out accuracy says how well it generalises on that set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .answer import ExtractiveAnswerer
from .chat import condense
from .evaluate import load_eval_set


def evidence_scores(assistant, path: Path) -> list[tuple[str, bool, float]]:
    """(id, answerable, best evidence score) for each question of the set."""
    retriever = assistant.retriever()
    settings = assistant.settings
    answerer = ExtractiveAnswerer(assistant._vectors, retriever.idf, 0.0, settings.max_answer_sentences)
    rows = []
    for item in load_eval_set(path):
        condensed = condense(item.question, item.history)
        vector = np.asarray(assistant.embedder.get_query_embedding(condensed.retrieval), dtype=np.float32)
        passages = retriever.retrieve(condensed.retrieval, query_embedding=vector.tolist())
        scoring = np.asarray(assistant.embedder.get_query_embedding(condensed.for_scoring), dtype=np.float32)
        candidates = answerer.candidates(condensed.for_scoring, scoring, passages)
        rows.append((item.id, not item.unanswerable, answerer.evidence_score(candidates)))
    return rows


def _accuracy(rows: list[tuple[str, bool, float]], threshold: float) -> float:
    """Share of questions handled right: answerable ones answered, unanswerable ones abstained.
    Each question counts once; a needless abstention costs as much as a wrong answer."""
    right = sum(1 for _, ok, s in rows if (s >= threshold) == ok)
    return right / len(rows)


def best_threshold(rows: list[tuple[str, bool, float]]) -> float:
    scores = sorted({round(s, 3) for _, _, s in rows})
    candidates = [(a + b) / 2 for a, b in zip(scores, scores[1:])] or [0.5]
    # Ties go to the lowest threshold: answering with citations beats a needless abstention.
    return max(candidates, key=lambda t: (_accuracy(rows, t), -t))


def calibrate(assistant, path: Path) -> str:
    rows = evidence_scores(assistant, path)
    chosen = best_threshold(rows)
    hits = sum(1 for i in range(len(rows))
               if (rows[i][2] >= best_threshold(rows[:i] + rows[i + 1:])) == rows[i][1])
    lines = [f"{'threshold':>9}  {'answered (answerable)':>22}  {'abstained (unanswerable)':>25}  accuracy"]
    for t in sorted({round(x, 2) for x in np.arange(0.30, 0.80, 0.05)} | {round(chosen, 3)}):
        answered = [s >= t for _, ok, s in rows if ok]
        abstained = [s < t for _, ok, s in rows if not ok]
        mark = "  <- chosen" if abs(t - round(chosen, 3)) < 1e-9 else ""
        lines.append(f"{t:>9.3f}  {sum(answered):>12}/{len(answered):<9}  {sum(abstained):>14}/{len(abstained):<10}"
                     f"  {_accuracy(rows, t):.3f}{mark}")
    lines.append(f"\nchosen threshold {chosen:.3f} (set abstain_threshold / QA_ABSTAIN_THRESHOLD); "
                 f"leave-one-out accuracy {hits}/{len(rows)}")
    return "\n".join(lines)


__all__ = ["calibrate", "evidence_scores", "best_threshold"]
