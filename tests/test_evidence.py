"""The answerer's fitted model: the logistic regression, the model file, and a fit from real questions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.evidence import (
    MODEL_FILE,
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    SHORTLIST_FEATURES,
    EvidenceModel,
    fit_logistic,
    load_model,
    neutral_model,
)


def test_logistic_regression_finds_the_direction_and_strength_of_each_feature():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2000, 3))
    truth = 1.5 * x[:, 0] - 2.0 * x[:, 1]          # the third feature is noise
    y = (rng.random(2000) < 1 / (1 + np.exp(-truth))).astype(float)
    model = fit_logistic(("a", "b", "noise"), x, y, l2=0.1)
    weights = model.weights / model.scale            # back to the raw features' units
    assert weights[0] == pytest.approx(1.5, abs=0.25) and weights[1] == pytest.approx(-2.0, abs=0.25)
    assert abs(weights[2]) < 0.2
    p = model.probabilities(x)
    assert ((p > 0.5) == (truth > 0)).mean() > 0.9
    row = {"a": 1.0, "b": -1.0, "noise": 0.0}
    z = np.log(model.probability(row) / (1 - model.probability(row)))
    assert sum(model.contributions(row).values()) + model.bias == pytest.approx(z)


def test_a_sample_weight_counts_as_that_many_copies_of_the_row():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] + rng.normal(size=200) > 0).astype(float)
    weights = np.where(np.arange(200) < 50, 3.0, 1.0)
    weighted = fit_logistic(("a", "b"), x, y, l2=0.0, sample_weight=weights)
    copies = np.repeat(np.arange(200), weights.astype(int))
    repeated = fit_logistic(("a", "b"), x[copies], y[copies], l2=0.0)
    row = {"a": 0.3, "b": -0.7}
    assert weighted.probability(row) == pytest.approx(repeated.probability(row), abs=1e-6)


def test_the_shipped_model_reads_every_feature_and_round_trips(tmp_path):
    model = load_model()
    assert model.shortlist.features == SHORTLIST_FEATURES
    assert model.sentence.features == SENTENCE_FEATURES
    assert model.answerable.features == QUESTION_FEATURES
    assert 0.0 < model.answer_threshold < 1.0 and 0.0 < model.selection_ratio <= 1.0
    assert set(model.provenance["leave_one_domain_out"]) == set(model.provenance["domains"])
    copy = tmp_path / "model.json"
    model.save(copy)
    again = EvidenceModel.from_dict(json.loads(copy.read_text(encoding="utf-8")))
    assert again.to_dict() == model.to_dict()
    assert json.loads(MODEL_FILE.read_text(encoding="utf-8"))["format"] == 1


def test_an_unreadable_model_says_how_to_refit_it(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(RuntimeError, match="qa calibrate --fit"):
        load_model(str(broken))


def test_the_neutral_model_weighs_nothing():
    model = neutral_model()
    assert model.sentence.probability({f: 3.0 for f in SENTENCE_FEATURES}) == 0.5
