"""Question analysis without the index: answer kinds, compound questions, follow-ups."""

from __future__ import annotations

import pytest

from qa.chat import condense
from qa.question_kinds import asked_for_noun, event_terms, expected_kind, head_noun, supplies, unnamed_in
from qa.questions import decompose


@pytest.mark.parametrize("question, kind", [
    ("How many Hezbollah fighters had died in Syria?", "quantity"),
    ("On what date did Russia begin its air operations?", "date"),
    ("When was the cease-fire announced?", "date"),
    ("What was he doing in Aleppo when he was killed?", None),
    ("Where are the fighters buried?", "place"),
    ("Why did Iran withdraw?", "reason"),
    ("Who commands the Quds Force?", "entity"),
    ("Which news agency reported it?", "entity"),
])
def test_expected_kind(question, kind):
    assert expected_kind(question) == kind


def test_supplies_needs_something_new_of_the_asked_kind():
    q = "How many Iranian troops were massing on Aleppo?"
    assert supplies("quantity", "Officials said “thousands” of Iranians would take part.", q)
    assert not supplies("quantity", "On May 6, Iranian accounts shared pictures.", q)  # a date, not an amount
    who = "Who did Khamenei put in charge of the Iranian side?"
    assert supplies("entity", "Soleimani, assigned by Khamenei, travelled to Moscow.", who)
    assert not supplies("entity", "Iran’s Supreme Leader Khamenei met the envoy in Tehran’s palace.",
                        who.replace("Iranian", "Iranian Tehran"))


def test_head_noun_and_anonymous_mentions():
    assert head_noun("How many Russian servicemen were killed?") == "servicemen"
    assert asked_for_noun("What was the name of the Iranian official who said it?") == "official"
    assert unnamed_in("Which Russian news agency reported the cut?", "A Russian news agency reported on Dec 15.")
    assert not unnamed_in("Which news agency reported the cost?", "Bloomberg news agency reported the cost.")


def test_event_terms_of_yes_no_and_when_questions():
    assert event_terms("When and how was Qassem Soleimani killed?") == {"die"}  # killed ~ died
    assert event_terms("Was Qassem Soleimani wounded?") == {"wound"}
    assert event_terms("Who commanded the brigade?") == {"command"}
    assert event_terms("Which aide credited the coalition?") == set()  # "which X" is not an event question


def test_compound_questions_are_split_and_resolved():
    parts = decompose("What was reported about Soleimani in late 2015, and where was he said to be in 2016?").parts
    assert parts == ["What was reported about Soleimani in late 2015", "where was Soleimani said to be in 2016?"]
    sides = decompose("Was Iran building up or drawing down its forces in Syria?")
    assert sides.alternatives
    assert sides.parts == ["Was Iran building up its forces in Syria?", "Was Iran drawing down its forces in Syria?"]
    assert decompose("When and how was he killed?").parts == ["When and how was he killed?"]


def test_followups_resolve_people_and_keep_context():
    history = [("Who commands the Quds Force?",
                "According to The Guardian (14 December 2016), the militias report to the Iranian "
                "Maj Gen Qassem Suleimani [1].")]
    assert condense("Was he wounded?", history).display == "Was Qassem Suleimani wounded?"
    other = condense("Who reported that?", [("How many Iranians died in Syria?", "As many as 1,000 [1].")])
    assert other.followup and "How many Iranians died in Syria?" in other.retrieval
    assert not condense("How many Iranians died in Syria?", history).followup


def test_a_name_spelled_a_little_differently_is_known_and_the_length_filter_loses_no_match():
    import difflib
    import random

    from qa.lexicon import TermStatistics

    vocabulary = ["qassem", "aleppo", "hezbollah", "soleimani", "abcd", "abcdef", "abcdefghi", "abcdefghij",
                  "abcxyzdefgh", "abcdefghijklmn"]
    stats = TermStatistics({t: 1 for t in vocabulary}, chunks=10)
    assert stats.in_corpus("qassim") and stats.in_corpus("hizbollah") and stats.in_corpus("aleppo")
    assert not stats.in_corpus("kubernetes") and not stats.in_corpus("qasx")  # unrelated; too short to guess
    random.seed(7)
    probes = ["abcdefg", "abcdefgh", "abcdefghijk", "abcdefghijkl", "abcdefghijklm", "abcde", "abcdefghijklmnop"]
    probes += ["".join(random.choice("abcdefghij") for _ in range(random.randint(5, 15))) for _ in range(300)]
    for probe in probes:
        same_initial = [t for t in vocabulary if t[0] == probe[0]]
        unfiltered = bool(difflib.get_close_matches(probe, same_initial, n=1, cutoff=0.8))
        assert stats.in_corpus(probe) == (probe in vocabulary or unfiltered), probe


def test_a_follow_up_resolves_across_more_than_one_turn():
    history = [("Who commands the Quds Force?", "Qassem Soleimani commands it [1]."),
               ("Was he wounded?", "Reports say he was seriously wounded in Aleppo [1].")]
    condensed = condense("Where was he treated?", history)
    assert condensed.display == "Where was Qassem Soleimani treated?"
    # The latest turn's own full name wins over an older one.
    history.append(("Who replaced him in Aleppo?", "Hossein Hamadani took over the operation [2]."))
    assert condense("When did he arrive?", history).display == "When did Hossein Hamadani arrive?"


def test_person_names_are_found_without_any_corpus_vocabulary():
    answer = "According to the report, the US President Barack Obama met Angela Merkel in Berlin [1]."
    assert condense("What did he say?", [("Who met Angela Merkel?", answer)]).display == \
        "What did Barack Obama say?"


def test_the_term_points_back_unless_a_quoted_term_follows():
    history = [("What is the bit bucket in hacker slang?", "The universal data sink [1].")]
    condensed = condense("Where does the term actually come from historically?", history)
    assert condensed.followup and "bit bucket" in condensed.retrieval and "bit bucket" in condensed.for_scoring
    assert not condense('Where does the term "bit rot" come from?', history).followup


def test_a_work_is_not_taken_for_a_person_and_each_part_keeps_the_context():
    history = [("What's a back door in the Jargon File's sense?", "A hole in the security of a system [1].")]
    condensed = condense("Who planted the most famous one, and where was his account of it published?", history)
    assert "Jargon File" not in condensed.resolved
    assert condensed.context == "What's a back door in the Jargon File's sense?"
    parts = decompose(condensed.resolved).parts
    assert len(parts) == 2 and parts[0] == "Who planted the most famous one"


def test_a_resolved_person_with_another_reference_left_keeps_the_earlier_question():
    history = [("Who wrote the how-to on adding new commands?", "Johannes Schindelin wrote it [1].")]
    condensed = condense("What does he say every such command must come with?", history)
    assert condensed.resolved == "What does Johannes Schindelin say every such command must come with?"
    assert condensed.context == history[0][0] and history[0][0] in condensed.for_scoring
