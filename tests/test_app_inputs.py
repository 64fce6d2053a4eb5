"""The web app's own checks on what a client sends, without a server: history bounds and settings."""

from __future__ import annotations

import importlib.util
import math

import pytest
from conftest import REPO

spec = importlib.util.spec_from_file_location("qa_app", REPO / "app.py")
app = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app)


def test_history_keeps_the_last_turns_within_both_limits():
    turns = [[f"q{n:02d}", "a" * 10] for n in range(80)]
    assert app.bounded_history(turns, 50, 10_000) == turns[-50:]
    kept = app.bounded_history(turns, 50, 135)   # 13 characters a turn: 10 turns fit
    assert kept == turns[-10:]
    # The newest turn is kept even when it alone is over the character limit.
    assert app.bounded_history([["q", "x" * 500]], 50, 100) == [["q", "x" * 500]]
    assert app.bounded_history([], 50, 100) == []


@pytest.mark.parametrize("top_k", [math.nan, math.inf, None, "5", 0, 11, 2.5, True, [5]])
def test_a_top_k_that_is_not_a_whole_number_in_range_gets_a_plain_message(top_k):
    with pytest.raises(ValueError) as refused:
        app.checked_options(top_k, "hybrid", "extractive", ["extractive"])
    assert str(refused.value).startswith("Passages retrieved (top-k) must be a whole number from 1 to 10")
    assert "qa.toml" not in str(refused.value)


@pytest.mark.parametrize(("mode", "answerer", "says"), [(None, "extractive", "Retrieval must be one of hybrid"),
                                                         ("fuzzy", "extractive", "Retrieval must be one of"),
                                                         ("hybrid", None, "Answerer must be one of extractive"),
                                                         ("hybrid", "llm", "Answerer must be one of extractive")])
def test_a_mode_or_answerer_that_is_not_offered_gets_a_plain_message(mode, answerer, says):
    with pytest.raises(ValueError, match=says):
        app.checked_options(5, mode, answerer, ["extractive"])


def test_offered_values_pass_through():
    assert app.checked_options(7.0, "dense", "extractive", ["extractive"]) == (7, "dense", "extractive")


def test_an_empty_document_selection_means_every_document():
    assert app.checked_documents([]) is None and app.checked_documents(None) is None
    assert app.checked_documents(["notes.md", "reports/*.pdf"]) == ["notes.md", "reports/*.pdf"]
    assert app.checked_documents("notes.md") == ["notes.md"]
    for bad in (5, [3], {"a": 1}):
        with pytest.raises(ValueError, match="Documents must be a list"):
            app.checked_documents(bad)
