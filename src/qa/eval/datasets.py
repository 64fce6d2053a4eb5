"""Evaluation sets: the questions, with what a right answer contains, read from JSON Lines
(the design-notes format) or from llama-index's LabelledRagDataset and
EmbeddingQAFinetuneDataset JSON files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

QUESTION_TYPES = ("single", "multi", "conflict", "unanswerable", "followup")
_SURROGATE = re.compile("[\ud800-\udfff]")


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
    # The documents the question is asked about (paths or glob patterns, as qa.ask's documents=);
    # None: the whole corpus.
    documents: list[str] | None = None

    @property
    def unanswerable(self) -> bool:
        return self.type == "unanswerable"

    @property
    def key(self) -> str:
        """Identifies the question across runs: the set's path as given, and the id."""
        return f"{self.set}#{self.id}"



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
    documents = data.get("documents")
    if documents is not None:
        documents = _string_list(documents, f"{where}: 'documents' (paths or glob patterns in the corpus folder)")
        if not documents or not all(d.strip() for d in documents):
            raise EvalSetError(f"{where}: 'documents' is empty or has an empty pattern; leave it out to ask about "
                               f"the whole corpus")
    kind = data.get("type", "single")
    if kind not in QUESTION_TYPES:
        raise EvalSetError(f"{where}: 'type' must be one of {', '.join(QUESTION_TYPES)}")
    if not groups and not evidence and not reference and kind != "unanswerable":
        raise EvalSetError(f"{where}: no 'answers', 'evidence' or 'reference_answer' to score against; "
                           f"if the corpus should not answer it, say \"type\": \"unanswerable\"")
    return EvalItem(id=str(data.get("id", f"line{line}")), question=question, answers=groups,
                    evidence=evidence, history=[(q, a) for q, a in history], reference_answer=reference,
                    type=kind, line=line, set=source, documents=documents)


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


__all__ = ["QUESTION_TYPES", "EvalItem", "EvalSetError", "parse_item", "load_eval_set", "load_sets"]
