"""Running evaluation sets through pipelines: one run per pipeline, every question's answer,
passages and scores kept, so a run can be saved (JSON, `qa-eval-run/1`), reloaded,
compared and reported."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from .datasets import QUESTION_TYPES, EvalItem, EvalSetError, load_sets
from .pipelines import PIPELINES, Pipeline, make_pipelines, pipeline_names
from .records import QuestionResult, RetrievedPassage
from .report_text import summary_table
from .scoring import Judge, aggregate, is_gold, score_answer

RUN_FORMAT = "qa-eval-run/1"


@dataclass
class PipelineRun:
    name: str
    description: str
    config: dict[str, Any]
    results: list[QuestionResult]

    def metrics(self) -> dict[str, Any]:
        return aggregate(self.results)

    def by_type(self) -> dict[str, dict[str, Any]]:
        return {kind: aggregate(subset) for kind in QUESTION_TYPES
                if (subset := [r for r in self.results if r.item.type == kind])}

    def to_dict(self) -> dict[str, Any]:
        return {"description": self.description, "settings": self.config, "metrics": _clean(self.metrics()),
                "by_type": _clean(self.by_type()), "questions": [_clean(r.to_dict()) for r in self.results]}

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> PipelineRun:
        """A saved pipeline run (its metrics are recomputed from its questions)."""
        return cls(name, data.get("description") or "", data.get("settings") or {},
                   [QuestionResult.from_dict(q) for q in data.get("questions") or []])


def run_pipeline(pipeline: Pipeline, items: Sequence[EvalItem], judge: Judge | None,
                 similarity: Callable[[str, str], float] | None = None, progress: bool = False) -> PipelineRun:
    """Ask every question; one failing question is recorded and the run goes on."""
    from tqdm import tqdm

    results = []
    for item in tqdm(items, desc=f"evaluating {pipeline.name}", unit="question", disable=not progress):
        try:
            answer, passages = pipeline.trace(item.question, history=item.history or None, documents=item.documents)
            texts = [p.text for p in passages]
            result = score_answer(item, answer, texts, judge, similarity)
            result.retrieved = [RetrievedPassage(i, p.source, str(p.metadata.get("path") or p.doc_id), p.start, p.end,
                                                 is_gold(p.text, item.evidence), p.text)
                                for i, p in enumerate(passages, start=1)]
        except Exception as exc:  # noqa: BLE001 - reported per question, the run continues
            result = QuestionResult(item, None, error=f"{type(exc).__name__}: {exc}")
        results.append(result)
    return PipelineRun(pipeline.name, pipeline.description, pipeline.config(), results)


@dataclass
class EvalRun:
    sets: list[str]
    runs: list[PipelineRun]
    judge: str
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def to_dict(self) -> dict[str, Any]:
        k = next((r.config.get("top_k") for r in self.runs if r.config.get("top_k")), None)
        return {"format": RUN_FORMAT, "created": self.created, "sets": self.sets, "k": k, "judge": self.judge,
                "pipelines": {r.name: r.to_dict() for r in self.runs}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalRun:
        """The run that `to_dict()` wrote (see `load_run`)."""
        run = cls(list(data.get("sets") or []),
                  [PipelineRun.from_dict(name, p) for name, p in (data.get("pipelines") or {}).items()],
                  data.get("judge") or "")
        run.created = data.get("created") or run.created
        return run

    def save_json(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")

    def save_html(self, path: Path | str) -> None:
        from .report_html import render_html

        Path(path).write_text(render_html(self.to_dict()), encoding="utf-8")

    def errors(self) -> list[tuple[str, QuestionResult]]:
        return [(r.name, q) for r in self.runs for q in r.results if q.error]

    def table(self) -> str:
        return summary_table(self.to_dict())


def evaluate(paths: Sequence[Path | str] | Path | str, pipelines: str | Sequence[str] = PIPELINES, assistant=None,
             judge: Judge | None = None, progress: bool | None = None, **overrides: Any) -> EvalRun:
    """Run evaluation sets through pipelines and score them.

    >>> run = qa.evaluate(["corpus/eval/aleppo.jsonl"])
    >>> print(run.table()); run.save_json("run.json"); run.save_html("report.html")
    """
    from ..assistant import Assistant
    from ..support import SupportJudge

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    names = pipeline_names(pipelines)
    items = load_sets(paths)
    bot = assistant or Assistant(**overrides)
    bot.retriever()
    judge = judge or SupportJudge(bot.new_embedding_cache())
    similar = _similarity(bot.embedder)
    progress = bot.settings.progress if progress is None else progress
    runs = []
    for pipeline in make_pipelines(bot, names):
        # Each pipeline starts with a cold sentence cache, so neither's latency rides on the other's.
        bot.reset_embedding_cache()
        runs.append(run_pipeline(pipeline, items, judge, similar, progress))
    return EvalRun([str(p) for p in paths], runs, getattr(judge, "name", type(judge).__name__))



def _similarity(embedder) -> Callable[[str, str], float]:
    """Cosine similarity of two texts' embeddings, via llama-index's SemanticSimilarityEvaluator."""
    from llama_index.core.evaluation import SemanticSimilarityEvaluator

    from ..embedding import as_llama_index

    evaluator = SemanticSimilarityEvaluator(embed_model=as_llama_index(embedder))

    def similarity(response: str, reference: str) -> float:
        return float(evaluator.evaluate(response=response, reference=reference).score)

    return similarity


def _clean(value: Any) -> Any:
    """NaN becomes null, so the JSON is standard."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def load_run(path: Path | str) -> dict[str, Any]:
    """A saved run as the dict `EvalRun.to_dict()` wrote (compare and the HTML report read
    that); `EvalRun.from_dict(load_run(path))` gives the typed run."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise EvalSetError(f"{path}: not a saved run ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
        raise EvalSetError(f"{path}: not a saved run of this version (write one with: qa eval SET --json {path})")
    return data


__all__ = ["RUN_FORMAT", "PipelineRun", "EvalRun", "run_pipeline", "evaluate", "load_run"]
