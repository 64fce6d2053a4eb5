"""A self-contained HTML report of a saved evaluation run (what `qa eval --json` writes).

`render_html(run)` returns one HTML document with inline CSS and inline SVG charts: no
external resources, readable without JavaScript, printable. Every string taken from the
run (questions, answers, passages, sources, pipeline names) is escaped.

Sections: header, summary table (with the first-minus-second difference), per-type bar
charts, latency strip plots, the first pipeline's worst questions side by side with the
other pipelines' answers, and a collapsible per-question table.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .catalogue import METRICS, MetricSpec, metric_spec
from .datasets import QUESTION_TYPES
from .stats import median, percentile

PIPELINE_COLOURS = ("#2f5d8a", "#d9a441", "#6f9a72", "#9a6f98")  # dark blue / light amber: distinct in greyscale
BAR_PLOT_HEIGHT = 150.0  # px of the 0..1 axis in the per-type bar charts
LATENCY_WIDTH = 1100.0  # px of each latency strip
WORST_COUNT = 10
LONG_PASSAGE = 700  # chars; longer cited passages show an excerpt around their highlights
EXCERPT_CONTEXT = 240  # chars kept either side of the highlights
MISSING = "–"


# ---------------------------------------------------------------- metrics (catalogue.py)

CHART_METRICS = ("key_facts", "gold_recall", "citation_recall", "abstention_recall")


def title_label(spec: MetricSpec) -> str:
    """The catalogue's label, capitalised as a table heading."""
    return spec.label[:1].upper() + spec.label[1:]


# ---------------------------------------------------------------- small helpers

def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def num(value: Any) -> float | None:
    """A finite float, or None for None, NaN, infinities, booleans and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def format_value(value: Any, kind: str) -> str:
    """kind: a catalogue format ("count", "ratio", "ms", "rate")."""
    x = num(value)
    if x is None:
        return MISSING
    if kind == "count":
        return f"{x:.0f}"
    if kind == "ms":
        return f"{x:,.0f} ms"
    if kind == "rate":
        return f"{x:.1f}"
    return f"{x:.2f}"


def format_difference(diff: float | None, kind: str) -> str:
    if diff is None:
        return MISSING
    if abs(diff) < 1e-9:
        return format_value(0.0, kind)
    if kind == "count":
        return f"{diff:+.0f}"
    if kind == "ms":
        return f"{diff:+,.0f} ms"
    if kind == "rate":
        return f"{diff:+.1f}"
    return f"{diff:+.2f}"


def difference_class(diff: float | None, better: str | None) -> str:
    """'good', 'bad' or 'same' for a first-minus-second difference."""
    if diff is None or better is None or abs(diff) < 1e-9:
        return "same"
    return "good" if (diff > 0) == (better == "higher") else "bad"


def mark(value: Any) -> str:
    """✓ / ✗ / – for a boolean-ish score (1.0 and True are ✓)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f'<span class="na">{MISSING}</span>'
    return '<span class="yes">✓</span>' if bool(value) else '<span class="no">✗</span>'


def svg_text(x: float, y: float, text: str, css: str = "", anchor: str = "middle") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{css}">{esc(text)}</text>'


# ---------------------------------------------------------------- the run's shape

@dataclass
class Pipeline:
    name: str
    colour: str
    data: dict[str, Any]

    @property
    def metrics(self) -> dict[str, Any]:
        return self.data.get("metrics") or {}

    @property
    def by_type(self) -> dict[str, dict[str, Any]]:
        return self.data.get("by_type") or {}

    @property
    def questions(self) -> list[dict[str, Any]]:
        return [q for q in self.data.get("questions") or [] if isinstance(q, dict)]

    def question_map(self) -> dict[str, dict[str, Any]]:
        return {question_key(q): q for q in self.questions}


def pipelines_of(run: dict[str, Any]) -> list[Pipeline]:
    items = (run.get("pipelines") or {}).items()
    return [Pipeline(str(name), PIPELINE_COLOURS[i % len(PIPELINE_COLOURS)], data or {})
            for i, (name, data) in enumerate(items)]


def question_key(q: dict[str, Any]) -> str:
    return str(q.get("key") or f"{q.get('set', '')}#{q.get('id', '')}")


def scores(q: dict[str, Any]) -> dict[str, Any]:
    return q.get("scores") or {}


def answer_of(q: dict[str, Any]) -> dict[str, Any]:
    return q.get("answer") or {}


def is_unanswerable(q: dict[str, Any]) -> bool:
    return q.get("type") == "unanswerable" or (not q.get("answers") and not q.get("evidence"))


def abstained(q: dict[str, Any]) -> bool:
    return bool(answer_of(q).get("abstained") or scores(q).get("abstained"))


def latency_ms(q: dict[str, Any]) -> float | None:
    if q.get("error"):
        return None
    value = num(scores(q).get("latency_ms"))
    if value is None:
        value = num((answer_of(q).get("timings_ms") or {}).get("total"))
    return value


def present_types(pipelines: Iterable[Pipeline]) -> list[str]:
    """Question types that occur in any pipeline, in the canonical order, unknown ones last."""
    seen: list[str] = []
    for p in pipelines:
        for kind in [*p.by_type, *(str(q.get("type", "")) for q in p.questions)]:
            if kind and kind not in seen:
                seen.append(kind)
    return [t for t in QUESTION_TYPES if t in seen] + [t for t in seen if t not in QUESTION_TYPES]


# ---------------------------------------------------------------- badness of one answer

def wrong_abstention(q: dict[str, Any]) -> bool:
    if q.get("error"):
        return False
    correct = scores(q).get("abstention_correct")
    if correct is not None:
        return not correct
    return abstained(q) != is_unanswerable(q)


def problems(q: dict[str, Any]) -> list[str]:
    """Why an answer is bad, most serious first (empty when nothing is flagged)."""
    s = scores(q)
    reasons = []
    if q.get("error"):
        return ["error"]
    if wrong_abstention(q):
        reasons.append("abstained on an answerable question" if abstained(q) else "answered an unanswerable question")
    if s.get("key_facts") is False:
        reasons.append("key facts missing")
    recall = num(s.get("citation_recall"))
    if recall is not None and recall < 1:
        reasons.append(f"citation recall {recall:.2f}")
    if gold_missed(q):
        reasons.append("no gold passage retrieved")
    return reasons


def gold_missed(q: dict[str, Any]) -> bool:
    s = scores(q)
    hit = num(s.get("hit"))
    if hit is None:
        hit = num(s.get("gold_recall"))
    return hit is not None and hit == 0


def badness(q: dict[str, Any]) -> tuple[bool, bool, bool, bool, bool, float]:
    """Larger is worse: error > wrong abstention > key facts > citation recall > gold retrieval > low F1."""
    s = scores(q)
    recall = num(s.get("citation_recall"))
    f1 = num(s.get("token_f1"))
    return (bool(q.get("error")), wrong_abstention(q), s.get("key_facts") is False,
            recall is not None and recall < 1, gold_missed(q), -(1.0 if f1 is None else f1))


def worst_questions(questions: list[dict[str, Any]], count: int = WORST_COUNT) -> list[dict[str, Any]]:
    return sorted(questions, key=badness, reverse=True)[:count]  # sorted() is stable: ties keep run order


# ---------------------------------------------------------------- section: header

def render_header(run: dict[str, Any], pipelines: list[Pipeline]) -> str:
    sets = run.get("sets") or []
    facts = [("Sets", ", ".join(str(s) for s in sets) or MISSING), ("Created", run.get("created") or MISSING),
             ("k", run.get("k") if run.get("k") is not None else MISSING), ("Judge", run.get("judge") or MISSING)]
    meta = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in facts)
    cards = "".join(render_pipeline_card(p) for p in pipelines) or "<p>No pipelines in this run.</p>"
    return (f'<header class="top"><h1>Evaluation report</h1><dl class="meta">{meta}</dl>'
            f'<div class="pipelines">{cards}</div></header>')


def render_pipeline_card(p: Pipeline) -> str:
    settings = p.data.get("settings") or {}
    chips = "".join(f"<code>{esc(k)}={esc(v if isinstance(v, str) else json.dumps(v))}</code>"
                    for k, v in settings.items())
    return (f'<div class="pipe" style="border-left-color:{p.colour}">'
            f'<div class="pipe-name">{swatch(p.colour)}{esc(p.name)}</div>'
            f'<div class="pipe-desc">{esc(p.data.get("description") or "")}</div>'
            f'<div class="chips">{chips}</div></div>')


def swatch(colour: str) -> str:
    return (f'<svg class="swatch" width="12" height="12" aria-hidden="true">'
            f'<rect width="12" height="12" rx="2" fill="{colour}"/></svg>')


def legend(pipelines: list[Pipeline]) -> str:
    items = "".join(f"<span>{swatch(p.colour)}{esc(p.name)}</span>" for p in pipelines)
    return f'<div class="legend">{items}</div>'


# ---------------------------------------------------------------- section: summary table

def summary_metric_keys(pipelines: list[Pipeline]) -> list[str]:
    keys = [spec.key for spec in METRICS if any(spec.key in p.metrics for p in pipelines)]
    for p in pipelines:
        keys += [k for k in p.metrics if k not in keys]
    return keys


def metric_difference(pipelines: list[Pipeline], key: str) -> float | None:
    first, second = num(pipelines[0].metrics.get(key)), num(pipelines[1].metrics.get(key))
    return None if first is None or second is None else first - second


def render_summary(pipelines: list[Pipeline]) -> str:
    if not pipelines:
        return ""
    compare = len(pipelines) >= 2
    head = "".join(f'<th class="num">{swatch(p.colour)}{esc(p.name)}</th>' for p in pipelines)
    if compare:
        names = f"{esc(pipelines[0].name)} − {esc(pipelines[1].name)}"
        head += f'<th class="num">difference<div class="cap">{names}</div></th>'
    rows = "".join(render_summary_row(pipelines, key, compare) for key in summary_metric_keys(pipelines))
    return (f'<section><h2>Summary</h2><table class="summary"><thead><tr><th>Metric</th>{head}</tr></thead>'
            f'<tbody>{rows}</tbody></table>'
            '<p class="note">Difference: green when the first pipeline is better (lower for latency and errors, '
            'higher otherwise), red when worse.</p></section>')


def render_summary_row(pipelines: list[Pipeline], key: str, compare: bool) -> str:
    spec = metric_spec(key)
    cells = "".join(f'<td class="num">{esc(format_value(p.metrics.get(key), spec.format))}</td>' for p in pipelines)
    if compare:
        diff = metric_difference(pipelines, key)
        cells += (f'<td class="num diff {difference_class(diff, spec.better)}">'
                  f'{esc(format_difference(diff, spec.format))}</td>')
    caption = f'<div class="cap">{esc(spec.definition)}</div>' if spec.definition else ""
    return (f'<tr data-metric="{esc(key)}"><th scope="row" title="{esc(spec.definition)}">'
            f'{esc(title_label(spec))}{caption}</th>{cells}</tr>')


# ---------------------------------------------------------------- section: per-type bar charts

def render_type_charts(pipelines: list[Pipeline]) -> str:
    types = present_types(pipelines)
    panels = [render_bar_panel(metric, types, pipelines) for metric in CHART_METRICS]
    panels = [panel for panel in panels if panel]
    if not panels:
        return ""
    return (f'<section><h2>By question type</h2>{legend(pipelines)}'
            f'<div class="panels">{"".join(panels)}</div>'
            f'<p class="note">“{MISSING}”: no value for this type (e.g. no unanswerable questions to abstain on).</p>'
            '</section>')


def type_count(pipelines: list[Pipeline], kind: str) -> int:
    counts = [num(p.by_type.get(kind, {}).get("questions")) or sum(1 for q in p.questions if q.get("type") == kind)
              for p in pipelines]
    return int(max(counts, default=0))


def render_bar_panel(metric: str, types: list[str], pipelines: list[Pipeline]) -> str:
    """One small-multiple: for each type with any value, a bar per pipeline on a 0..1 axis."""
    values = {t: [num((p.by_type.get(t) or {}).get(metric)) for p in pipelines] for t in types}
    types = [t for t in types if any(v is not None for v in values[t])]
    if not types:
        return ""
    spec = metric_spec(metric)
    left, right, top, bottom = 34.0, 8.0, 16.0, 36.0
    width = max(520.0, left + right + len(types) * (len(pipelines) * 30 + 30))
    group = (width - left - right) / len(types)
    bar = min(34.0, group * 0.7 / len(pipelines))
    parts = [render_y_axis(left, width - right, top)]
    for i, kind in enumerate(types):
        x0 = left + i * group + (group - bar * len(pipelines)) / 2
        for j, (p, value) in enumerate(zip(pipelines, values[kind])):
            parts.append(render_bar(x0 + j * bar, top, bar, value, p, kind, metric))
        centre = left + (i + 0.5) * group
        parts.append(svg_text(centre, top + BAR_PLOT_HEIGHT + 15, kind, "xl"))
        parts.append(svg_text(centre, top + BAR_PLOT_HEIGHT + 28, f"n={type_count(pipelines, kind)}", "xs"))
    height = top + BAR_PLOT_HEIGHT + bottom
    return (f'<figure class="panel"><figcaption><b>{esc(title_label(spec))}</b> '
            f'<span class="cap">{esc(spec.definition)}</span></figcaption>'
            f'<svg class="chart" role="img" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" height="{height:.0f}"><title>{esc(title_label(spec))} by question type</title>'
            f'{"".join(parts)}</svg></figure>')


def render_y_axis(x_left: float, x_right: float, top: float) -> str:
    lines = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = top + BAR_PLOT_HEIGHT * (1 - tick)
        lines.append(f'<line x1="{x_left:.1f}" x2="{x_right:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'class="{"axis" if tick == 0 else "grid"}"/>')
        lines.append(svg_text(x_left - 5, y + 3.5, f"{tick:g}", "yl", anchor="end"))
    return "".join(lines)


def render_bar(x: float, top: float, width: float, value: float | None, p: Pipeline, kind: str, metric: str) -> str:
    base = top + BAR_PLOT_HEIGHT
    centre = x + width / 2
    if value is None:
        return svg_text(centre, base - 4, MISSING, "na-text")
    clamped = min(1.0, max(0.0, value))
    height = BAR_PLOT_HEIGHT * clamped
    return (f'<rect x="{x + 1:.1f}" y="{base - height:.2f}" width="{width - 2:.1f}" height="{height:.2f}" '
            f'fill="{p.colour}" data-pipeline="{esc(p.name)}" data-type="{esc(kind)}" data-metric="{esc(metric)}" '
            f'data-value="{value:.4f}"><title>{esc(p.name)} · {esc(kind)}: {value:.2f}</title></rect>'
            + svg_text(centre, base - height - 3, f"{value:.2f}", "vl"))


# ---------------------------------------------------------------- section: latency

@dataclass(frozen=True)
class Scale:
    """Maps milliseconds to x pixels, linearly or on a log axis for long-tailed runs."""
    lo: float
    hi: float
    x0: float
    x1: float
    log: bool

    def __call__(self, value: float) -> float:
        if self.log:
            a, b, v = math.log10(self.lo), math.log10(self.hi), math.log10(max(value, self.lo))
        else:
            a, b, v = self.lo, self.hi, value
        return self.x0 + (self.x1 - self.x0) * (v - a) / ((b - a) or 1.0)

    def ticks(self) -> list[float]:
        return log_ticks(self.lo, self.hi) if self.log else linear_ticks(self.lo, self.hi)


def linear_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    raw = (hi - lo) / target or 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def nice_bound(value: float, up: bool) -> float:
    """The nearest 1, 2 or 5 × 10^n at or above (up) or at or below value."""
    power = 10 ** math.floor(math.log10(value))
    candidates = [m * power for m in (1, 2, 5, 10)]
    return min(c for c in candidates if c >= value) if up else max(c for c in candidates if c <= value)


def log_ticks(lo: float, hi: float) -> list[float]:
    ticks = []
    for power in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        ticks += [m * 10 ** power for m in (1, 2, 5) if lo <= m * 10 ** power <= hi]
    return ticks


def latency_scale(all_values: list[float], x0: float, x1: float) -> Scale:
    positive = [v for v in all_values if v > 0] or [1.0]
    lo, hi = min(positive), max(positive)
    if hi / lo > 30:
        return Scale(nice_bound(lo, up=False), nice_bound(hi, up=True), x0, x1, log=True)
    ticks = linear_ticks(0.0, hi)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else hi
    return Scale(0.0, math.ceil(hi * 1.02 / step) * step, x0, x1, log=False)


def render_latency(pipelines: list[Pipeline]) -> str:
    series = [(p, [v for v in map(latency_ms, p.questions) if v is not None]) for p in pipelines]
    everything = [v for _, values in series for v in values]
    if not everything:
        return ""
    scale = latency_scale(everything, 24.0, LATENCY_WIDTH - 40)
    rows = "".join(render_latency_strip(p, values, scale) for p, values in series)
    note = "log scale" if scale.log else "linear scale"
    return (f'<section><h2>Latency per question</h2><p class="note">Each dot is one answered question '
            f'({note}, shared by all pipelines); the box spans the middle half, the thick line is the median '
            f'and the dashed line the 95th percentile.</p>{rows}</section>')


def latency_marks(p: Pipeline, values: list[float]) -> tuple[float | None, float | None]:
    """Median and p95: the run's own figures when it has them, else computed from the dots."""
    middle = num(p.metrics.get("latency_median_ms"))
    p95 = num(p.metrics.get("latency_p95_ms"))
    if middle is None:
        middle = num(median(values))
    if p95 is None:
        p95 = num(percentile(values, 95))
    return middle, p95


def render_latency_strip(p: Pipeline, values: list[float], scale: Scale) -> str:
    height, mid = 92.0, 40.0
    parts = [render_x_axis(scale, height - 22)]
    if values:
        q1, q3 = percentile(values, 25), percentile(values, 75)
        parts.append(f'<rect x="{scale(q1):.1f}" y="{mid - 16}" width="{max(1.0, scale(q3) - scale(q1)):.1f}" '
                     f'height="32" fill="{p.colour}" fill-opacity="0.16" stroke="{p.colour}" stroke-opacity="0.5"/>')
        for i, v in enumerate(values):
            jitter = ((i * 37) % 23) / 22 * 24 - 12
            parts.append(f'<circle cx="{scale(v):.1f}" cy="{mid + jitter:.1f}" r="3.2" fill="{p.colour}" '
                         f'fill-opacity="0.7"><title>{v:,.0f} ms</title></circle>')
    middle, p95 = latency_marks(p, values)
    if middle is not None:
        parts.append(latency_marker(scale(middle), mid, f"median {middle:,.0f} ms", "median", prefer="end"))
    if p95 is not None:
        parts.append(latency_marker(scale(p95), mid, f"p95 {p95:,.0f} ms", "p95", prefer="start"))
    empty = "" if values else svg_text(LATENCY_WIDTH / 2, mid + 4, "no answered questions", "na-text")
    return (f'<figure class="strip"><figcaption>{swatch(p.colour)}<b>{esc(p.name)}</b> '
            f'<span class="cap">{len(values)} answered</span></figcaption>'
            f'<svg class="chart" role="img" viewBox="0 0 {LATENCY_WIDTH:.0f} {height:.0f}" width="{LATENCY_WIDTH:.0f}" '
            f'height="{height:.0f}" '
            f'data-pipeline="{esc(p.name)}"><title>{esc(p.name)} latency per question</title>'
            f'{"".join(parts)}{empty}</svg></figure>')


def latency_marker(x: float, mid: float, label: str, css: str, prefer: str) -> str:
    """A vertical line at x, its label on the preferred side unless that side lacks room."""
    room = len(label) * 6.5 + 8
    anchor = prefer
    if prefer == "end" and x - room < 0:
        anchor = "start"
    elif prefer == "start" and x + room > LATENCY_WIDTH:
        anchor = "end"
    dx = -4 if anchor == "end" else 4
    return (f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{mid - 22}" y2="{mid + 22}" class="{css}"/>'
            + svg_text(x + dx, mid - 25, label, f"ml {css}-label", anchor=anchor))


def render_x_axis(scale: Scale, y: float) -> str:
    parts = [f'<line x1="{scale.x0}" x2="{scale.x1}" y1="{y}" y2="{y}" class="axis"/>']
    for tick in scale.ticks():
        x = scale(tick)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + 4}" class="axis"/>')
        parts.append(svg_text(x, y + 15, f"{tick:,.0f}", "xs"))
    return "".join(parts) + svg_text(scale.x1 + 8, y + 4, "ms", "xs", anchor="start")


# ---------------------------------------------------------------- section: worst questions

def render_worst(pipelines: list[Pipeline]) -> str:
    if not pipelines or not pipelines[0].questions:
        return ""
    first, others = pipelines[0], pipelines[1:]
    other_maps = [(p, p.question_map()) for p in others]
    cards = "".join(render_card(rank, q, first, [(p, m.get(question_key(q))) for p, m in other_maps])
                    for rank, q in enumerate(worst_questions(first.questions), start=1))
    return (f'<section><h2>Worst questions for {esc(first.name)}</h2><p class="note">Ranked by: error, wrong '
            'abstention, key facts missing, citation recall below 1, no gold passage retrieved, then lowest token F1. '
            '<span class="s-ok">Underlined</span> sentences are supported by their citations, '
            '<span class="s-bad">shaded</span> ones are not.</p>'
            f'{cards}</section>')


def render_card(rank: int, q: dict[str, Any], first: Pipeline,
                others: list[tuple[Pipeline, dict[str, Any] | None]]) -> str:
    reasons = problems(q) or ["lowest token F1 among the rest"]
    badges = "".join(f'<span class="badge">{esc(r)}</span>' for r in reasons)
    where = f'{q.get("set") or ""}:{q.get("line")}' if q.get("line") else str(q.get("set") or "")
    columns = [render_answer(first, q, full=True)] + [render_answer(p, other, full=False) for p, other in others]
    return (f'<article class="card" data-key="{esc(question_key(q))}">'
            f'<div class="card-head"><span class="rank">{rank}</span><code>{esc(q.get("id"))}</code>'
            f'<span class="tag">{esc(q.get("type"))}</span><span class="where">{esc(where)}</span>{badges}</div>'
            f'{render_question(q)}{render_reference(q)}'
            f'<div class="answers" style="--cols:{len(columns)}">{"".join(columns)}</div></article>')


def render_question(q: dict[str, Any]) -> str:
    history = q.get("history") or []
    turns = "".join(f'<li><span class="who">Q</span> {esc(turn[0] if len(turn) > 0 else "")}<br>'
                    f'<span class="who">A</span> {esc(turn[1] if len(turn) > 1 else "")}</li>'
                    for turn in history if isinstance(turn, (list, tuple)))
    earlier = f'<ol class="history" title="earlier turns">{turns}</ol>' if turns else ""
    return f'{earlier}<p class="question">{esc(q.get("question"))}</p>'


def render_reference(q: dict[str, Any]) -> str:
    groups = [g for g in q.get("answers") or [] if isinstance(g, list)]
    facts = "".join(f'<span class="fact">{esc(" / ".join(map(str, g)))}</span>' for g in groups)
    reference = q.get("reference_answer") or ("(unanswerable: should abstain)" if is_unanswerable(q) else MISSING)
    facts_row = f'<div><dt>Key facts</dt><dd>{facts}</dd></div>' if facts else ""
    return f'<dl class="ref"><div><dt>Reference</dt><dd>{esc(reference)}</dd></div>{facts_row}</dl>'


def render_answer(p: Pipeline, q: dict[str, Any] | None, full: bool) -> str:
    head = f'<h4>{swatch(p.colour)}{esc(p.name)}</h4>'
    if q is None:
        body = '<p class="na">Not asked in this pipeline.</p>'
    elif q.get("error"):
        body = f'<p class="error">Error: {esc(q.get("error"))}</p>'
    else:
        body = (render_answer_scores(q) + render_sentences(q) + render_retrieval(q)
                + render_citations(answer_of(q).get("citations") or [], collapsed=not full))
    return f'<div class="answer" style="border-top-color:{p.colour}">{head}{body}</div>'


def render_answer_scores(q: dict[str, Any]) -> str:
    s, a = scores(q), answer_of(q)
    flags = [("abstained", a.get("abstained")), ("conflict flagged", a.get("conflict"))]
    chips = [f'<span class="flag">{esc(name)}</span>' for name, on in flags if on]
    chips.append(f'key facts {mark(s.get("key_facts"))}')
    for key, label in (("citation_recall", "cit. recall"), ("token_f1", "F1")):
        chips.append(f"{label} {esc(format_value(s.get(key), 'ratio'))}")
    chips.append(esc(format_value(latency_ms(q), "ms")))
    return f'<div class="scores">{" · ".join(chips)}</div>'


def render_sentences(q: dict[str, Any]) -> str:
    sentences = [s for s in q.get("sentences") or [] if isinstance(s, dict)]
    if not sentences:
        return f'<p class="answer-text">{esc(answer_of(q).get("text") or MISSING)}</p>'
    spans = []
    for s in sentences:
        state = {True: ("s-ok", "supported by its citations"), False: ("s-bad", "not supported")}.get(
            s.get("supported"), ("s-unk", "support not judged"))
        spans.append(f'<span class="{state[0]}" title="{state[1]}">{esc(s.get("text"))}</span>')
    return f'<p class="answer-text">{" ".join(spans)}</p>'


def render_retrieval(q: dict[str, Any]) -> str:
    retrieved = [r for r in q.get("retrieved") or [] if isinstance(r, dict)]
    if not retrieved or is_unanswerable(q):
        return ""
    ranks = [str(r.get("rank", i + 1)) for i, r in enumerate(retrieved) if r.get("gold")]
    text = (f"gold passage retrieved at rank {', '.join(ranks)}" if ranks
            else f"no gold passage in the top {len(retrieved)}")
    return f'<p class="retrieval {"" if ranks else "miss"}">{esc(text)}</p>'


def render_citations(citations: list[Any], collapsed: bool) -> str:
    items = "".join(render_citation(c) for c in citations if isinstance(c, dict))
    if not items:
        return ""
    block = f'<ol class="cites">{items}</ol>'
    if collapsed:
        return f'<details class="cited"><summary>{len(citations)} cited passage(s)</summary>{block}</details>'
    return f'<div class="cited"><div class="label">Cited passages</div>{block}</div>'


def render_citation(c: dict[str, Any]) -> str:
    offsets = f'chars {c.get("start")}–{c.get("end")}' if c.get("start") is not None else ""
    where = " · ".join(x for x in (str(c.get("path") or ""), offsets) if x)
    return (f'<li><div class="src"><b>[{esc(c.get("number", "?"))}]</b> {esc(c.get("source") or "")} '
            f'<span class="where">{esc(where)}</span></div>'
            f'{render_passage(str(c.get("text") or ""), c.get("highlights") or [])}</li>')


def render_passage(text: str, spans: list[Any]) -> str:
    """The passage with highlights; a long one as an excerpt around them, the whole on demand."""
    start, end = excerpt_window(text, clean_spans(spans, len(text)))
    whole = f"<blockquote>{highlighted(text, spans)}</blockquote>"
    if (start, end) == (0, len(text)):
        return whole
    shifted = [(a - start, b - start) for a, b in clean_spans(spans, len(text))]
    excerpt = ("… " if start else "") + highlighted(text[start:end], shifted) + (" …" if end < len(text) else "")
    return (f'<blockquote>{excerpt}</blockquote><details class="whole"><summary>whole passage '
            f'({len(text):,} characters)</summary>{whole}</details>')


def excerpt_window(text: str, spans: list[tuple[int, int]]) -> tuple[int, int]:
    """[start, end) of the part of text worth showing: all of it when short, else around the spans."""
    if len(text) <= LONG_PASSAGE:
        return 0, len(text)
    if not spans:
        start, end = 0, LONG_PASSAGE
    else:
        start, end = max(0, spans[0][0] - EXCERPT_CONTEXT), min(len(text), spans[-1][1] + EXCERPT_CONTEXT)
    if start > 0:  # begin and end on word boundaries, never inside a highlight
        space = text.find(" ", start, spans[0][0] if spans else end)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", spans[-1][1] if spans else start, end)
        end = space if space > start else end
    return start, end


def clean_spans(spans: Iterable[Any], length: int) -> list[tuple[int, int]]:
    out = []
    for span in spans:
        try:
            start, end = max(0, int(span[0])), min(length, int(span[1]))
        except (TypeError, ValueError, IndexError):
            continue
        if end > start:
            out.append((start, end))
    return sorted(out)


def highlighted(text: str, spans: Iterable[Any]) -> str:
    """text escaped, with the (possibly overlapping) [start, end) spans wrapped in <mark>."""
    parts, position = [], 0
    for start, end in clean_spans(spans, len(text)):
        start = max(start, position)
        if end <= start:
            continue
        parts += [esc(text[position:start]), f"<mark>{esc(text[start:end])}</mark>"]
        position = end
    parts.append(esc(text[position:]))
    return "".join(parts)


# ---------------------------------------------------------------- section: every question

TABLE_COLUMNS: tuple[tuple[str, str, Callable[[dict[str, Any]], str]], ...] = (
    ("KF", "key facts all present", lambda q: mark(scores(q).get("key_facts"))),
    ("Gold", "a gold passage was retrieved", lambda q: mark(num(scores(q).get("hit")))),
    ("Cit.", "citation recall", lambda q: esc(format_value(scores(q).get("citation_recall"), "ratio"))),
    ("F1", "token F1 against the reference answer", lambda q: esc(format_value(scores(q).get("token_f1"), "ratio"))),
    ("Abst.", "the pipeline abstained", lambda q: "abstained" if abstained(q) else ""),
    ("ms", "latency", lambda q: esc(format_value(latency_ms(q), "count"))),
)


def all_keys(pipelines: list[Pipeline]) -> list[str]:
    keys: dict[str, None] = {}
    for p in pipelines:
        keys.update((question_key(q), None) for q in p.questions)
    return list(keys)


def render_question_table(pipelines: list[Pipeline]) -> str:
    keys = all_keys(pipelines)
    if not keys:
        return ""
    maps = [p.question_map() for p in pipelines]
    top = "".join(f'<th colspan="{len(TABLE_COLUMNS)}" class="group" style="border-bottom-color:{p.colour}">'
                  f'{swatch(p.colour)}{esc(p.name)}</th>' for p in pipelines)
    sub = "".join(f'<th class="num{" sep" if i == 0 else ""}" title="{esc(title)}">{esc(name)}</th>'
                  for i, (name, title, _) in enumerate(TABLE_COLUMNS)) * len(pipelines)
    rows = "".join(render_question_row(key, maps) for key in keys)
    return (f'<section><details class="all"><summary><h2>Every question ({len(keys)})</h2></summary>'
            f'<table class="questions"><thead><tr><th rowspan="2">id</th><th rowspan="2">type</th>{top}</tr>'
            f'<tr>{sub}</tr></thead><tbody>{rows}</tbody></table></details></section>')


def render_question_row(key: str, maps: list[dict[str, dict[str, Any]]]) -> str:
    known = next(m[key] for m in maps if key in m)
    cells = []
    for m in maps:
        q = m.get(key)
        if q is None:
            cells.append(f'<td colspan="{len(TABLE_COLUMNS)}" class="na sep">not asked</td>')
        elif q.get("error"):
            cells.append(f'<td colspan="{len(TABLE_COLUMNS)}" class="error sep" '
                         f'title="{esc(q.get("error"))}">error</td>')
        else:
            cells.append("".join(f'<td class="num{" sep" if i == 0 else ""}">{cell(q)}</td>'
                                 for i, (_, _, cell) in enumerate(TABLE_COLUMNS)))
    return (f'<tr data-key="{esc(key)}"><td title="{esc(known.get("question"))}">'
            f'<code>{esc(known.get("id"))}</code></td>'
            f'<td>{esc(known.get("type"))}</td>{"".join(cells)}</tr>')


# ---------------------------------------------------------------- the document

CSS = """
:root{--ink:#1f2328;--muted:#5d6673;--line:#dde2e8;--soft:#f5f7f9;--good:#1c6b31;--good-bg:#e2f1e5;
--bad:#a8291c;--bad-bg:#fbe6e2}
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;color:var(--ink);background:#fff;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue","DejaVu Sans",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 28px 64px}
h1{font-size:26px;margin:0 0 8px;letter-spacing:-.01em}
h2{font-size:19px;margin:38px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h4{margin:0 0 6px;font-size:15px}
code{font:13px/1.4 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
.note,.cap{color:var(--muted);font-size:13px}
.cap{font-weight:normal;font-size:12px;line-height:1.35}
.meta{display:flex;flex-wrap:wrap;gap:6px 28px;margin:0 0 14px}
.meta dt{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.meta dd{margin:0}
.pipelines{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px}
.pipe{border:1px solid var(--line);border-left:5px solid;border-radius:6px;padding:10px 14px;background:var(--soft)}
.pipe-name{font-weight:600}
.pipe-desc{font-size:14px;color:var(--muted)}
.chips{display:flex;flex-wrap:wrap;gap:4px;margin-top:6px}
.chips code{background:#fff;border:1px solid var(--line);border-radius:4px;padding:0 5px;font-size:12px}
.swatch{vertical-align:-1px;margin-right:6px}
table{border-collapse:collapse}
.summary{min-width:70%}
.summary th,.summary td{padding:6px 12px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
.summary thead th{border-bottom:2px solid var(--ink);font-size:14px}
.summary tbody th{font-weight:600;font-size:14px}
.num{text-align:right!important;font-variant-numeric:tabular-nums;white-space:nowrap}
.diff.good{color:var(--good);background:var(--good-bg);font-weight:600}
.diff.bad{color:var(--bad);background:var(--bad-bg);font-weight:600}
.diff.same{color:var(--muted)}
.legend{display:flex;gap:18px;font-size:14px;margin:4px 0 8px}
.panels{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:14px 18px}
.panel{margin:0;border:1px solid var(--line);border-radius:6px;padding:10px 12px 4px;break-inside:avoid}
.panel figcaption{font-size:14px;margin-bottom:4px}
.panel .chart{width:100%}
.chart{max-width:100%;height:auto;display:block}
.chart text{font-family:inherit;fill:var(--ink)}
.chart .xl{font-size:12px}.chart .xs,.chart .yl{font-size:10.5px;fill:var(--muted)}
.chart .vl{font-size:10px;text-anchor:middle;fill:var(--muted)}
.chart .na-text{font-size:12px;fill:#9aa3ad}
.chart .grid{stroke:#e8ebef;stroke-width:1}.chart .axis{stroke:#8a929c;stroke-width:1}
.chart .median{stroke:var(--ink);stroke-width:2.5}.chart .p95{stroke:var(--ink);stroke-width:1.5;stroke-dasharray:4 3}
.chart .ml{font-size:11px}
.strip{margin:0 0 6px}
.strip figcaption{font-size:14px}
.card{border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin:0 0 16px;break-inside:avoid}
.card-head{display:flex;flex-wrap:wrap;align-items:center;gap:8px;margin-bottom:6px}
.rank{display:inline-block;min-width:24px;height:24px;border-radius:12px;background:var(--ink);color:#fff;
text-align:center;font-size:13px;line-height:24px;font-weight:600}
.tag{background:var(--soft);border:1px solid var(--line);border-radius:10px;padding:0 8px;font-size:12px}
.where{color:var(--muted);font-size:12px}
.badge{background:var(--bad-bg);color:var(--bad);border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}
.question{font-size:16px;font-weight:600;margin:4px 0 8px}
.history{margin:4px 0;padding-left:22px;color:var(--muted);font-size:13px}
.who{font-weight:700;font-size:11px;color:var(--muted)}
.ref{margin:0 0 10px;font-size:14px}
.ref div{display:flex;gap:10px;margin:2px 0}
.ref dt{min-width:82px;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em;padding-top:2px}
.ref dd{margin:0}
.fact{display:inline-block;border:1px solid var(--line);border-radius:4px;padding:0 6px;margin:0 4px 2px 0;
background:var(--soft)}
.answers{display:grid;grid-template-columns:repeat(var(--cols),minmax(0,1fr));gap:14px}
.answer{border-top:4px solid;padding-top:8px;min-width:0}
.scores{font-size:13px;color:var(--muted);margin-bottom:6px}
.flag{background:#fff4d6;color:#7a5a00;border-radius:4px;padding:0 6px;font-weight:600}
.answer-text{margin:0 0 8px;line-height:1.65}
.s-ok{border-bottom:1.5px solid #9cc9a4}
.s-bad{background:var(--bad-bg);border-bottom:2px dotted var(--bad)}
.s-unk{border-bottom:1px dashed #aab2bb}
.retrieval{font-size:13px;color:var(--muted);margin:0 0 6px}.retrieval.miss{color:var(--bad)}
.error{color:var(--bad);background:var(--bad-bg);padding:4px 8px;border-radius:4px;font-size:14px}
.label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.cites{list-style:none;padding:0;margin:4px 0 0}
.cites li{margin:0 0 8px}
.src{font-size:13px}
blockquote{margin:3px 0 0;padding:6px 10px;background:var(--soft);border-left:3px solid var(--line);font-size:13.5px;
white-space:pre-wrap;overflow-wrap:anywhere}
mark{background:#ffe58a;color:inherit;padding:0 1px}
details summary{cursor:pointer;font-size:13px;color:var(--muted)}
details.whole{margin-top:2px}
details.all>summary{list-style:none;color:var(--ink)}
details.all>summary::-webkit-details-marker{display:none}
details.all>summary h2{display:inline-block;width:100%}
details.all>summary h2::after{content:" ▸ show";font-size:13px;font-weight:normal;color:var(--muted)}
details.all[open]>summary h2::after{content:" ▾ hide"}
.questions{font-size:13px;width:100%}
.questions th,.questions td{padding:3px 7px;border-bottom:1px solid var(--line)}
.questions thead th{font-size:12px;text-align:left}
.questions th.group{border-bottom:3px solid;text-align:center;border-left:1px solid var(--line)}
.questions .sep{border-left:1px solid var(--line)}
.questions tbody tr:nth-child(even){background:#fafbfc}
.yes{color:var(--good);font-weight:700}.no{color:var(--bad);font-weight:700}.na{color:#9aa3ad}
@media (max-width:800px){.answers{grid-template-columns:1fr}}
@media print{main{padding:0;max-width:none}h2{break-after:avoid}details>summary h2::after{content:none}}
"""

# Optional: opens the collapsed parts before printing. The page is complete without it.
SCRIPT = ("window.addEventListener('beforeprint',function(){"
          "document.querySelectorAll('details').forEach(function(d){d.open=true;});});")


def render_html(run: dict[str, Any]) -> str:
    """The complete, self-contained HTML report for a saved run (`qa eval --json` output)."""
    pipelines = pipelines_of(run)
    sections = [render_header(run, pipelines), render_summary(pipelines), render_type_charts(pipelines),
                render_latency(pipelines), render_worst(pipelines), render_question_table(pipelines)]
    title = "Evaluation report · " + ", ".join(str(s).rsplit("/", 1)[-1] for s in run.get("sets") or [])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(sections)}</main><script>{SCRIPT}</script></body></html>\n")


__all__ = ["BAR_PLOT_HEIGHT", "badness", "render_html", "worst_questions"]
