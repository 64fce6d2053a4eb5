"""The offline support judge: hand-picked cases, and its accuracy on the shipped labelled set."""

from __future__ import annotations

import pytest

from qa.citations import strip_attribution
from qa.support import SupportJudge, load_labels

PASSAGE = ("According to Kowsari, of the “Iranian defenders of the shrine, 13 were martyred, 18 were wounded and "
           "five to six were taken captive.” There were reportedly dozens of fighters from Lebanese Hezbollah and "
           "Afghan Shiite groups killed in the battle.")


@pytest.fixture(scope="module")
def judge(assistant):
    return SupportJudge(assistant.vectors)


@pytest.mark.parametrize("claim, supported", [
    ("Kowsari said that of the Iranian defenders of the shrine, 13 were martyred and 18 were wounded.", True),
    ("There were reportedly dozens of fighters from Lebanese Hezbollah killed in the battle.", True),
    ("Kowsari said 18 Iranian defenders of the shrine were martyred and 13 were wounded.", False),  # swapped figures
    ("Kowsari said 14 Iranian defenders of the shrine were martyred.", False),                      # changed figure
    ("Velayati said 13 Iranian defenders of the shrine were martyred.", False),                     # another speaker
    ("Dozens of fighters from Lebanese Hezbollah were killed in the battle.", False),               # hedge dropped
    ("No Iranian defenders of the shrine were taken captive.", False),                              # negated
    ("The recipe needs two eggs and a cup of flour.", False),                                       # unrelated
])
def test_hand_picked_claims(judge, claim, supported):
    assert judge(claim, [PASSAGE]) is supported, judge.signals(claim, [PASSAGE])


def test_joint_support_needs_every_part(judge):
    other = "Ismail Kowsari is a member of the Iranian parliament’s National Security and Foreign Policy Commission."
    claim = "Ismail Kowsari is a member of the Iranian parliament’s National Security and Foreign Policy Commission."
    assert judge(claim, [PASSAGE, other]) and not judge(claim, [PASSAGE])
    assert not judge(claim, [])


def test_labelled_set_is_balanced_and_its_passages_are_corpus_text():
    from conftest import CORPUS

    pairs = load_labels(CORPUS / "eval" / "support-labels.jsonl")
    assert len(pairs) >= 100 and {p.label for p in pairs} == {True, False}
    for pair in pairs:  # every passage is real corpus text
        assert any(pair.passage in p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt")), pair.id


def test_judge_accuracy_floor(judge):
    """147 claim/passage pairs written to be hard; the shipped settings were chosen on them
    (`qa calibrate --judge`): accuracy 0.82, leave-one-out 0.80."""
    from conftest import CORPUS

    pairs = load_labels(CORPUS / "eval" / "support-labels.jsonl")
    verdicts = [judge(strip_attribution(p.claim), [p.passage]) == p.label for p in pairs]
    accuracy = sum(verdicts) / len(verdicts)
    assert accuracy >= 0.80, accuracy
    false_supported = sum(1 for p, ok in zip(pairs, verdicts) if not ok and not p.label)
    assert false_supported / sum(not p.label for p in pairs) <= 0.2


@pytest.mark.parametrize("claim, passage", [
    ("Iran had sent 6,000 troops to Aleppo.",
     "Tehran officials denied reports that Iran had sent 6,000 troops to Aleppo in October."),
    ("Iran had sent 6,000 troops to Aleppo.",
     "Unconfirmed reports say Iran may have sent 6,000 troops to Aleppo in October, and more could follow."),
    ("1.", "The rebels held 1 district."),
    ("are:", "The reasons are: distrust and rivalry."),
])
def test_a_quotation_out_of_context_or_with_no_content_is_not_support(judge, claim, passage):
    assert not judge(claim, [passage]), judge.signals(claim, [passage])
