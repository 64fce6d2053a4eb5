"""The examples in README.md and docs/ are the program's real output (scripts/update_examples.py)."""

from __future__ import annotations

import difflib
import importlib.util
import re

import pytest
from conftest import REPO

from qa.evidence import load_model

spec = importlib.util.spec_from_file_location("update_examples", REPO / "scripts" / "update_examples.py")
examples = importlib.util.module_from_spec(spec)
spec.loader.exec_module(examples)

FIX = "run scripts/update_examples.py (or make examples) and commit the result"


def _diff(path, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), str(path), "regenerated",
                                        n=1))


def test_settings_tables_show_the_real_defaults():
    for path in examples.documents():
        text = path.read_text(encoding="utf-8")
        after = examples.render(text, examples=False)
        assert after == text, f"{path.name}: a default differs from qa.config.Settings; {FIX}\n" + _diff(
            path, text, after)


def test_every_setting_is_documented_and_the_readme_shows_the_threshold():
    tabled = examples.tabled_settings((REPO / "docs" / "configuration.md").read_text(encoding="utf-8"))
    assert tabled == examples.setting_names()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"| `abstain_threshold` | {examples.default_text('abstain_threshold')} |" in readme
    assert f"{load_model().answer_threshold:.2f}" in examples.default_text("abstain_threshold")  # the fitted one


def test_table_defaults_are_rewritten_from_settings():
    stale = ("| setting | default | meaning |\n|---|---|---|\n"
             "| `abstain_threshold` | 0.9 | x |\n| `host`, `port` | a, b | y |\n")
    fresh = examples.update_tables(stale)
    assert f"| `abstain_threshold` | (empty: the fitted {load_model().answer_threshold:.2f}) | x |" in fresh
    assert "| `host`, `port` | `127.0.0.1`, 7860 | y |" in fresh


def test_example_blocks_are_filled_from_the_runner():
    text = ('<!-- qa-example: ask "Who?" --json -->\n```text\nold\n```\n\n'
            '<!-- qa-example: python -->\n```python\nprint(1)\n```\n\n```text\nstale\n```\n')
    seen = []
    out = examples.update_examples(text, lambda args: seen.append(args) or "new\n", lambda code: f"ran {code}")
    assert seen == [["ask", "Who?", "--json"]]
    assert '```text\n$ qa ask "Who?" --json\nnew\n```' in out
    assert "```python\nprint(1)\n```\n\n```text\nran print(1)\n```" in out
    with pytest.raises(ValueError, match="no fenced block"):
        examples.update_examples("<!-- qa-example: --help -->\ntext\n", lambda a: "", lambda c: "")


def test_the_readme_opens_with_what_a_newcomer_needs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_screen = readme[:readme.index("## Configuration")]
    for needed in ("make app", "make test", ".venv/bin/qa", "source .venv/bin/activate",
                   '<!-- qa-example: ask "How many Hezbollah fighters had died in Syria?" -->',
                   "qa ingest --corpus ~/my-docs", "--corpus ~/my-docs", "make app CORPUS="):
        assert needed in first_screen, needed
    words = len(re.findall(r"\S+", readme))
    assert words <= 1800, f"the README has {words} words; move reference material to docs/"
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / link).is_file(), link


@pytest.mark.slow
def test_examples_are_the_programs_real_output(shipped):
    stale = []
    with examples.shipped_environment(shipped.index_dir):
        for path in examples.documents():
            text = path.read_text(encoding="utf-8")
            after = examples.render(text)
            if after != text:
                stale.append(_diff(path, text, after))
    assert not stale, f"examples are out of date; {FIX}\n" + "\n".join(stale)
