"""Evaluation results as text: the summary table of one run, and the comparison of two
saved runs (metric changes, then every question whose verdict changed)."""

from __future__ import annotations

from typing import Any

from .catalogue import GENERATION_METRICS, METRICS, format_text, metric_spec, signed_text
from .datasets import QUESTION_TYPES, EvalSetError


def summary_table(run: dict[str, Any]) -> str:
    """Metrics side by side for each pipeline, then key facts by question type."""
    names = list(run["pipelines"])
    generated = any(run["pipelines"][n]["metrics"].get("generated") for n in names)
    rows = [[spec.label] + [format_text(run["pipelines"][n]["metrics"].get(spec.key), spec) for n in names]
            for spec in METRICS if generated or spec.key not in GENERATION_METRICS]
    lines = columns(["metric"] + names, rows)
    types = [t for t in QUESTION_TYPES if any(t in run["pipelines"][n]["by_type"] for n in names)]
    type_rows = []
    for kind in types:
        row = [kind, str(next(run["pipelines"][n]["by_type"][kind]["questions"] for n in names
                              if kind in run["pipelines"][n]["by_type"]))]
        for n in names:
            m = run["pipelines"][n]["by_type"].get(kind, {})
            key = "abstention_recall" if kind == "unanswerable" else "key_facts"
            row.append(format_text(m.get(key), metric_spec(key)))
        type_rows.append(row)
    lines += ["", "key facts by question type (unanswerable: abstention recall)"]
    lines += columns(["type", "n"] + names, type_rows)
    return "\n".join(lines)


def columns(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    out = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
           for r in [header] + rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out


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
        for spec in METRICS:
            va, vb = pa["metrics"].get(spec.key), pb["metrics"].get(spec.key)
            delta = vb - va if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None
            rows.append([spec.label, format_text(va, spec), format_text(vb, spec), signed_text(delta, spec)])
        lines += [f"pipeline {name}: {a_name} -> {b_name}"] + columns(["metric", a_name, b_name, "change"], rows)
        lines += [""] + _question_changes(pa["questions"], pb["questions"]) + [""]
    return "\n".join(lines).rstrip()


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



__all__ = ["summary_table", "compare"]
