"""A suite of evaluation domains: each a corpus folder with its own index and its sets
(corpus/eval/suite.toml). `qa eval --suite` scores each domain; `qa calibrate --fit` fits the
answerer on all of them (fit.py)."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..config import Settings
from .catalogue import METRICS
from .datasets import EvalSetError
from .report_text import columns
from .stats import mean


@dataclass(frozen=True)
class Domain:
    name: str
    corpus: Path
    dev: list[Path]
    heldout: list[Path]


def load_suite(path: Path | str) -> list[Domain]:
    """The domains of a suite file (TOML: one table per domain with corpus, dev and heldout)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise EvalSetError(f"{path}: not a readable suite file ({exc})") from None
    domains = []
    for name, table in data.items():
        if not isinstance(table, dict) or "corpus" not in table or not table.get("dev"):
            raise EvalSetError(f"{path}: domain {name!r} needs corpus = \"folder\" and dev = [\"set.jsonl\"]")
        corpus = Path(table["corpus"])
        if not corpus.is_dir():
            raise EvalSetError(f"{path}: the corpus folder {corpus} of domain {name!r} does not exist"
                               + ("; build the domain folders with: make domains" if "domains" in corpus.parts else ""))
        heldout = [Path(p) for p in table.get("heldout", [])]
        domains.append(Domain(name, corpus, [Path(p) for p in table["dev"]], heldout))
    if not domains:
        raise EvalSetError(f"{path}: no domains")
    return domains


def domain_settings(base: Settings, domain: Domain) -> Settings:
    """The base settings pointed at the domain's corpus, with an index of its own: the one
    derived from the corpus folder, or a folder per domain inside an index_dir given explicitly."""
    if base.index_dir_derived:
        return base.replace(corpus_dir=domain.corpus)
    return base.replace(corpus_dir=domain.corpus, index_dir=Path(base.index_dir) / "suite" / domain.name)


def evaluate_suite(suite: Path | str, base: Settings, heldout: bool = False,
                   progress: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
    """Our pipeline's metrics on each domain's development (or held-out) sets, by domain."""
    from ..assistant import Assistant
    from .run import evaluate

    results = {}
    for domain in load_suite(suite):
        sets = domain.heldout if heldout else domain.dev
        if not sets:
            continue
        bot = Assistant(domain_settings(base, domain))
        try:
            run = evaluate(sets, ("ours",), assistant=bot, progress=False)
        finally:
            bot.close()
        results[domain.name] = run.runs[0].metrics()
        if progress:
            progress(f"{domain.name}: {results[domain.name]['questions']} questions")
    return results


SUITE_ROWS = ("questions", "hit_rate", "gold_recall", "key_facts", "gold_cited", "wrong_abstention",
              "abstention_recall", "citation_recall", "latency_median_ms")


def suite_table(results: dict[str, dict[str, Any]]) -> str:
    """Metrics as rows, domains as columns, with the mean of the domains."""
    labels = {m.key: m.label for m in METRICS}
    names = list(results)
    header = ["metric"] + names + ["mean"]
    rows = []
    for key in SUITE_ROWS:
        values = [results[n].get(key) for n in names]
        fmt = "{:.0f}" if key in ("questions", "latency_median_ms") else "{:.2f}"
        cells = ["-" if v is None or math.isnan(v) else fmt.format(v) for v in values + [mean(values)]]
        rows.append([labels.get(key, key)] + cells)
    return "\n".join(columns(header, rows))


__all__ = ["Domain", "load_suite", "domain_settings", "evaluate_suite", "suite_table"]
