"""Conversation: turn a follow-up ("Was he wounded?") into a standalone question, without an LLM."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

History = Sequence[tuple[str, str]]

_PERSON_PRONOUN = re.compile(r"\b(he|him|his|she|her|hers|himself|herself)\b", re.I)
_OTHER_REFERENCE = re.compile(r"\b(they|them|their|theirs|it|its|this|that|these|those|there|then|"
                              r"the same|such|one|ones)\b", re.I)
_ELLIPSIS = re.compile(r"^(and|what about|how about|and what about|what of|also|or)\b", re.I)
_ATTRIBUTION = re.compile(r"^(Sources disagree on this\.\s*)?(According to|Elsewhere,) [^,]+\([^)]*\),\s*")
_MARKERS = re.compile(r"\s*\[\d+\]")
# Capitalised runs of words: candidate names ("Qassem Soleimani", "Quds Force").
_NAME = re.compile(r"\b(?:[A-Z][\w'’.-]+)(?:\s+(?:al-|al\s|bin\s|ibn\s|de\s)?[A-Z][\w'’.-]+)*")
_NOT_PERSON = re.compile(r"\b(Iran|Iranian|Syria|Syrian|Aleppo|Russia|Russian|Force|Forces|Guard|Guards|Corps|"
                         r"Army|Hezbollah|Hizbollah|Front|Brigade|Council|Committee|Agency|News|Post|Reuters|"
                         r"Guardian|Monitor|World|Journal|Observatory|State|States|Ministry|Airport|Lebanon|"
                         r"Iraq|Iraqi|Turkey|Moscow|Tehran|Damascus|Revolution|Islamic|Shia|Sunni|EU|US|UN|"
                         r"IRGC|ISIS|Quds|Qods|Who|What|When|Where|Which|How|Why|The|According|Elsewhere|"
                         r"Sources|Was|Is|Did|Does|Has|Had)\b")
_TITLES = re.compile(r"^(Maj\.?|Gen\.?|General|Major|Brigadier|Commander|President|Dr\.?|Mr\.?|Ayatollah|"
                     r"Supreme Leader|Colonel|Col\.?)\s+")


@dataclass(frozen=True)
class Condensed:
    display: str     # the question as a person would read it standalone
    retrieval: str   # what is searched for (may add context from the last turn)
    followup: bool
    scoring: str = ""  # what answer sentences are scored against (default: display)

    @property
    def for_scoring(self) -> str:
        return self.scoring or self.display


def _clean_answer(answer: str) -> str:
    text = _MARKERS.sub("", answer)
    return _ATTRIBUTION.sub("", text)


def _people(text: str) -> list[str]:
    """Likely person names, full names first ("Qassem Soleimani"), then single surnames."""
    names, singles = [], []
    for match in _NAME.finditer(text):
        name = match.group().strip(" .,'’")
        while _TITLES.match(name):
            name = _TITLES.sub("", name, count=1)
        words = name.split()
        if len(words) >= 2 and not _NOT_PERSON.search(name):
            names.append(name)
        elif len(words) >= 2:
            kept = " ".join(w for w in words if not _NOT_PERSON.fullmatch(w))
            while _TITLES.match(kept):
                kept = _TITLES.sub("", kept, count=1)
            if len(kept.split()) >= 2 and kept in name:
                names.append(kept)
        elif words and match.start() > 0 and not _NOT_PERSON.search(name) and len(name) > 3:
            singles.append(name.rstrip("’'s") if name.endswith(("’s", "'s")) else name)
    return names + singles


def is_followup(question: str) -> bool:
    return bool(_PERSON_PRONOUN.search(question) or _OTHER_REFERENCE.search(question)
                or _ELLIPSIS.match(question.strip()) or len(question.split()) <= 3)


def condense(question: str, history: History | None) -> Condensed:
    """Resolve a follow-up against the last turn; a standalone question passes through."""
    question = question.strip()
    if not history or not is_followup(question):
        return Condensed(question, question, False)
    last_question, last_answer = history[-1]
    display = question
    if _PERSON_PRONOUN.search(question):
        people = _people(_clean_answer(last_answer)) + _people(last_question)
        if people:
            person = people[0]
            display = _PERSON_PRONOUN.sub(lambda m: _replace_person(m.group(), person), question, count=1)
            return Condensed(display, f"{display} {last_question}", True)
    # "Who reported that?", "And in Iraq?": search with the last question as context.
    combined = f"{question} {last_question}"
    return Condensed(f"{question} (following up: {last_question})", combined, True, scoring=combined)


def _replace_person(pronoun: str, person: str) -> str:
    lower = pronoun.lower()
    if lower in ("his", "hers"):
        return f"{person}’s"
    if lower == "her":
        return person  # object or possessive: either reads acceptably with the name
    return person


def history_from_pairs(pairs: Sequence[Sequence[str]] | None) -> list[tuple[str, str]]:
    if not pairs:
        return []
    if not isinstance(pairs, (list, tuple)):
        raise ValueError(f"expected a list of pairs, got {type(pairs).__name__}")
    out = []
    for index, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(isinstance(p, str) for p in pair):
            raise ValueError(f"history[{index}] must be a (question, answer) pair of strings")
        out.append((pair[0], pair[1]))
    return out


__all__ = ["condense", "Condensed", "is_followup", "history_from_pairs"]
