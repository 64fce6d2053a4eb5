"""The extractive answerer: picks the sentences of the retrieved passages that answer the
question, attributes each to its source, numbers citations and verifies every one.

No language model: every sentence of an answer is quoted from the passage it cites, so
a citation can be checked by string comparison and cannot be hallucinated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
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
    has_attribution,
    quote,
    strip_markers,
    verify_quotes,
    with_columns,
)
from .embedding import leading_word_pieces
from .evidence import EvidenceModel, load_model
from .html_text import CELL_SEPARATOR
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

MAX_EMBEDDED_CANDIDATES = 10  # sentences embedded per question: the costly step of answering
EMBEDDED_SENTENCE_PIECES = 64  # a sentence's dense score reads its first 64 word pieces
MIN_WORDS = 3              # shorter pieces ("Yes.", "See below.") state nothing quotable
STANDFIRST_WORDS = 14      # an unpunctuated line this long is a summary, not a headline
CONTEXT_WEIGHT = 0.5       # question words found only in the sentence before
COVERAGE_GAIN = 0.2        # share of the question's term weight a further sentence must add
FOCUS_TERMS = 2           # the question's rarest words, for the focus feature
FOCUS_CANDIDATES = 3      # ... looked for around this many best sentences
CONTENDER_RATIO = 0.5      # sentences this close (in P) to the best are weighed for the refusal features
# Figures conflict only when each of the two sentences covers this share of the question's term
# weight: both must be about what is asked, not about a part of it.
CONFLICT_COVERAGE = 0.75

_DENIAL = re.compile(r"\b(denied|denies|deny|dismiss(ed|ing)?|refuted|disputed|contradict\w*)\b", re.I)
_EARLY_PRONOUN = re.compile(r"^(\S+\s+){0,12}?(its|their|they|them|he|his|she|her|this|these|those)\b", re.I)
_BACK_REFERENCE = re.compile(r"^(They|Their|Them|He|His|She|Her|It|Its|This|These|Those)\b")
_DATELINE = re.compile(r"^(\w+day,? )?\d{1,2} \w+ \d{4}(, by\b| \d\d[.:]\d\d)|^By [A-Z]")
_COMPLETE = re.compile(r"[.!?][\"'”’)\]]*$")
_INTRODUCES_QUOTE = re.compile(r"\b(said|says|stated|added|wrote|told [\w ]{1,30}|declared|warned)[.:]$")
_WORD = re.compile(r"[A-Za-z0-9]")


@dataclass
class Candidate:
    """One sentence of a retrieved passage, with the features the fitted model reads."""
    passage_rank: int
    passage: Passage
    start: int   # sentence offsets in passage.text
    end: int
    text: str
    terms: frozenset[str] = frozenset()      # question terms the sentence has
    window_terms: frozenset[str] | None = None  # terms of the sentence and its neighbours, once known
    supplies: bool = False   # has the kind of thing the question asks for (a new name, number, date)
    features: dict[str, float] = field(default_factory=dict)
    probability: float = 0.0                 # P(this sentence answers the question)



def _normalize(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split()).lower()


_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")


def _date_match(question: str, passage: Passage) -> float:
    """1 when the question names the year (2 with the month) its source was published in."""
    published = str(passage.metadata.get("date", ""))
    years = _YEAR.findall(question)
    if not published or not years or published[:4] not in years:
        return 0.0
    month = int(published[5:7]) if len(published) >= 7 and published[5:7].isdigit() else 0
    same_month = 1 <= month <= 12 and MONTHS[month - 1].lower() in question.lower()
    return 2.0 if same_month else 1.0


def _quotable(sentence: str) -> bool:
    """A piece of text that can be quoted as a statement: a few words that end like a sentence
    (a headline or a heading does not), a long summary line, or a table row; not a dateline."""
    words = [w for w in sentence.split() if _WORD.search(w)]
    complete = (bool(_COMPLETE.search(sentence)) or len(words) >= STANDFIRST_WORDS
                or CELL_SEPARATOR.strip() in sentence)
    return len(words) >= MIN_WORDS and complete and not _DATELINE.match(sentence)


def _sentence_spans(cand: Candidate) -> tuple[list[tuple[int, int]], int]:
    """The sentence spans of cand's passage and the index of cand among them."""
    spans = split_sentences(cand.passage.text)
    return spans, next((i for i, s in enumerate(spans) if s[0] == cand.start), 0)


def _terms_around(cand: Candidate) -> frozenset[str]:
    """Terms of a sentence and of the sentences either side of it in its passage."""
    if cand.window_terms is None:
        cand.window_terms = frozenset(terms(" ".join(_window_text(cand))))
    return cand.window_terms


def _supplying_neighbour(cand: Candidate, kind: str | None, question: str) -> tuple[int, int] | None:
    """The sentence after (or else before) cand in its passage that has what is asked."""
    if kind is None:
        return None
    spans, index = _sentence_spans(cand)
    for i in (index + 1, index - 1):
        if 0 <= i < len(spans) and supplies(kind, cand.passage.text[slice(*spans[i])], question):
            return spans[i]
    return None


def _window_text(cand: Candidate) -> list[str]:
    """A sentence with the sentences either side of it in its passage."""
    spans, index = _sentence_spans(cand)
    return [cand.passage.text[a:b] for a, b in spans[max(0, index - 1): index + 2]]


def _bigrams(words: Sequence[str]) -> set[tuple[str, str]]:
    return set(zip(words, words[1:]))


def _heading_text(passage: Passage) -> str:
    meta = passage.metadata
    return " ".join(str(meta.get(k, "")) for k in ("title", "section", "table_header"))


def _figures_conflict(a: Candidate, b: Candidate, question: str) -> bool:
    """Two documents give different figures for what the question counts, each in a sentence
    (with its neighbours) that covers what the question asks about: "dozens killed in the
    attack" does not contradict "1,600 killed in Syria" when the question asks about Syria."""
    if a.passage.doc_id == b.passage.doc_id:
        return False
    asked = quantities(question)
    figures_a, figures_b = quantities(a.text) - asked, quantities(b.text) - asked
    if not figures_a or not figures_b or figures_a & figures_b:
        return False
    # Beyond the question's own words, the two must say something in common about what they
    # count ("the number of troops ... amassing" / "their numbers had built"): "1,600 killed
    # before the conquest of east Aleppo" and "dozens killed in the attack" share nothing else,
    # and count different things.
    asked_terms = set(terms(question))
    if not (set(terms(a.text)) - asked_terms) & (set(terms(b.text)) - asked_terms):
        return False
    return all(mentions_head(question, " ".join(_window_text(c))) and
               c.features.get("lexical", 0.0) >= CONFLICT_COVERAGE for c in (a, b))


class ExtractiveAnswerer:
    """Selects, attributes and cites sentences with the fitted evidence model.

    `embed` maps texts to unit vectors; `idf` weighs a term; `known` says whether the corpus
    uses a term. `abstain_threshold` overrides the model's fitted P(answerable) cut-off."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], idf: Callable[[str], float],
                 abstain_threshold: float | None, max_sentences: int,
                 known: Callable[[str], bool] | None = None, model: EvidenceModel | None = None,
                 named: Callable[[set[str]], list[str]] | None = None) -> None:
        self._embed = embed
        self._idf = idf
        self._known = known
        self._named = named   # question terms -> the titles of the documents the question names
        self.model = model or load_model()
        self.abstain_threshold = self.model.answer_threshold if abstain_threshold is None else abstain_threshold
        self.max_sentences = max_sentences

    # Scoring -----------------------------------------------------------------------
    def candidates(self, question: str, query_vector: np.ndarray, passages: Sequence[Passage],
                   shortlist: int = MAX_EMBEDDED_CANDIDATES) -> list[Candidate]:
        """The most promising distinct sentences of the passages, best first, each with its
        features and P(it answers the question)."""
        q_words = terms(question)
        q_terms = set(q_words)
        # Words the corpus never uses cannot be matched: they are left out of the weight a
        # sentence is measured against (their share is a feature of the question instead).
        matchable = {t for t in q_terms if self._known is None or self._known(t)} or q_terms
        q_weight = sum(self._idf(t) for t in matchable) or 1.0
        q_bigrams = _bigrams(q_words)
        kind = expected_kind(question)
        named = set(self._named(q_terms)) if self._named else set()

        def coverage(found: set[str]) -> float:
            return sum(self._idf(t) for t in matchable & found) / q_weight

        seen: set[str] = set()
        found: list[Candidate] = []
        for rank, passage in enumerate(passages):
            spans = split_sentences(passage.text)
            sentence_terms = [terms(passage.text[a:b]) for a, b in spans]
            passage_coverage = coverage(set().union(*map(set, sentence_terms)) if spans else set())
            heading_coverage = coverage(set(terms(_heading_text(passage))))
            date_match = _date_match(question, passage)
            retrieval = passage.metadata.get("retrieval") or {}
            keyword_rank = retrieval.get("keyword_rank")
            in_named = str(passage.metadata.get("title", "")) in named
            for i, (start, end) in enumerate(spans):
                text = passage.text[start:end]
                key = _normalize(text)
                if key in seen or not _quotable(text):
                    continue
                seen.add(key)
                words = sentence_terms[i]
                s_terms = set(words)
                previous = set(sentence_terms[i - 1]) if i else set()
                window = s_terms | previous | (set(sentence_terms[i + 1]) if i + 1 < len(spans) else set())
                # Words of the sentence before count half when this one refers back to it:
                # "Hezbollah ... . Party loyalists say at least 1,600 of its fighters ...".
                from_context = (q_terms & previous) - s_terms if _EARLY_PRONOUN.search(text) else set()
                cand = Candidate(rank, passage, start, end, text, terms=frozenset(s_terms & q_terms),
                                 window_terms=frozenset(window))
                cand.supplies = kind is not None and supplies(kind, text, question)
                cand.features = {
                    "lexical": coverage(s_terms) + CONTEXT_WEIGHT * coverage(from_context),
                    "window": coverage(window),
                    "passage": passage_coverage,
                    "heading": heading_coverage,
                    "rank": 1.0 / (1 + rank),
                    "supplies": float(cand.supplies),
                    "lacks": float(kind is not None and not cand.supplies),
                    "length": math.log1p(len(text.split())),
                    "complete": float(bool(_COMPLETE.search(text))),
                    "bigrams": len(q_bigrams & _bigrams(words)) / len(q_bigrams) if q_bigrams else 0.0,
                    "date_match": date_match,
                    "passage_dense": float(retrieval.get("dense", 0.0)),
                    "keyword": 0.0 if keyword_rank is None else 1.0 / (1 + keyword_rank),
                    "named": float(bool(named) and in_named),
                    "named_other": float(bool(named) and not in_named),
                }
                found.append(cand)
        if not found:
            return []
        best_lexical = max(c.features["lexical"] for c in found)
        for cand in found:
            cand.features["lexical_gap"] = cand.features["lexical"] - best_lexical
        chosen = self.shortlisted(found, shortlist)
        self.embed(chosen, query_vector)
        return self.ranked(chosen)

    def shortlisted(self, found: Sequence[Candidate], size: int = MAX_EMBEDDED_CANDIDATES) -> list[Candidate]:
        """The `size` candidates most likely to answer by their cheap features."""
        cheap = self.model.shortlist.probabilities(self.model.shortlist.matrix([c.features for c in found]))
        return [found[i] for i in np.argsort(-cheap, kind="stable")[:size]]

    def embed(self, candidates: Sequence[Candidate], query_vector: np.ndarray) -> None:
        """Each candidate's embedding similarity to the question. Embedding the sentences is most
        of an answer's time (the model reads ~3,000 word pieces a second on 2 cores): only the
        shortlist, and only each sentence's start."""
        if not candidates:
            return
        vectors = self._embed([leading_word_pieces(c.text, EMBEDDED_SENTENCE_PIECES) for c in candidates])
        for cand, vector in zip(candidates, vectors):
            cand.features["dense"] = float(np.dot(query_vector, vector))

    def ranked(self, candidates: list[Candidate]) -> list[Candidate]:
        """Candidates with P(answers) from all their features, best first."""
        if not candidates:
            return []
        best_dense = max(c.features["dense"] for c in candidates)
        for cand in candidates:
            cand.features["dense_gap"] = cand.features["dense"] - best_dense
        probabilities = self.model.sentence.probabilities(self.model.sentence.matrix([c.features for c in candidates]))
        for cand, p in zip(candidates, probabilities):
            cand.probability = float(p)
        return sorted(candidates, key=lambda c: c.probability, reverse=True)

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

    def question_features(self, question: str, candidates: Sequence[Candidate]) -> dict[str, float]:
        """What the fitted model reads to decide whether the passages answer the question."""
        q_terms = set(terms(question))
        # A share of words, not of their weights: a word the corpus never uses gets the largest
        # weight of all, and one unseen inflection ("massing" where the text says "amassing")
        # would outweigh the rest of the question.
        unknown = sum(1 for t in q_terms if self._known is not None and not self._known(t))
        refusals = self._refusals(question, candidates)
        best = candidates[0] if candidates else None
        # The question's rarest words the corpus knows (what it is specifically about): are
        # they near the best sentences? A near miss shares the topic but not these.
        known = sorted((t for t in q_terms if self._known is None or self._known(t)), key=self._idf, reverse=True)
        focus = set(known[:FOCUS_TERMS])
        near = frozenset().union(*(_terms_around(c) for c in candidates[:FOCUS_CANDIDATES]))
        return {
            # The question names a document, and none of the best sentences comes from it.
            "named_missing": float(any(c.features["named"] or c.features["named_other"] for c in candidates[:1])
                                   and not any(c.features["named"] for c in candidates[:FOCUS_CANDIDATES])),
            "focus_covered": (sum(self._idf(t) for t in focus & near) / sum(self._idf(t) for t in focus)
                              if focus else 1.0),
            "best": best.probability if best else 0.0,
            "best_dense": max((c.features.get("dense", 0.0) for c in candidates), default=0.0),
            "best_lexical": max((c.features["lexical"] for c in candidates), default=0.0),
            "best_window": max((c.features["window"] for c in candidates), default=0.0),
            "passage_coverage": max((c.features["passage"] for c in candidates), default=0.0),
            "passage_dense": max((c.features["passage_dense"] for c in candidates), default=0.0),
            "unknown_share": unknown / len(q_terms) if q_terms else 0.0,
            "unknown_names": float(bool(self.unknown_names(question))),
            **{name: float(name in refusals) for name in ("kind_missing", "head_missing", "event_missing",
                                                         "anonymous")},
        }

    def answerability(self, question: str, candidates: Sequence[Candidate]) -> tuple[float, dict[str, float]]:
        """P(the passages answer the question), and the features it was computed from."""
        features = self.question_features(question, candidates)
        if not candidates:
            return 0.0, features
        return self.model.answerable.probability(features), features

    def _refusals(self, question: str, candidates: Sequence[Candidate]) -> dict[str, str]:
        """Signs that the passages talk about the subject without answering, each with the
        reason an abstention would give. They are features of the fitted model, not verdicts."""
        if not candidates:
            return {}
        found: dict[str, str] = {}
        kind = expected_kind(question)
        top = candidates[0].probability
        contenders = [c for c in candidates if c.probability >= CONTENDER_RATIO * top] or list(candidates[:1])
        if (kind in ("entity", "quantity", "date") and not any(c.supplies for c in contenders)
                and _supplying_neighbour(candidates[0], kind, question) is None):
            found["kind_missing"] = f"The corpus does not give the {_KIND_WORDS[kind]} asked for"
        if kind == "quantity" and not any(mentions_head(question, c.passage.text) for c in contenders if c.supplies):
            found["head_missing"] = f"The corpus does not mention the {head_noun(question)} asked about"
        noun = asked_for_noun(question)
        if kind == "entity" and noun:
            mentioning = [c for c in contenders if re.search(rf"\b{re.escape(noun)}\b", c.text, re.I)]
            if mentioning and all(unnamed_in(question, c.text) for c in mentioning):
                found["anonymous"] = f"The corpus does not name the {noun}"
        events = event_terms(question)
        if events and not any(events <= _terms_around(c) for c in contenders if c.supplies or kind is None):
            found["event_missing"] = "The corpus does not report that event"
        return found

    def _refusal_reason(self, question: str, candidates: Sequence[Candidate], features: dict[str, float]) -> str:
        """The abstention's reason: the sign that weighed most against answering."""
        unknown = self.unknown_names(question)
        reasons = self._refusals(question, candidates)
        if unknown:
            reasons["unknown_names"] = f"The corpus does not mention {_join(unknown)}"
        if not reasons:
            return ""
        pushes = self.model.answerable.contributions(features)
        return reasons[min(reasons, key=lambda name: pushes.get(name, 0.0))]

    # Selection -----------------------------------------------------------------------
    def select(self, question: str, candidates: list[Candidate], single: bool = True) -> tuple[list[Candidate], bool]:
        """The sentences to answer with, and whether they conflict. A part of a compound
        question gets fewer sentences than a whole one."""
        best = candidates[0]
        floor = self.model.selection_ratio * best.probability
        chosen = [best]
        covered = set(best.terms)
        q_weight = sum(self._idf(t) for t in terms(question)) or 1.0
        limit = self.max_sentences if single else max(1, self.max_sentences - 1)
        for cand in candidates[1:]:
            if len(chosen) >= limit:
                break
            # A sentence that covers question words the chosen ones miss (the second half of a
            # two-part question) may score lower and still belong in the answer.
            gain = sum(self._idf(t) for t in cand.terms - covered) / q_weight
            if cand.probability >= floor or (gain >= COVERAGE_GAIN and cand.probability >= floor * floor):
                chosen.append(cand)
                covered |= cand.terms
        conflict = False
        if expected_kind(question) == "quantity":
            # A differing figure for the same thing from another document is shown, not hidden.
            for cand in candidates[1:]:
                if cand in chosen or len(chosen) > self.max_sentences or cand.probability < floor * floor:
                    continue
                if any(_figures_conflict(cand, c, question) for c in chosen):
                    chosen.append(cand)
            conflict = any(_figures_conflict(a, b, question) for i, a in enumerate(chosen) for b in chosen[i + 1:])
        denials = [c for c in chosen if _DENIAL.search(c.text)]
        if any(c.passage.doc_id != d.passage.doc_id and not _DENIAL.search(c.text) for d in denials for c in chosen):
            conflict = True
        return self._with_context(chosen, question), conflict

    def _with_context(self, chosen: list[Candidate], question: str) -> list[Candidate]:
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
                    result.append(Candidate(cand.passage_rank, cand.passage, start, end, cand.passage.text[start:end]))
        return result

    # Answering ----------------------------------------------------------------------
    def answer(self, parts: Sequence[tuple[str, np.ndarray]], passages: Sequence[Passage],
               display_question: str, alternatives: bool = False) -> Answer:
        """Answer a question given as one or more parts (text to score against, its vector)."""
        scored = [(text, self.candidates(text, vector, passages)) for text, vector in parts]
        return self.answer_from(scored, display_question, alternatives)

    def answer_from(self, scored: Sequence[tuple[str, list[Candidate]]], display_question: str,
                    alternatives: bool = False) -> Answer:
        """Answer from each part's scored candidates: abstain, or select, attribute and cite."""
        chosen: list[Candidate] = []
        unanswered: list[str] = []
        refusal = ""
        conflict = False
        for text, candidates in scored:
            p, features = self.answerability(text, candidates)
            if p < self.abstain_threshold:
                refusal = refusal or self._refusal_reason(text, candidates, features)
                unanswered.append(text)
                continue
            picked, part_conflict = self.select(text, candidates, single=len(scored) == 1)
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
    if first.lower() in stopwords() and first[:1].isupper() and not first.isupper():
        text = first.lower() + text[len(first):]
    return text


def compose(question: str, chosen: list[Candidate], conflict: bool, unanswered: Sequence[str] = ()) -> Answer:
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
            # "According to X (date), …" only where there is a publisher or a date to name;
            # otherwise the sentence stands on its own, with its [n].
            lead = passage.doc_id not in told and has_attribution(passage)
            # A footnote mark in the source ("[3]") would read as a citation: it is dropped.
            body = _sentence_body(strip_markers(cand.text), lead)
            if CELL_SEPARATOR in body:
                body = with_columns(body, str(passage.metadata.get("table_header", "")))
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


__all__ = ["ExtractiveAnswerer", "Candidate", "abstention", "compose"]
