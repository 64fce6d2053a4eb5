"""Evaluation sets: load (ours and llama-index's formats), run pipelines, score, save, compare.

`qa eval` and `qa.evaluate()` run every question of one or more sets through each pipeline
("ours", and the llama-index "baseline" by default), score retrieval, answers, citations,
abstention and latency (see `metrics.py`; each metric is defined in the README), and keep
every question's answer and passages, so a run can be saved, compared and reported.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

from .citations import answer_sentences, statements
from .lexicon import normalize
from .metrics import (Judge, citation_scores, has_key_facts, is_gold, mean, median, percentile,
                      retrieval_scores, token_f1)
from .types import Answer, Passage

QUESTION_TYPES = ("single", "multi", "conflict", "unanswerable", "followup")
RUN_FORMAT = "qa-eval-run/1"
_SURROGATE = re.compile("[\ud800-\udfff]")
PIPELINES = ("ours", "baseline")
PIPELINE_NAMES = ("ours", "baseline", "extractive", "llm")


class EvalSetError(ValueError):
    """An evaluation set is invalid; the message names the file and line."""


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
    set: str = ""

    @property
    def unanswerable(self) -> bool:
        return self.type == "unanswerable"

    @property
    def key(self) -> str:
        """Identifies the question across runs: the set's path as given, and the id."""
        return f"{self.set}#{self.id}"


# Loading ---------------------------------------------------------------------------------
def _string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EvalSetError(f"{where} must be a list of strings")
    return value


def parse_item(data: Any, where: str, line: int, source: str = "") -> EvalItem:
    if not isinstance(data, dict):
        raise EvalSetError(f"{where}: expected a JSON object")
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise EvalSetError(f"{where}: missing 'question' (a non-empty string)")
    if "\x00" in question or _SURROGATE.search(question):
        raise EvalSetError(f"{where}: 'question' contains a NUL or an unpaired surrogate character")
    answers = data.get("answers", [])
    if not isinstance(answers, list):
        raise EvalSetError(f"{where}: 'answers' must be a list of lists of strings")
    groups = [_string_list(g, f"{where}: each 'answers' group") for g in answers]
    if any(not g or not all(alt.strip() for alt in g) for g in groups):
        raise EvalSetError(f"{where}: an 'answers' group is empty or has an empty alternative (it would match "
                           f"everything or nothing)")
    evidence = _string_list(data.get("evidence", []), f"{where}: 'evidence'")
    if not all(e.strip() for e in evidence):
        raise EvalSetError(f"{where}: an 'evidence' string is empty (every passage would be gold)")
    history = data.get("history") or []
    if not isinstance(history, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in history):
        raise EvalSetError(f"{where}: 'history' must be a list of [question, answer] pairs")
    reference = data.get("reference_answer", "")
    if not isinstance(reference, str):
        raise EvalSetError(f"{where}: 'reference_answer' must be a string")
    kind = data.get("type", "single")
    if kind not in QUESTION_TYPES:
        raise EvalSetError(f"{where}: 'type' must be one of {', '.join(QUESTION_TYPES)}")
    if not groups and not evidence and not reference and kind != "unanswerable":
        raise EvalSetError(f"{where}: no 'answers', 'evidence' or 'reference_answer' to score against; "
                           f"if the corpus should not answer it, say \"type\": \"unanswerable\"")
    return EvalItem(id=str(data.get("id", f"line{line}")), question=question, answers=groups,
                    evidence=evidence, history=[(q, a) for q, a in history], reference_answer=reference,
                    type=kind, line=line, set=source)


def _jsonl_items(path: Path, text: str) -> list[EvalItem]:
    items = []
    # split("\n"), not splitlines(): U+2028 and friends may stand raw inside a JSON string.
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        items.append(parse_item(data, where, number, str(path)))
    return items


def _labelled_rag_items(path: Path, data: dict[str, Any]) -> list[EvalItem]:
    """llama-index `LabelledRagDataset.save_json` output: {"examples": [{query,
    reference_contexts, reference_answer, ...}]}. Contexts are gold evidence; there are no
    key facts, so answers are scored by token F1 and similarity to the reference answer."""
    examples = data["examples"]
    if not isinstance(examples, list):
        raise EvalSetError(f"{path}: 'examples' must be a list")
    items = []
    for number, example in enumerate(examples, start=1):
        where = f"{path}: example {number}"
        if not isinstance(example, dict):
            raise EvalSetError(f"{where}: expected a JSON object")
        contexts = example.get("reference_contexts") or []
        items.append(parse_item({"id": f"ex{number}", "question": example.get("query"), "answers": [],
                                 "evidence": contexts, "reference_answer": example.get("reference_answer") or "",
                                 "type": "single"}, where, number, str(path)))
    return items


def _retrieval_qa_items(path: Path, data: dict[str, Any]) -> list[EvalItem]:
    """llama-index `EmbeddingQAFinetuneDataset.save_json` output: {"queries": {id: text},
    "corpus": {node_id: text}, "relevant_docs": {id: [node_id]}}. Retrieval-only: the
    relevant nodes' texts are the gold evidence."""
    queries, corpus, relevant = data["queries"], data.get("corpus", {}), data["relevant_docs"]
    if not all(isinstance(x, dict) for x in (queries, corpus, relevant)):
        raise EvalSetError(f"{path}: 'queries', 'corpus' and 'relevant_docs' must be objects")
    items = []
    for number, (qid, query) in enumerate(queries.items(), start=1):
        where = f"{path}: query {qid!r}"
        missing = [n for n in relevant.get(qid, []) if n not in corpus]
        if missing:
            raise EvalSetError(f"{where}: relevant node {missing[0]!r} is not in 'corpus'")
        evidence = [corpus[n] for n in relevant.get(qid, [])]
        if not evidence:
            raise EvalSetError(f"{where}: no 'relevant_docs' for this query")
        items.append(parse_item({"id": str(qid), "question": query, "evidence": evidence, "type": "single"},
                                where, number, str(path)))
    return items


def load_eval_set(path: Path | str) -> list[EvalItem]:
    """Questions from a JSON Lines set (the design-notes format), a llama-index
    LabelledRagDataset JSON, or a llama-index EmbeddingQAFinetuneDataset JSON."""
    path = Path(path)
    if path.is_dir():
        raise EvalSetError(f"{path} is a folder; give the evaluation set files in it")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EvalSetError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise EvalSetError(f"{path}: cannot read it ({exc.strerror})") from None
    whole: Any = None
    if text.lstrip().startswith("{"):
        try:
            whole = json.loads(text)
        except json.JSONDecodeError as exc:
            if "\n" in text.strip() and not text.lstrip().startswith('{"'):
                # A pretty-printed JSON document (one object per line starts with '{"').
                raise EvalSetError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            whole = None
    if isinstance(whole, dict) and "examples" in whole:
        items = _labelled_rag_items(path, whole)
    elif isinstance(whole, dict) and "queries" in whole and "relevant_docs" in whole:
        items = _retrieval_qa_items(path, whole)
    else:
        items = _jsonl_items(path, text)
    if not items:
        raise EvalSetError(f"{path}: no questions")
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise EvalSetError(f"{path}:{item.line}: id {item.id!r} is used twice")
        seen.add(item.id)
    return items


# Pipelines -------------------------------------------------------------------------------
class Pipeline(Protocol):
    name: str
    description: str

    def config(self) -> dict[str, Any]: ...

    def trace(self, question: str, history: Sequence[Sequence[str]] | None = None) -> tuple[Answer, list[Passage]]:
        """The answer and the passages it was given, best first."""


class OursPipeline:
    name = "ours"
    description = ("cleaned text, sentence-packed chunks, hybrid dense + BM25 retrieval fused by rank, "
                   "follow-ups condensed, cited answers checked against their passages")

    def __init__(self, assistant, name: str = "ours", **overrides: Any) -> None:
        self.assistant = assistant
        self.name = name
        self.overrides = overrides
        settings = assistant.settings.replace(**overrides) if overrides else assistant.settings
        generates = bool(settings.llm) and settings.answerer != "extractive"
        self.description = type(self).description + (f"; answers generated by {settings.llm}" if generates
                                                      else "; extractive answers")

    def config(self) -> dict[str, Any]:
        s = self.assistant.settings.replace(**self.overrides) if self.overrides else self.assistant.settings
        return {"top_k": s.top_k, "retrieval_mode": s.retrieval_mode, "chunk_tokens": s.chunk_tokens,
                "chunk_overlap_tokens": s.chunk_overlap_tokens, "answerer": s.answerer, "llm": s.llm or None,
                "abstain_threshold": s.abstain_threshold}

    def trace(self, question: str, history: Sequence[Sequence[str]] | None = None) -> tuple[Answer, list[Passage]]:
        return self.assistant.trace(question, history=history, **self.overrides)


def make_pipelines(assistant, names: Iterable[str]) -> list[Pipeline]:
    """ours (as configured), extractive / llm (ours with that answerer), baseline."""
    from .baseline import BaselinePipeline

    known = {"ours": lambda: OursPipeline(assistant),
             "extractive": lambda: OursPipeline(assistant, "extractive", answerer="extractive"),
             "llm": lambda: OursPipeline(assistant, "llm", answerer="llm"),
             # The sentence cache is looked up per call: evaluate() resets it between pipelines.
             "baseline": lambda: BaselinePipeline(assistant.settings, assistant.embedder,
                                                  lambda texts: assistant.vectors(texts))}
    pipelines = []
    for name in names:
        if name not in known:
            raise EvalSetError(f"unknown pipeline {name!r}; choose from {', '.join(known)}")
        if name == "llm" and not assistant.settings.llm:
            raise EvalSetError("pipeline llm needs a language model: set QA_LLM or pass --llm")
        pipelines.append(known[name]())
    return pipelines


# Scoring ---------------------------------------------------------------------------------
@dataclass
class QuestionResult:
    item: EvalItem
    answer: dict[str, Any] | None
    retrieved: list[dict[str, Any]] = field(default_factory=list)
    sentences: list[dict[str, Any]] = field(default_factory=list)
    scores: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        item = self.item
        return {"key": item.key, "id": item.id, "set": item.set, "line": item.line, "type": item.type,
                "question": item.question, "history": [list(p) for p in item.history], "answers": item.answers,
                "evidence": item.evidence, "reference_answer": item.reference_answer, "error": self.error,
                "answer": self.answer, "retrieved": self.retrieved, "sentences": self.sentences,
                "scores": self.scores}


def score_answer(item: EvalItem, answer: dict[str, Any], passages: Sequence[str], judge: Judge | None,
                 similarity: Callable[[str, str], float] | None = None) -> QuestionResult:
    """Scores of one answer (Answer.to_dict()) given the passages retrieved for it. A score
    that does not apply to the question is None (e.g. key facts of an unanswerable one)."""
    abstained = bool(answer["abstained"])
    answerable = not item.unanswerable
    claims = " ".join(s for s, _ in statements(answer["text"]))
    # Key facts are looked for in what the answer states, attribution included ("According to
    # The Guardian (14 December 2016)" says who and when), but not in the answerer's remarks,
    # which may quote the question back.
    stated = " ".join(sentence for sentence, claim, _ in answer_sentences(answer["text"]) if claim)
    scores: dict[str, Any] = {"hit": None, "rr": None, "gold_recall": None, "key_facts": None, "gold_cited": None,
                              "token_f1": None, "similarity": None, "citation_recall": None,
                              "citation_precision": None, "abstained": abstained,
                              "abstention_correct": abstained == item.unanswerable,
                              "latency_ms": float(answer.get("timings_ms", {}).get("total", 0.0)),
                              "generated": answer.get("answerer") == "llm", "fell_back": bool(answer.get("notice")),
                              "tokens_per_s": (answer.get("generation") or {}).get("tokens_per_s")}
    if answerable and item.evidence:
        found = retrieval_scores(passages, item.evidence)
        scores.update(hit=found.hit, rr=found.rr, gold_recall=found.gold_recall)
        scores["gold_cited"] = (not abstained) and any(is_gold(c["text"], item.evidence) for c in answer["citations"])
    if answerable and item.answers:
        scores["key_facts"] = (not abstained) and has_key_facts(stated, item.answers)
    if answerable and item.reference_answer:
        # An abstention on an answerable question states nothing: 0, not the overlap of its
        # quoted question with the reference.
        stating = claims and not abstained
        scores["token_f1"] = token_f1(claims, item.reference_answer) if stating else 0.0
        if similarity is not None:
            scores["similarity"] = similarity(claims, item.reference_answer) if stating else 0.0
    sentences: list[dict[str, Any]] = []
    if not abstained and judge is not None:
        shown = {c["number"]: c["text"] for c in answer["citations"]}
        cited = citation_scores(statements(answer["text"]), shown, judge)
        if cited is not None:
            scores.update(citation_recall=cited.recall, citation_precision=cited.precision)
            sentences = _judged_sentences(answer["text"], cited.sentences)
    return QuestionResult(item, answer, sentences=sentences, scores=scores)


def _judged_sentences(text: str, judged: list) -> list[dict[str, Any]]:
    """Every sentence as shown (markers kept), with the judge's verdict on its claim; the
    answerer's own remarks are not judged (supported: None)."""
    verdicts = iter(judged)
    out = []
    for sentence, claim, numbers in answer_sentences(text):
        markers = "".join(f" [{n}]" for n in numbers)
        if markers and sentence[-1:] in ".!?":
            sentence, markers = sentence[:-1], markers + sentence[-1]
        if claim is None:
            out.append({"text": sentence + markers, "claim": None, "citations": numbers, "supported": None})
        else:
            verdict = next(verdicts)
            out.append({"text": sentence + markers, "claim": claim, "citations": numbers,
                        "supported": verdict.supported})
    return out


def aggregate(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Means over the questions each metric applies to (errors are counted, not scored)."""
    ok = [r for r in results if not r.error]
    unanswerable = [r for r in ok if r.item.unanswerable]
    abstentions = [r for r in ok if r.scores["abstained"]]
    latencies = [r.scores["latency_ms"] for r in ok]

    def avg(name: str) -> float:
        return mean(r.scores[name] for r in ok)

    return {"questions": len(results), "errors": len(results) - len(ok),
            "hit_rate": avg("hit"), "mrr": avg("rr"), "gold_recall": avg("gold_recall"),
            "key_facts": avg("key_facts"), "gold_cited": avg("gold_cited"), "token_f1": avg("token_f1"),
            "similarity": avg("similarity"), "citation_recall": avg("citation_recall"),
            "citation_precision": avg("citation_precision"),
            "abstention_recall": mean(r.scores["abstained"] for r in unanswerable),
            "abstention_precision": mean(r.item.unanswerable for r in abstentions),
            "latency_median_ms": median(latencies), "latency_p95_ms": percentile(latencies, 95),
            "generated": mean(r.scores.get("generated") for r in ok),
            "tokens_per_s": mean(r.scores.get("tokens_per_s") for r in ok)}


# Running ---------------------------------------------------------------------------------
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


def run_pipeline(pipeline: Pipeline, items: Sequence[EvalItem], judge: Judge | None,
                 similarity: Callable[[str, str], float] | None = None, progress: bool = False) -> PipelineRun:
    """Ask every question; one failing question is recorded and the run goes on."""
    from tqdm import tqdm

    results = []
    for item in tqdm(items, desc=f"evaluating {pipeline.name}", unit="question", disable=not progress):
        try:
            answer, passages = pipeline.trace(item.question, history=item.history or None)
            texts = [p.text for p in passages]
            result = score_answer(item, answer.to_dict(), texts, judge, similarity)
            result.retrieved = [{"rank": i, "source": p.source, "path": str(p.metadata.get("path") or p.doc_id),
                                 "start": p.start, "end": p.end, "gold": is_gold(p.text, item.evidence),
                                 "text": p.text} for i, p in enumerate(passages, start=1)]
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

    def save_json(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")

    def save_html(self, path: Path | str) -> None:
        from .eval_report import render_html

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
    from .assistant import Assistant
    from .support import SupportJudge

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


def pipeline_names(pipelines: str | Sequence[str]) -> list[str]:
    """'ours,baseline' or ['ours', 'baseline'] -> checked names (before any model loads)."""
    names = [n.strip() for n in (pipelines.split(",") if isinstance(pipelines, str) else pipelines) if n.strip()]
    if not names:
        raise EvalSetError(f"no pipeline given; choose from {', '.join(PIPELINE_NAMES)}")
    unknown = [n for n in names if n not in PIPELINE_NAMES]
    if unknown:
        raise EvalSetError(f"unknown pipeline {unknown[0]!r}; choose from {', '.join(PIPELINE_NAMES)}")
    return list(dict.fromkeys(names))


def load_sets(paths: Sequence[Path | str]) -> list[EvalItem]:
    """All questions of the sets; a set given twice, or two questions with one key, is refused."""
    items = [item for path in paths for item in load_eval_set(path)]
    seen: dict[str, EvalItem] = {}
    for item in items:
        if item.key in seen:
            raise EvalSetError(f"{item.set}:{item.line}: question {item.key!r} appears twice "
                               f"(is a set given twice?)")
        seen[item.key] = item
    return items


def _similarity(embedder) -> Callable[[str, str], float]:
    """Cosine similarity of two texts' embeddings, via llama-index's SemanticSimilarityEvaluator."""
    from llama_index.core.evaluation import SemanticSimilarityEvaluator

    evaluator = SemanticSimilarityEvaluator(embed_model=embedder)

    def similarity(response: str, reference: str) -> float:
        return float(evaluator.evaluate(response=response, reference=reference).score)

    return similarity


# Presenting ------------------------------------------------------------------------------
METRIC_ROWS = (  # key, label, format
    ("questions", "questions", "d"), ("errors", "errors", "d"),
    ("hit_rate", "retrieval hit rate", ".2f"), ("mrr", "retrieval MRR", ".2f"),
    ("gold_recall", "gold evidence recall", ".2f"),
    ("key_facts", "key facts in answer", ".2f"), ("gold_cited", "gold passage cited", ".2f"),
    ("token_f1", "token F1 vs reference", ".2f"), ("similarity", "similarity to reference", ".2f"),
    ("citation_recall", "citation recall", ".2f"), ("citation_precision", "citation precision", ".2f"),
    ("abstention_recall", "abstention recall", ".2f"), ("abstention_precision", "abstention precision", ".2f"),
    ("latency_median_ms", "latency median (ms)", ".0f"), ("latency_p95_ms", "latency p95 (ms)", ".0f"),
    ("generated", "answers generated by the LLM", ".2f"), ("tokens_per_s", "LLM tokens per second", ".1f"),
)
LOWER_IS_BETTER = {"errors", "latency_median_ms", "latency_p95_ms"}


def _format(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def _clean(value: Any) -> Any:
    """NaN becomes null, so the JSON is standard."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def summary_table(run: dict[str, Any]) -> str:
    """Metrics side by side for each pipeline, then key facts by question type."""
    names = list(run["pipelines"])
    generated = any(run["pipelines"][n]["metrics"].get("generated") for n in names)
    rows = [[label] + [_format(run["pipelines"][n]["metrics"].get(key), spec) for n in names]
            for key, label, spec in METRIC_ROWS if generated or key not in ("generated", "tokens_per_s")]
    lines = _columns(["metric"] + names, rows)
    types = [t for t in QUESTION_TYPES if any(t in run["pipelines"][n]["by_type"] for n in names)]
    type_rows = []
    for kind in types:
        row = [kind, str(next(run["pipelines"][n]["by_type"][kind]["questions"] for n in names
                              if kind in run["pipelines"][n]["by_type"]))]
        for n in names:
            m = run["pipelines"][n]["by_type"].get(kind, {})
            value = m.get("abstention_recall") if kind == "unanswerable" else m.get("key_facts")
            row.append(_format(value, ".2f"))
        type_rows.append(row)
    lines += ["", "key facts by question type (unanswerable: abstention recall)"]
    lines += _columns(["type", "n"] + names, type_rows)
    return "\n".join(lines)


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    out = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
           for r in [header] + rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out


def load_run(path: Path | str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise EvalSetError(f"{path}: not a saved run ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
        raise EvalSetError(f"{path}: not a saved run of this version (write one with: qa eval SET --json {path})")
    return data


_VERDICTS = (("key_facts", "key facts"), ("abstention_correct", "abstention"), ("hit", "retrieval hit"),
             ("citation_recall", "citation recall"))


def compare(a: dict[str, Any], b: dict[str, Any], a_name: str = "A", b_name: str = "B") -> str:
    """Two saved runs side by side: metric differences for each pipeline both contain, then
    every question whose verdict changed (key facts, abstention, retrieval hit, citation recall)."""
    common = [n for n in a["pipelines"] if n in b["pipelines"]]
    if not common:
        raise EvalSetError(f"the runs share no pipeline ({', '.join(a['pipelines'])} vs {', '.join(b['pipelines'])})")
    lines: list[str] = []
    for name in common:
        pa, pb = a["pipelines"][name], b["pipelines"][name]
        rows = []
        for key, label, spec in METRIC_ROWS:
            va, vb = pa["metrics"].get(key), pb["metrics"].get(key)
            delta = vb - va if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None
            rows.append([label, _format(va, spec), _format(vb, spec), _signed(delta, spec)])
        lines += [f"pipeline {name}: {a_name} -> {b_name}"] + _columns(["metric", a_name, b_name, "change"], rows)
        lines += [""] + _question_changes(pa["questions"], pb["questions"]) + [""]
    return "\n".join(lines).rstrip()


def _signed(value: float | None, spec: str) -> str:
    if value is None or value != value:
        return "-"
    return ("+" if value > 0 else "") + format(value, spec)


def _question_changes(qa_: list[dict[str, Any]], qb: list[dict[str, Any]]) -> list[str]:
    before = {q["key"]: q for q in qa_}
    after = {q["key"]: q for q in qb}
    changes = []
    for key in [k for k in before if k in after]:
        sa, sb = before[key].get("scores") or {}, after[key].get("scores") or {}
        notes = []
        for metric, label in _VERDICTS:
            va, vb = sa.get(metric), sb.get(metric)
            if va is not None and vb is not None and float(va) != float(vb):
                notes.append(f"{label} {'better' if float(vb) > float(va) else 'worse'} ({_short(va)} -> {_short(vb)})")
        if bool(before[key].get("error")) != bool(after[key].get("error")):
            notes.append("now fails" if after[key].get("error") else "no longer fails")
        if notes:
            changes.append(f"  {key}: {'; '.join(notes)}\n      {before[key]['question']}")
    only = sorted(set(before) ^ set(after))
    if not set(before) & set(after):
        return [f"the runs share no question ({len(before)} and {len(after)} questions): were they run on "
                f"different sets, or from different folders?"]
    header = f"{len(changes)} of {len(set(before) & set(after))} questions changed"
    if only:
        header += f"; {len(only)} in only one run: {', '.join(only[:10])}"
    return [header] + changes


def _short(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{float(value):.2f}"


__all__ = ["EvalItem", "EvalSetError", "load_eval_set", "parse_item", "evaluate", "EvalRun", "PipelineRun",
           "QuestionResult", "score_answer", "aggregate", "run_pipeline", "OursPipeline", "make_pipelines",
           "summary_table", "compare", "load_run", "normalize", "has_key_facts", "is_gold"]
