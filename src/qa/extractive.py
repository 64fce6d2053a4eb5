"""The extractive answerer: picks the sentences of the retrieved passages that answer the
question, attributes each to its source, numbers citations and verifies every one.

No language model: every sentence of an answer is quoted from the passage it cites, so
a citation can be checked by string comparison and cannot be hallucinated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .chunking import split_sentences
from .citations import (
    ABSTAIN_TEXT,
    CONFLICT_REMARK,
    LEADING_CONNECTIVE,
    NOT_ANSWERED_TEXT,
    append_markers,
    attributed,
    quote,
    strip_markers,
    verify_quotes,
)
from .embedding import leading_word_pieces
from .lexicon import CALENDAR, MONTHS, stopwords, terms
from .question_kinds import (
    CAPITALISED,
    asked_for_noun,
    event_terms,
    expected_kind,
    head_noun,
    mentions_head,
    quantities,
    supplies,
    unnamed_in,
)
from .types import Answer, Citation, Passage

# Weights of the sentence score; with abstain_threshold they were chosen by
# `qa calibrate corpus/eval/aleppo.jsonl` (see README, "Abstention").
DENSE_WEIGHT = 0.5
LEXICAL_WEIGHT = 0.5
TYPE_BONUS = 0.08          # the sentence has the kind of thing asked for (a number, a date)
RANK_BONUS = 0.04          # evidence from better-ranked passages, all else equal
DATE_MATCH_BONUS = 0.03    # per matching year and month between the question and the source's date
SELECTION_MARGIN = 0.12    # further sentences must score within this of the best
MAX_EMBEDDED_CANDIDATES = 8   # sentences embedded per question: the costly step of answering
EMBEDDED_SENTENCE_PIECES = 64  # a sentence's dense score reads its first 64 word pieces
CONTEXT_WEIGHT = 0.5       # question words found only in the sentence before
ANSWER_TYPE_MARGIN = 0.12  # one sentence this close to the best must supply what is asked
STANDFIRST_WORDS = 14      # an unpunctuated line this long is a summary, not a headline
COVERAGE_GAIN = 0.2        # share of the question's term weight a further sentence must add

_DENIAL = re.compile(r"\b(denied|denies|deny|dismiss(ed|ing)?|refuted|disputed|contradict\w*)\b", re.I)
_EARLY_PRONOUN = re.compile(r"^(\S+\s+){0,12}?(its|their|they|them|he|his|she|her|this|these|those)\b", re.I)
_BACK_REFERENCE = re.compile(r"^(They|Their|Them|He|His|She|Her|It|Its|This|These|Those|The unit|The report)\b")
_LOWERCASE_OK = {"the", "a", "an", "their", "its", "his", "her", "this", "these", "those", "most", "many",
                 "some", "several", "party", "in", "on", "at", "since", "until", "after", "before", "like",
                 "among", "under", "over", "about", "although", "both", "each", "one", "two", "three",
                 "all", "heavy", "top", "former", "deep", "reports"}
_DATELINE = re.compile(r"^(\w+day,? )?\d{1,2} \w+ \d{4}(, by\b| \d\d[.:]\d\d)|^By [A-Z]")
_COMPLETE = re.compile(r"[.!?][\"'”’)\]]*$")
_INTRODUCES_QUOTE = re.compile(r"\b(said|says|stated|added|wrote|told [\w ]{1,30}|declared|warned)[.:]$")

@dataclass
class _Candidate:
    passage_rank: int
    passage: Passage
    start: int   # sentence offsets in passage.text
    end: int
    text: str
    lexical: float = 0.0
    dense: float = 0.0
    bonus: float = 0.0
    terms: frozenset[str] = frozenset()
    supplies: bool = False   # has the kind of thing the question asks for (a new name, number, date)

    @property
    def score(self) -> float:
        return DENSE_WEIGHT * self.dense + LEXICAL_WEIGHT * self.lexical + self.bonus


def _normalize(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split()).lower()


_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")


def _date_match(question: str, passage: Passage) -> float:
    """A question about 'October 2015' favours sources published then."""
    published = str(passage.metadata.get("date", ""))
    years = _YEAR.findall(question)
    if not published or not years or published[:4] not in years:
        return 0.0
    lower = question.lower()
    month = int(published[5:7]) if len(published) >= 7 and published[5:7].isdigit() else 0
    if not 1 <= month <= 12:
        month = 0
    same_month = month and MONTHS[month - 1].lower() in lower
    return DATE_MATCH_BONUS * (2 if same_month else 1)


def _quotable(sentence: str) -> bool:
    """Headlines, bylines and datelines are not statements to quote; a standfirst (a long
    summary line without a full stop) is."""
    complete = bool(_COMPLETE.search(sentence)) or len(sentence.split()) >= STANDFIRST_WORDS
    return len(sentence) >= 12 and complete and not _DATELINE.match(sentence)


def _sentence_spans(cand: "_Candidate") -> tuple[list[tuple[int, int]], int]:
    """The sentence spans of cand's passage and the index of cand among them."""
    spans = split_sentences(cand.passage.text)
    return spans, next((i for i, s in enumerate(spans) if s[0] == cand.start), 0)


def _terms_around(cand: "_Candidate") -> set[str]:
    """Terms of a sentence and of the sentences either side of it in its passage."""
    spans, index = _sentence_spans(cand)
    window = spans[max(0, index - 1): index + 2]
    return set(terms(" ".join(cand.passage.text[a:b] for a, b in window)))


def _supplying_first(question: str, candidates: list["_Candidate"]) -> list["_Candidate"]:
    """For 'how many / when / who' questions, a close candidate that gives a number, date or
    name leads over a slightly better one that only restates the question."""
    kind = expected_kind(question)
    if kind not in ("entity", "quantity", "date") or not candidates or candidates[0].supplies:
        return candidates
    top = candidates[0].score
    lead = next((c for c in candidates if c.supplies and c.score >= top - ANSWER_TYPE_MARGIN), None)
    if lead is None:
        return candidates
    return [lead] + [c for c in candidates if c is not lead]


def _supplying_neighbour(cand: "_Candidate", kind: str | None, question: str) -> tuple[int, int] | None:
    """The sentence after (or else before) cand in its passage that has what is asked."""
    if kind is None:
        return None
    spans, index = _sentence_spans(cand)
    for i in (index + 1, index - 1):
        if 0 <= i < len(spans) and supplies(kind, cand.passage.text[slice(*spans[i])], question):
            return spans[i]
    return None


class ExtractiveAnswerer:
    """Selects, attributes and cites sentences. `embed` maps texts to unit vectors."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], idf: Callable[[str], float],
                 abstain_threshold: float, max_sentences: int,
                 known: Callable[[str], bool] | None = None) -> None:
        self._embed = embed
        self._idf = idf
        self._known = known
        self.abstain_threshold = abstain_threshold
        self.max_sentences = max_sentences

    # Scoring -----------------------------------------------------------------------
    def candidates(self, question: str, query_vector: np.ndarray, passages: Sequence[Passage]) -> list[_Candidate]:
        """Every distinct sentence of the passages, scored against the question."""
        q_terms = set(terms(question))
        q_weight = sum(self._idf(t) for t in q_terms) or 1.0
        kind = expected_kind(question)
        seen: set[str] = set()
        found: list[_Candidate] = []
        for rank, passage in enumerate(passages):
            previous_terms: set[str] = set()
            for start, end in split_sentences(passage.text):
                text = passage.text[start:end]
                s_terms = set(terms(text))
                context_terms, previous_terms = previous_terms, s_terms
                key = _normalize(text)
                if key in seen or not _quotable(text):
                    continue
                seen.add(key)
                cand = _Candidate(rank, passage, start, end, text)
                cand.terms = frozenset(s_terms & q_terms)
                # Words of the sentence before count half: "Hezbollah ... . Party loyalists say
                # at least 1,600 of its fighters ..." answers a question about Hezbollah.
                from_context = (q_terms & context_terms) - s_terms if _EARLY_PRONOUN.search(text) else set()
                cand.lexical = (sum(self._idf(t) for t in q_terms & s_terms)
                                + CONTEXT_WEIGHT * sum(self._idf(t) for t in from_context)) / q_weight
                cand.supplies = kind is not None and supplies(kind, text, question)
                if cand.supplies:
                    cand.bonus += TYPE_BONUS
                cand.bonus += RANK_BONUS / (1 + rank) + _date_match(question, passage)
                found.append(cand)
        # The model reads ~3,000 word pieces a second on 2 cores, so embedding the sentences is
        # most of an answer's time: embed only the most promising, and only their start. On
        # aleppo.jsonl, 8 candidates cut to 64 word pieces score as 14 whole ones did
        # (key facts 0.78, gold cited 0.95), at about half the word pieces embedded.
        found.sort(key=lambda c: c.lexical + c.bonus, reverse=True)
        shortlist = found[:MAX_EMBEDDED_CANDIDATES]
        if shortlist:
            vectors = self._embed([leading_word_pieces(c.text, EMBEDDED_SENTENCE_PIECES) for c in shortlist])
            for cand, vector in zip(shortlist, vectors):
                cand.dense = float(np.dot(query_vector, vector))
        shortlist.sort(key=lambda c: c.score, reverse=True)
        return shortlist

    def unknown_names(self, question: str) -> list[str]:
        """Names in the question that the corpus never uses, even spelled a little differently."""
        if self._known is None:
            return []
        unknown: list[str] = []
        last_end = -2
        for match in CAPITALISED.finditer(question):
            word = match.group().rstrip("’'")
            if match.start() == 0 or len(word) < 3 or word.lower() in stopwords() or word.lower() in CALENDAR:
                continue
            stems = terms(word)
            if stems and not any(self._known(t) for t in stems):
                if unknown and match.start() == last_end + 1:
                    unknown[-1] += " " + word  # "Javad Zarif" is one name
                else:
                    unknown.append(word)
                last_end = match.start() + len(word)
        return unknown

    def evidence_score(self, candidates: Sequence[_Candidate]) -> float:
        return candidates[0].score if candidates else 0.0

    # Selection -----------------------------------------------------------------------
    def select(self, question: str, candidates: list[_Candidate], single: bool = True) -> tuple[list[_Candidate], bool]:
        """The sentences to answer with, and whether they conflict. A part of a compound
        question gets fewer sentences than a whole one."""
        best = candidates[0]
        floor = max(self.abstain_threshold, best.score - SELECTION_MARGIN)
        chosen = [best]
        covered = set(best.terms)
        q_weight = sum(self._idf(t) for t in terms(question)) or 1.0
        wants_quantity = expected_kind(question) == "quantity"
        limit = self.max_sentences if single else max(1, self.max_sentences - 1)
        for cand in candidates[1:]:
            if len(chosen) >= limit:
                break
            # A sentence that covers question words the chosen ones miss (the second half of a
            # two-part question) may score lower and still belong in the answer.
            gain = sum(self._idf(t) for t in cand.terms - covered) / q_weight
            if cand.score >= floor or (gain >= COVERAGE_GAIN and cand.score >= best.score - 2 * SELECTION_MARGIN):
                chosen.append(cand)
                covered |= cand.terms
        conflict = False
        if wants_quantity:
            # Make sure a differing figure from another sentence is shown, not hidden.
            figures = {frozenset(quantities(c.text)) for c in chosen if quantities(c.text)}
            for cand in candidates[1:]:
                if cand in chosen or not quantities(cand.text):
                    continue
                on_topic = cand.lexical >= 0.75 * best.lexical
                close = cand.score >= best.score - SELECTION_MARGIN
                if on_topic and close and frozenset(quantities(cand.text)) not in figures:
                    if len(chosen) >= self.max_sentences + 1:
                        break
                    chosen.append(cand)
                    figures.add(frozenset(quantities(cand.text)))
            conflict = len(figures) > 1
        denials = [c for c in chosen if _DENIAL.search(c.text)]
        if denials and any(c.passage.doc_id != denials[0].passage.doc_id or not _DENIAL.search(c.text) for c in chosen):
            conflict = True
        chosen = self._with_context(chosen, question)
        return chosen, conflict

    def _with_context(self, chosen: list[_Candidate], question: str) -> list[_Candidate]:
        """A sentence that starts with 'They'/'Its'... comes with the sentence it refers back to;
        one that ends '... said.' comes with the quotation that follows; the best sentence,
        when it lacks what is asked (a name, a reason), comes with the neighbour that has it."""
        kind = expected_kind(question)
        result = list(chosen)
        for position, cand in enumerate(chosen):
            spans, index = _sentence_spans(cand)
            neighbours = []
            if (_BACK_REFERENCE.match(cand.text) or _EARLY_PRONOUN.search(cand.text)) and index > 0:
                neighbours.append(spans[index - 1])
            if _INTRODUCES_QUOTE.search(cand.text) and index + 1 < len(spans):
                neighbours.append(spans[index + 1])
            lacking = kind in ("entity", "reason", "quantity", "date") and not supplies(kind, cand.text, question)
            if position == 0 and lacking:
                neighbour = _supplying_neighbour(cand, kind, question)
                if neighbour is not None:
                    neighbours.append(neighbour)
            for start, end in neighbours:
                if not _quotable(cand.passage.text[start:end]):
                    continue
                if not any(c.passage is cand.passage and c.start == start for c in result):
                    result.append(_Candidate(cand.passage_rank, cand.passage, start, end, cand.passage.text[start:end]))
        return result

    # Composition ----------------------------------------------------------------------
    def _refusal(self, question: str, candidates: list[_Candidate]) -> str | None:
        """Why the candidates do not answer the question, or None when they do."""
        if not candidates or self.evidence_score(candidates) < self.abstain_threshold:
            return ""
        kind = expected_kind(question)
        contenders = [c for c in candidates if c.score >= candidates[0].score - ANSWER_TYPE_MARGIN]
        if (kind in ("entity", "quantity", "date") and not any(c.supplies for c in contenders)
                and _supplying_neighbour(candidates[0], kind, question) is None):
            # The passages talk about the subject but never give the name/number/date asked for.
            return f"The corpus does not give the {_KIND_WORDS[kind]} asked for"
        if kind == "quantity" and not any(mentions_head(question, c.passage.text) for c in contenders if c.supplies):
            # "How many Russian servicemen…" answered by passages that never mention servicemen.
            # (Not for names or places: "Which countries…" is answered by "Saudi Arabia and
            # Turkey", "Which airfield…" by "Hmaymim Airport", without the asked-for word.)
            return f"The corpus does not mention the {head_noun(question)} asked about"
        noun = asked_for_noun(question)
        if kind == "entity" and noun:
            mentioning = [c for c in contenders if re.search(rf"\b{re.escape(noun)}\b", c.text, re.I)]
            if mentioning and all(unnamed_in(question, c.text) for c in mentioning):
                return f"The corpus does not name the {noun}"
        events = event_terms(question)
        if events and not any(events <= _terms_around(c) for c in contenders if c.supplies or kind is None):
            # "When was Soleimani killed?" answered with sentences about his being wounded.
            return "The corpus does not report that event"
        return None

    def answer(self, parts: Sequence[tuple[str, np.ndarray]], passages: Sequence[Passage],
               display_question: str, alternatives: bool = False) -> Answer:
        """Answer a question given as one or more parts (text to score against, its vector)."""
        unknown = self.unknown_names(display_question)
        if unknown:
            return abstention(display_question, f"The corpus does not mention {_join(unknown)}")
        chosen: list[_Candidate] = []
        unanswered: list[str] = []
        refusal = ""
        conflict = False
        for text, vector in parts:
            candidates = self.candidates(text, vector, passages)
            why = self._refusal(text, candidates)
            if why is not None:
                refusal = refusal or why
                unanswered.append(text)
                continue
            picked, part_conflict = self.select(text, _supplying_first(text, candidates), single=len(parts) == 1)
            conflict = conflict or part_conflict
            for cand in picked:
                if not any(c.passage is cand.passage and c.start == cand.start for c in chosen):
                    chosen.append(cand)
        if not chosen:
            return abstention(display_question, refusal)
        if alternatives:
            # "A or B?": evidence for each side was found, so say that they disagree; the
            # side without evidence is not claimed.
            conflict = not unanswered
            unanswered = []
        return compose(display_question, chosen, conflict, unanswered)


_KIND_WORDS = {"entity": "name", "quantity": "number", "date": "date", "place": "place", "reason": "reason"}


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def abstention(question: str, reason: str = "") -> Answer:
    """An answer that states no fact: the corpus does not answer the question (and why, when known)."""
    if reason:
        text = f"{reason}, so it cannot answer {quote(question.strip())}."
    else:
        text = f"{ABSTAIN_TEXT}: {quote(question.strip())}."
    return Answer(question=question, text=text, citations=[], abstained=True)


def _sentence_body(text: str, lead: bool) -> str:
    """The quoted sentence, adapted to follow 'According to X, '."""
    if not lead:
        return text
    text = LEADING_CONNECTIVE.sub("", text)
    first = text.split(" ", 1)[0]
    if (first.lower() in _LOWERCASE_OK or first.lower() in stopwords()) and first[:1].isupper() and not first.isupper():
        text = first.lower() + text[len(first):]
    return text


def compose(question: str, chosen: list[_Candidate], conflict: bool, unanswered: Sequence[str] = ()) -> Answer:
    """Group sentences by passage (best passage first), attribute, number and verify."""
    order: list[Passage] = []
    for cand in chosen:
        if all(p is not cand.passage for p in order):
            order.append(cand.passage)
    # Passages of one document are told together, under one attribution.
    first_seen: dict[str, int] = {}
    for i, passage in enumerate(order):
        first_seen.setdefault(passage.doc_id, i)
    order.sort(key=lambda p: (first_seen[p.doc_id], p.clean_start))
    citations: list[Citation] = []
    parts: list[str] = [CONFLICT_REMARK] if conflict else []
    told: set[str] = set()
    for number, passage in enumerate(order, start=1):
        sentences = sorted((c for c in chosen if c.passage is passage), key=lambda c: c.start)
        for cand in sentences:
            lead = passage.doc_id not in told
            # A footnote mark in the source ("[3]") would read as a citation: it is dropped.
            body = _sentence_body(strip_markers(cand.text), lead)
            if lead:
                body = attributed(body, passage)
                told.add(passage.doc_id)
            parts.append(append_markers(body, [number]))
        citations.append(Citation.from_passage(number, passage, [(c.start, c.end) for c in sentences]))
    for part in unanswered:
        parts.append(f"{NOT_ANSWERED_TEXT} {quote(part.strip().rstrip('?.'))}.")
    answer = Answer(question=question, text=" ".join(parts), citations=citations, abstained=False, conflict=conflict)
    verify_quotes(answer)
    return answer


__all__ = ["ExtractiveAnswerer", "abstention", "compose"]
