"""The HTML evaluation report: self-contained, escaped, and showing the right numbers."""

from __future__ import annotations

import copy
import json
import math
import random
from html.parser import HTMLParser
from pathlib import Path

import pytest

from qa.eval.report_html import BAR_PLOT_HEIGHT, render_html

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
SCRIPT = "<script>alert(1)</script>"
SET = "corpus/eval/aleppo.jsonl"


# ---------------------------------------------------------------- a small run, built by hand

def citation(number: int, text: str, highlights: list[list[int]] | None = None) -> dict:
    return {"number": number, "source": "The Guardian — Aleppo (2016-12-14)", "path": "guardian.txt",
            "start": 10, "end": 10 + len(text), "text": text, "highlights": highlights or []}


def question(qid: str, kind: str, *, text: str = "An answer [1].", abstained: bool = False, error: str = "",
             key_facts: bool | None = True, f1: float | None = 0.5, cit_recall: float | None = 1.0,
             hit: float | None = 1.0, latency: float = 80.0, passage: str = "A passage about Aleppo.",
             supported: bool = True, history: list | None = None, answerable: bool = True) -> dict:
    answer = None if error else {
        "text": text, "abstained": abstained, "conflict": kind == "conflict",
        "citations": [] if abstained else [citation(1, passage, [[0, 9]])], "timings_ms": {"total": latency}}
    return {
        "key": f"aleppo.jsonl#{qid}", "id": qid, "set": SET, "line": int(qid[1:]), "type": kind,
        "question": f"Question {qid}?", "history": history or [],
        "answers": [["Sept. 30"]] if answerable else [], "evidence": ["Sept. 30"] if answerable else [],
        "reference_answer": "Reference." if answerable else "", "error": error, "answer": answer,
        "retrieved": [{"rank": 1, "source": "s", "path": "guardian.txt", "gold": bool(hit), "text": passage}],
        "sentences": [] if (error or abstained) else [{"text": text, "citations": [1], "supported": supported}],
        "scores": None if error else {
            "hit": hit, "rr": hit, "gold_recall": hit, "key_facts": key_facts, "token_f1": f1, "similarity": 0.7,
            "citation_recall": cit_recall, "citation_precision": cit_recall, "abstained": abstained,
            "abstention_correct": abstained != answerable, "latency_ms": latency},
    }


def metrics(**values: float) -> dict:
    base = {"questions": 6, "errors": 0, "hit_rate": 0.8, "mrr": 0.7, "gold_recall": 0.8, "key_facts": 0.5,
            "token_f1": 0.4, "similarity": 0.7, "citation_recall": 0.9, "citation_precision": 0.9,
            "abstention_recall": 1.0, "abstention_precision": 0.5, "latency_median_ms": 80.0,
            "latency_p95_ms": 200.0}
    return {**base, **values}


def make_run() -> dict:
    ours_questions = [
        question("q01", "single", f1=0.6),
        question("q02", "multi", key_facts=False, cit_recall=0.5, f1=0.2, supported=False,
                 text="Half of it is <b>wrong</b> [1]."),
        question("q03", "unanswerable", text="I cannot answer that.", abstained=True, key_facts=None, f1=None,
                 cit_recall=None, hit=None, answerable=False),
        question("q04", "single", error="RuntimeError: index <gone>"),
        question("q05", "followup", text="I cannot answer that.", abstained=True, key_facts=False, f1=0.0,
                 cit_recall=None, history=[["Who?", "Soleimani."]]),
        question("q06", "conflict", f1=0.3, passage=f"Before {SCRIPT} after.",
                 text="Sources disagree [1]."),
    ]
    baseline_questions = [
        question("q01", "single", key_facts=False, f1=0.3, latency=120.0),
        question("q02", "multi", f1=0.5, latency=150.0),
        question("q03", "unanswerable", text="It was 2015 [1].", key_facts=None, f1=None, hit=None,
                 answerable=False, latency=130.0),
        question("q04", "single", f1=0.4, latency=110.0, passage="Baseline's passage for q04."),
        question("q05", "followup", latency=140.0),
        question("q06", "conflict", latency=900.0),
    ]
    by_type_ours = {"single": metrics(questions=2, key_facts=0.5, gold_recall=1.0, citation_recall=1.0,
                                      abstention_recall=None),
                    "multi": metrics(questions=1, key_facts=0.0, citation_recall=0.5, abstention_recall=None),
                    "unanswerable": metrics(questions=1, key_facts=None, gold_recall=None, citation_recall=None,
                                            abstention_recall=1.0),
                    "followup": metrics(questions=1, key_facts=0.0, abstention_recall=None),
                    "conflict": metrics(questions=1, key_facts=1.0, abstention_recall=None)}
    by_type_baseline = {"single": metrics(questions=2, key_facts=0.25, abstention_recall=None),
                        "multi": metrics(questions=1, key_facts=1.0, abstention_recall=None),
                        "unanswerable": metrics(questions=1, key_facts=None, gold_recall=None,
                                                citation_recall=None, abstention_recall=0.0),
                        "followup": metrics(questions=1, key_facts=1.0, abstention_recall=None),
                        "conflict": metrics(questions=1, key_facts=1.0, abstention_recall=None)}
    return {
        "format": "qa-eval-run/1", "created": "2026-11-22T06:00:00Z", "sets": [SET], "k": 5,
        "judge": "lexical+embedding (offline)",
        "pipelines": {
            "ours": {"description": "hybrid dense+BM25 retrieval, extractive cited answers",
                     "settings": {"top_k": 5, "retrieval_mode": "hybrid", "chunk_tokens": 170},
                     "metrics": metrics(errors=1, key_facts=0.75, latency_median_ms=80.1, token_f1=None),
                     "by_type": by_type_ours, "questions": ours_questions},
            "baseline": {"description": "llama-index <VectorStoreIndex> defaults",
                         "settings": {"similarity_top_k": 5},
                         "metrics": metrics(key_facts=0.5, latency_median_ms=120.4, token_f1=0.45),
                         "by_type": by_type_baseline, "questions": baseline_questions},
        },
    }


# ---------------------------------------------------------------- a tiny DOM for assertions

class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None):
        self.tag, self.attrs, self.parent, self.children, self.texts = tag, attrs, parent, [], []

    def text(self) -> str:
        return "".join(t if isinstance(t, str) else t.text() for t in self.texts)

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if child.tag == tag and all(child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                found.append(child)
            found += child.find_all(tag, **attrs)
        return found


VOID = {"meta", "br", "img", "input", "link", "hr", "rect", "line", "circle", "path"}


class Tree(HTMLParser):
    """Parses the report into Nodes; SVG leaf shapes may be written self-closing or not."""

    def __init__(self, document: str):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.current = self.root
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.feed(document)
        self.close()

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.tags.append((tag, dict(attrs)))
        self.current.children.append(node)
        self.current.texts.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.tags.append((tag, dict(attrs)))
        self.current.children.append(node)
        self.current.texts.append(node)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        assert node is not self.root, f"unbalanced </{tag}>"
        self.current = node.parent

    def handle_data(self, data):
        self.current.texts.append(data)
        if self.current.tag == "script":
            self.scripts.append(data)


@pytest.fixture()
def run() -> dict:
    return make_run()


@pytest.fixture()
def page(run) -> str:
    return render_html(run)


@pytest.fixture()
def tree(page) -> Tree:
    return Tree(page)


def summary_row(tree: Tree, metric: str) -> list[str]:
    (row,) = tree.root.find_all("tr", data_metric=metric)
    return [cell.text().strip() for cell in row.children if cell.tag in ("td", "th")]


# ---------------------------------------------------------------- the tests

def test_is_one_balanced_html_document_without_external_references(page, tree):
    assert page.startswith("<!DOCTYPE html>")
    assert [n.tag for n in tree.root.children] == ["html"]
    assert tree.current is tree.root, "every element is closed"
    for tag, attrs in tree.tags:
        assert tag not in ("link", "img", "iframe", "object", "embed")
        assert not (tag == "script" and "src" in attrs)
        for name, value in attrs.items():
            if name in ("src", "href", "xlink:href", "action", "poster", "srcset"):
                pytest.fail(f"<{tag} {name}={value!r}> references a resource")
            assert not (value or "").strip().lower().startswith(("http:", "https:", "//")), (tag, name, value)
    assert "@import" not in page and "url(" not in page


def test_run_strings_are_escaped(page, tree):
    assert SCRIPT not in page
    # a <mark> may split "<s|cript>"
    assert page.count("alert(1)") == page.count("cript&gt;alert(1)&lt;/script&gt;") >= 1
    assert "<b>wrong</b>" not in page and "&lt;b&gt;wrong&lt;/b&gt;" in page
    assert "&lt;VectorStoreIndex&gt;" in page and "index &lt;gone&gt;" in page
    assert len(tree.scripts) == 1 and "alert" not in tree.scripts[0], "only the report's own inline script"
    assert SCRIPT in tree.root.text(), "the passage text is shown, as text"


def test_summary_table_values_and_difference(tree):
    assert summary_row(tree, "key_facts")[1:] == ["0.75", "0.50", "+0.25"]
    (cell,) = [c for c in tree.root.find_all("tr", data_metric="key_facts")[0].children if c.tag == "td"][-1:]
    assert "good" in cell.attrs["class"].split()


def test_summary_lower_is_better_for_latency_and_errors(tree):
    assert summary_row(tree, "latency_median_ms")[1:] == ["80 ms", "120 ms", "-40 ms"]
    latency_diff = tree.root.find_all("tr", data_metric="latency_median_ms")[0].children[-1]
    assert "good" in latency_diff.attrs["class"].split()
    assert summary_row(tree, "errors")[1:] == ["1", "0", "+1"]
    errors_diff = tree.root.find_all("tr", data_metric="errors")[0].children[-1]
    assert "bad" in errors_diff.attrs["class"].split()


def test_missing_metric_shows_a_dash_and_no_difference(tree):
    assert summary_row(tree, "token_f1")[1:] == ["–", "0.45", "–"]


def test_metric_names_carry_definitions(tree):
    header = tree.root.find_all("tr", data_metric="citation_recall")[0].children[0]
    assert "supported" in header.attrs["title"] and "supported" in header.text()


def test_worst_questions_start_with_error_then_wrong_abstention(tree):
    cards = [c.attrs["data-key"] for c in tree.root.find_all("article")]
    assert cards[:3] == ["aleppo.jsonl#q04", "aleppo.jsonl#q05", "aleppo.jsonl#q02"]
    assert cards[-1] == "aleppo.jsonl#q03", "the correct abstention is least bad"
    assert len(cards) == 6


def test_worst_card_shows_the_other_pipelines_answer_and_marks(tree):
    error_card = tree.root.find_all("article")[0]
    text = error_card.text()
    assert "Error: RuntimeError: index <gone>" in text
    assert "Baseline's passage for q04." in text, "the baseline's answer to the same question is beside it"
    bad_card = tree.root.find_all("article")[2]
    assert bad_card.find_all("span", **{"class": "s-bad"}), "the unsupported sentence is marked"
    marks = [m.text() for m in tree.root.find_all("mark")]
    assert "A passage" in marks and "Before <s" in marks, "highlight spans [0, 9] are marked"
    followup = tree.root.find_all("article")[1]
    assert "Soleimani." in followup.text(), "history is shown"


def test_long_passage_shows_an_excerpt_around_its_highlight_and_the_whole_on_demand(run):
    passage = "lead " * 300 + "the key sentence " + SCRIPT + " tail" + " tail" * 300
    start = passage.index("the key sentence")
    ours = run["pipelines"]["ours"]["questions"][0]
    ours["answer"]["citations"] = [citation(1, passage, [[start, start + len("the key sentence")]])]
    card = next(c for c in Tree(render_html(run)).root.find_all("article") if c.attrs["data-key"].endswith("q01"))
    excerpt, whole = card.find_all("blockquote")[:2]
    assert excerpt.text().startswith("… lead") and excerpt.text().endswith("tail …")
    assert len(excerpt.text()) < 700 and [m.text() for m in excerpt.find_all("mark")] == ["the key sentence"]
    assert whole.text() == passage and whole.parent.tag == "details"


def test_bar_heights_are_proportional_to_values(tree):
    def bar(pipeline: str, kind: str, metric: str) -> Node:
        (rect,) = tree.root.find_all("rect", data_pipeline=pipeline, data_type=kind, data_metric=metric)
        return rect

    assert float(bar("ours", "single", "key_facts").attrs["height"]) == pytest.approx(0.5 * BAR_PLOT_HEIGHT)
    assert float(bar("baseline", "single", "key_facts").attrs["height"]) == pytest.approx(0.25 * BAR_PLOT_HEIGHT)
    full, zero = bar("ours", "unanswerable", "abstention_recall"), bar("baseline", "unanswerable", "abstention_recall")
    assert float(full.attrs["height"]) == pytest.approx(BAR_PLOT_HEIGHT) and float(zero.attrs["height"]) == 0
    assert float(full.attrs["y"]) + float(full.attrs["height"]) == pytest.approx(
        float(zero.attrs["y"])), "bars share one baseline"
    assert not tree.root.find_all("rect", data_type="unanswerable", data_metric="key_facts"), "null values: no bar"
    assert not tree.root.find_all("rect", data_type="single", data_metric="abstention_recall")


def test_latency_marks_median_and_p95(tree):
    strips = tree.root.find_all("svg", data_pipeline="ours") + tree.root.find_all("svg", data_pipeline="baseline")
    assert len(strips) == 2
    texts = [s.text() for s in strips]
    assert "median 80 ms" in texts[0] and "p95 200 ms" in texts[0]
    assert len(strips[0].find_all("circle")) == 5, "the errored question has no latency"
    assert len(strips[1].find_all("circle")) == 6


def test_every_question_table_covers_both_pipelines(tree):
    rows = tree.root.find_all("tr", data_key="aleppo.jsonl#q04")
    (row,) = rows
    cells = [c.text().strip() for c in row.children]
    assert cells[:3] == ["q04", "single", "error"] and cells[-1] == "110"
    abstained = tree.root.find_all("tr", data_key="aleppo.jsonl#q05")[0].text()
    assert "abstained" in abstained


def test_one_pipeline_renders_without_difference(run):
    del run["pipelines"]["baseline"]
    tree = Tree(render_html(run))
    assert summary_row(tree, "key_facts")[1:] == ["0.75"]
    assert "difference" not in tree.root.text()
    assert len(tree.root.find_all("article")) == 6


def test_nan_and_null_metrics_render_as_dashes(run):
    for pipeline in run["pipelines"].values():
        pipeline["metrics"] = {k: float("nan") for k in pipeline["metrics"]}
        pipeline["by_type"] = {t: {k: float("nan") for k in m} for t, m in pipeline["by_type"].items()}
        for q in pipeline["questions"]:
            if q["scores"]:
                q["scores"] = {k: None for k in q["scores"]}
    tree = Tree(render_html(json.loads(json.dumps(run))))  # NaN survives a JSON round trip
    assert summary_row(tree, "key_facts")[1:] == ["–", "–", "–"]
    assert summary_row(tree, "latency_p95_ms")[1:] == ["–", "–", "–"]
    assert not tree.root.find_all("rect", data_metric="key_facts")


def test_degenerate_runs_render():
    assert "<!DOCTYPE html>" in render_html({})
    assert "<!DOCTYPE html>" in render_html({"pipelines": {"ours": {}}})
    empty = make_run()
    empty["pipelines"]["baseline"]["questions"] = []
    empty["pipelines"]["ours"]["by_type"]["multi"] = {}
    assert "Not asked in this pipeline" in render_html(empty)


def test_long_tailed_latency_uses_a_log_axis_and_extra_pipelines_render(run):
    run["pipelines"]["ours"]["questions"][0]["scores"]["latency_ms"] = 9000.0  # a cold start
    run["pipelines"]["third"] = copy.deepcopy(run["pipelines"]["baseline"])
    tree = Tree(render_html(run))
    assert "log scale" in tree.root.text()
    (strip,) = tree.root.find_all("svg", data_pipeline="ours")
    (axis, *_) = strip.find_all("line")
    x0 = float(axis.attrs["x1"])
    xs = sorted(float(c.attrs["cx"]) - x0 for c in strip.find_all("circle"))
    assert xs[0] / xs[-1] > 0.05, "80 ms vs a 9 s outlier: a linear axis would put it at 80/9000 < 1% of the way"
    assert summary_row(tree, "key_facts")[1:] == ["0.75", "0.50", "0.50", "+0.25"]


def test_errors_only_pipeline_renders(run):
    for q in run["pipelines"]["baseline"]["questions"]:
        q.update(error="Timeout", answer=None, scores=None, sentences=[], retrieved=[])
    tree = Tree(render_html(run))
    assert "no answered questions" in tree.root.find_all("svg", data_pipeline="baseline")[0].text()


# ---------------------------------------------------------------- in a real browser

def large_run(seed: int = 7) -> dict:
    """A plausible 40-question run for the screenshot."""
    rng = random.Random(seed)
    run = make_run()
    kinds = ["single"] * 16 + ["multi"] * 8 + ["conflict"] * 5 + ["unanswerable"] * 6 + ["followup"] * 5
    for name, skill, speed in (("ours", 0.85, 90.0), ("baseline", 0.6, 260.0)):
        questions = []
        for i, kind in enumerate(kinds, start=1):
            answerable = kind != "unanswerable"
            abstain = (rng.random() < 0.8) if not answerable else (rng.random() > 0.93)
            good = rng.random() < skill
            questions.append(question(
                f"q{i:02d}", kind, answerable=answerable, abstained=abstain,
                text="I cannot answer that from the corpus." if abstain else "Russia began air operations on "
                     "Sept. 30 [1]." if good else "The operation began in October [1].",
                key_facts=None if not answerable or abstain else good, f1=None if abstain else rng.uniform(0.1, 0.8),
                cit_recall=None if abstain else (1.0 if rng.random() < skill else 0.5),
                hit=None if not answerable else float(rng.random() < skill + 0.1), supported=good,
                latency=rng.lognormvariate(math.log(speed), 0.45),
                history=[["Who led it?", "Soleimani."]] if kind == "followup" else None,
                passage="When Russia began air operations in Syria on Sept. 30, 2015, the Iranians were "
                        f"already there. {SCRIPT}"))
        run["pipelines"][name].update(questions=questions, metrics=summarise(questions),
                                      by_type={k: summarise([q for q in questions if q["type"] == k]) for k in kinds})
    return run


def summarise(questions: list[dict]) -> dict:
    """Enough of evaluate's metrics, from per-question scores, for a consistent screenshot."""
    def mean(key: str) -> float | None:
        values = [q["scores"][key] for q in questions if q["scores"] and q["scores"][key] is not None]
        return sum(map(float, values)) / len(values) if values else None

    unanswerable = [q for q in questions if q["type"] == "unanswerable"]
    latencies = sorted(q["scores"]["latency_ms"] for q in questions if q["scores"])
    return {**{k: None for k in metrics()}, "questions": len(questions), "errors": 0, "hit_rate": mean("hit"),
            "gold_recall": mean("gold_recall"), "key_facts": mean("key_facts"), "token_f1": mean("token_f1"),
            "citation_recall": mean("citation_recall"), "citation_precision": mean("citation_precision"),
            "abstention_recall": sum(q["answer"]["abstained"] for q in unanswerable) / len(unanswerable)
            if unanswerable else None,
            "latency_median_ms": latencies[len(latencies) // 2], "latency_p95_ms": latencies[int(.95 * len(latencies))]}


@pytest.mark.slow
def test_renders_in_chromium(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    report = tmp_path / "report.html"
    report.write_text(render_html(large_run()), encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors, requests, dialogs = [], [], []
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: r.url.startswith("file:") or requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            height = page.evaluate("document.documentElement.scrollHeight")
            bars = page.locator("rect[data-metric]").count()
            page.click("details.all > summary")  # opens without script: a plain <details>
            assert page.locator("table.questions").is_visible()
            page.screenshot(path=str(ARTIFACTS / "eval-report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == [] and dialogs == [] and requests == []
    assert height > 1000 and bars > 0
