"""Answers from the real index of the shipped corpus: citations, abstention, conflicts, follow-ups."""

from __future__ import annotations

import json
import re

import pytest
from conftest import CORPUS, EVAL_SET

from qa.citations import CitationError, parse_markers
from qa.citations import verify_quotes as verify
from qa.eval import OursPipeline, load_eval_set, run_pipeline, summary_table
from qa.types import Answer, Citation

_NORMALIZE = str.maketrans({"\u00a0": " "})


def _norm(text: str) -> str:
    return " ".join(text.translate(_NORMALIZE).split()).lower()


def _assert_every_sentence_cited(answer: Answer) -> None:
    numbers = {c.number for c in answer.citations}
    assert [c.number for c in answer.citations] == list(range(1, len(numbers) + 1))
    for sentence, markers in parse_markers(answer.text):
        if sentence.startswith(("Sources disagree", "The corpus does not")):
            continue
        assert markers, f"uncited sentence: {sentence!r}"
        assert set(markers) <= numbers


def _assert_citations_point_into_files(answer: Answer) -> None:
    for c in answer.citations:
        original = (CORPUS / c.path).read_text(encoding="utf-8")
        span = _norm(original[c.start:c.end])
        # The cleaned passage drops footnote markers like "[1]" but every sentence is in the span.
        for start, end in c.highlights:
            sentence = re.sub(r"\s?\[\d+\]", "", c.text[start:end])
            assert _norm(sentence)[:-1] in re.sub(r"\s?\[\d+\]", "", span), sentence


def test_design_example_cites_the_1600_figure(assistant):
    answer = assistant.ask("How many Hezbollah fighters had died in Syria?")
    assert not answer.abstained
    assert "1,600" in answer.text
    _assert_every_sentence_cited(answer)
    _assert_citations_point_into_files(answer)
    cited = [c for c in answer.citations if "1,600" in c.text]
    assert cited and cited[0].source.startswith("The Guardian")
    assert cited[0].path == "guardian-2016-12-14-iran-hails-victory-in-aleppo.txt"


def test_answer_names_its_source_naturally(assistant):
    answer = assistant.ask("Where are Iraqi militia fighters who died in Syria being buried?")
    assert re.search(r"(According to The Guardian \(14 December 2016\),|The Guardian \(14 December 2016\) wrote:)",
                     answer.text)
    assert "Najaf" in answer.text


def test_every_cited_passage_is_complete_and_verifiable(assistant):
    answer = assistant.ask("Through which airport did Iranian troops reportedly arrive in Syria?")
    assert "Hmaymim" in answer.text
    for c in answer.citations:
        assert isinstance(c, Citation) and c.text and c.end > c.start
        assert c.highlights and all(0 <= s < e <= len(c.text) for s, e in c.highlights)
    verify(answer)  # raises on a marker without a shown passage


def test_unsupported_marker_is_rejected(assistant):
    answer = assistant.ask("Through which airport did Iranian troops reportedly arrive in Syria?")
    answer.text += " Iran also sent tanks [7]."
    with pytest.raises(CitationError):
        verify(answer)


def test_off_topic_question_abstains(assistant):
    answer = assistant.ask("How long should lentil soup simmer?")
    assert answer.abstained
    assert answer.citations == []
    assert answer.text.startswith("The corpus does not say")


def test_conflicting_troop_numbers_cite_both_sides(assistant):
    answer = assistant.ask("How many Iranian troops were massing on Aleppo?")
    assert answer.conflict
    assert answer.text.startswith("Sources disagree")
    assert "thousands" in answer.text and "hundreds" in answer.text
    _assert_every_sentence_cited(answer)


def test_figures_for_different_things_are_not_a_disagreement(assistant):
    # "At least 1,600 killed before the conquest of east Aleppo" and "dozens killed in the
    # attack" count different things: both may be quoted, and no disagreement is claimed.
    answer = assistant.ask("How many Hezbollah fighters had died in Syria?")
    assert not answer.conflict and not answer.text.startswith("Sources disagree")
    assert "1,600" in answer.text
    _assert_every_sentence_cited(answer)


def test_followup_is_resolved_from_history(assistant):
    history = [("Who commands the Quds Force?", "Qassem Soleimani commands the Quds Force.")]
    answer = assistant.ask("Was he wounded?", history=history)
    assert "Soleimani" in answer.standalone_question
    assert not answer.abstained
    assert "wounded" in answer.text
    _assert_every_sentence_cited(answer)


def test_each_part_of_a_compound_follow_up_is_searched_with_the_earlier_question(assistant):
    history = [("Which Quds Force commander was reportedly wounded in Aleppo?", "Qassem Soleimani [1].")]
    query = assistant.understand("Where was he taken, and what did that hospital say?", history,
                                 assistant.settings)
    assert len(query.parts) == 2
    assert all(text.endswith(history[0][0]) for text, _ in query.parts)
    answer = assistant.ask("Where was he taken, and what did that hospital say?", history=history)
    _assert_every_sentence_cited(answer)


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_a_value_error(assistant, question):
    with pytest.raises(ValueError, match="empty"):
        assistant.ask(question)


def test_oversized_question_is_refused_not_cut(assistant):
    limit = assistant.settings.max_question_chars
    with pytest.raises(ValueError, match=f"limit is {limit:,}"):
        assistant.ask("Why? " * limit)


def test_to_dict_is_json_ready(assistant):
    data = assistant.ask("Which news agency reported that Iran was spending billions a year on Assad?").to_dict()
    again = json.loads(json.dumps(data))
    assert again["text"] and again["abstained"] is False
    assert set(again["citations"][0]) >= {"number", "text", "source", "path", "start", "end"}


def test_overrides_apply_to_one_call(assistant):
    narrow = assistant.ask("Where are Iraqi militia fighters who died in Syria being buried?", top_k=1)
    assert len(narrow.citations) <= 1
    assert assistant.settings.top_k == 5


@pytest.mark.parametrize("name, floors", [
    # 70 questions; measured 0.81 / 0.95 / 8 of 12 abstained / precision 0.80 (2 of 58 answerable
    # declined: q28, q33) with the answerer fitted on eight domains and quoting up to 4 sentences
    # (0.74 / 0.95 / 8 of 12 / 0.89 with 3; 0.78 / 0.95 / 9 of 12 / 1.00 with the rules tuned on
    # this set alone).
    ("aleppo.jsonl", {"key_facts": 0.77, "gold_cited": 0.90, "abstention_recall": 0.6, "abstention_precision": 0.78,
                      "hit_rate": 0.95, "citation_recall": 0.95, "citation_precision": 0.95}),
    # Written afterwards by someone who had not seen the answerer; measured 0.85 / 1.00 / 0.80 / 1.00
    # (0.75 / 1.00 / 0.80 / 1.00 with the earlier rules).
    ("aleppo-heldout.jsonl",
     {"key_facts": 0.70, "gold_cited": 0.90, "abstention_recall": 0.6, "abstention_precision": 0.9}),
])
def test_eval_sets_stay_above_their_floors(assistant, name, floors):
    """Regression floors on the shipped evaluation sets (numbers also printed by `qa eval`)."""
    from qa.support import SupportJudge

    items = load_eval_set(EVAL_SET.parent / name)
    assert len(items) >= 25
    run = run_pipeline(OursPipeline(assistant), items, SupportJudge(assistant.vectors))
    metrics = run.metrics()
    print(summary_table({"pipelines": {"ours": run.to_dict()}}))
    assert metrics["errors"] == 0
    for metric, floor in floors.items():
        assert metrics[metric] >= floor, (metric, metrics[metric])


def test_a_name_the_corpus_never_mentions_is_said_so(assistant):
    answer = assistant.ask("What did Javad Zarif say about the fall of Aleppo?")
    assert answer.abstained and "does not mention Javad Zarif" in answer.text


def test_an_anonymous_source_is_not_passed_off_as_a_name(assistant):
    answer = assistant.ask("What is the name of the Russian news agency that reported the cut to 700?")
    assert answer.abstained and "does not name the agency" in answer.text


def test_an_event_the_corpus_does_not_report_is_not_answered_with_a_similar_one(assistant):
    answer = assistant.ask("When was Qassem Soleimani killed?")
    assert answer.abstained


def test_compound_question_answers_each_part_with_citations(assistant):
    answer = assistant.ask("How many fatalities did the IRGC announce after Jan. 31, and "
                           "which province unit did at least a dozen of them come from?")
    assert not answer.abstained
    assert "42" in answer.text and "Khuzestan" in answer.text
    _assert_every_sentence_cited(answer)


@pytest.mark.parametrize("history", [[["only a question"]], 5, [[1, 2]]])
def test_malformed_history_is_a_question_error(assistant, history):
    with pytest.raises(ValueError, match="history"):
        assistant.ask("Was he wounded?", history=history)


def test_three_way_alternatives_do_not_crash(assistant):
    answer = assistant.ask("Was it Iran or Russia or\u00a0Turkey that brokered the deal?")
    assert answer.text


def test_questions_keep_being_answered_while_a_document_is_added(tmp_path):
    """Readers see the old build or the new one, never a closed or half-built one."""
    import threading

    from conftest import copy_corpus, settings_for

    from qa.assistant import Assistant

    settings = settings_for(tmp_path, copy_corpus(tmp_path / "corpus"))
    bot = Assistant(settings)
    bot.ingest()
    errors: list[BaseException] = []
    answers: list[str] = []

    def asker() -> None:
        for _ in range(6):
            try:
                answers.append(bot.ask("Where are Iraqi militia fighters who died in Syria being buried?").text)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
                errors.append(exc)

    threads = [threading.Thread(target=asker) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(3):
        note = f"Note {i}\n\nThe depot logged {i + 40} crates of lentils on Monday.\n"
        bot.add_document(f"note-{i}.txt", note.encode())
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(answers) == 18 and all("Najaf" in a for a in answers)
    assert len(bot.documents()) == 8


def test_a_long_sentence_is_scored_on_its_start_cut_before_a_word():
    from qa.embedding import leading_word_pieces, word_piece_count

    short = "Hezbollah lost 1,600 fighters."
    assert leading_word_pieces(short, 64) == short
    long = ("Quds Force commander, Maj. Gen. Qasem Soleimani, who has been assisting the Baghdad-based "
            "Iraqi central government in their fight against ISIS militants in recent months, was "
            "reportedly pictured addressing regime forces in Syria this week.")
    head = leading_word_pieces(long, 16)
    assert head == "Quds Force commander, Maj. Gen. Qasem"  # not "... Qasem Soleiman", half a name
    assert word_piece_count(head) <= 16 and long.startswith(head)
    longer = long + " " + long  # 98 word pieces
    assert word_piece_count(leading_word_pieces(longer, 64)) <= 64 < word_piece_count(longer)
    assert leading_word_pieces("Soleimani" * 12, 8)  # one word longer than the budget: cut inside it


def test_sentence_vectors_come_back_in_the_order_asked_whatever_their_batches(assistant):
    import numpy as np

    from qa.assistant import SENTENCE_BATCH, _VectorCache

    texts = [("long " * (i % 7 * 9)) + f"sentence {i}." for i in range(2 * SENTENCE_BATCH + 3)]
    together = np.asarray(assistant.embedder.get_text_embedding_batch(texts), dtype=np.float32)
    batched = _VectorCache(assistant.embedder)(texts)
    assert batched.shape == together.shape
    assert np.allclose(batched, together, atol=1e-4)
