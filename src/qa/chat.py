"""Conversation: turn a follow-up ("Was he wounded?") into a standalone question.

With a language model, llama-index's condense prompt asks the model to rewrite it, and the
rewrite is used only when it is still the user's question. Otherwise (no model, or an
unusable rewrite) rules resolve it: a personal pronoun becomes the person the conversation
is about, and any other reference ("that figure", "there") is searched for together with
the question it follows up. Earlier follow-ups are resolved first, so a reference can reach
back more than one turn.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from .citations import answer_sentences, strip_markers
from .lexicon import terms

if TYPE_CHECKING:
    from .llms import ChatModel

History = Sequence[tuple[str, str]]

# How many earlier turns a reference may reach back to.
MAX_TURNS_BACK = 3

_PERSON_PRONOUN = re.compile(r"\b(he|him|his|she|her|hers|himself|herself)\b", re.I)
_OTHER_REFERENCE = re.compile(r"\b(they|them|their|theirs|it|its|this|that|these|those|there|then|"
                              r"the same|such|one|ones)\b"
                              # "the term", "the word" point back unless a quoted or named one follows
                              r"|\bthe (term|word|phrase|expression)\b(?!\s*(?-i:[\"“'‘A-Z]))", re.I)
_ELLIPSIS = re.compile(r"^(and|what about|how about|and what about|what of|also|or)\b", re.I)
# Capitalised runs of words: candidate names ("Qassem Soleimani", "Quds Force").
_NAME = re.compile(r"\b(?:[A-Z][\w'’.-]+)(?:\s+(?:al-|al\s|bin\s|ibn\s|de\s|van\s|von\s)?[A-Z][\w'’.-]+)*")
# Words that do not name a person: question words, and the nouns that name organisations,
# places and works ("Quds Force", "Supreme Court"). General English, no corpus's vocabulary.
_NOT_PERSON_WORDS = frozenset("""
who what when where which how why the a an according sources was were is are did does do has had have
will would can could should may might in on at of for and or but if so to from by with
force forces guard guards corps army navy front brigade battalion regiment division militia council
committee agency news post press times journal monitor observatory world state states ministry minister's
airport station revolution party union university college school institute foundation association
organisation organization company corporation bank church government department office court parliament
congress senate assembly republic kingdom empire commission authority service services police group
movement museum library hospital street road river lake sea ocean island islands mountain mountains city
province region county district chapter section part figure table appendix act article license licence
file files book books guide manual handbook report paper review dictionary encyclopedia project system
language protocol standard program programme software package
""".split())
# Titles before a name; everything up to the last one is dropped ("Iranian Maj Gen Qassem
# Suleimani" -> "Qassem Suleimani", "US President Barack Obama" -> "Barack Obama").
_TITLES = re.compile(r"\b(Maj|Gen|General|Major|Brigadier|Commander|President|Dr|Mr|Mrs|Ms|Prof|Professor|"
                     r"Ayatollah|Leader|Colonel|Col|Captain|Capt|Lt|Lieutenant|Sergeant|Sgt|Senator|Sen|"
                     r"Governor|Gov|King|Queen|Prince|Princess|Sir|Lord|Lady|Saint|St|Judge|Justice|Rev|"
                     r"Reverend|Father|Sister|Minister|Secretary|Chairman|Chief|Speaker)\b\.?\s+")
_WHO_QUESTION = re.compile(r"^\s*(who|whom|whose|which|name)\b", re.I)

CONDENSE_SYSTEM = "You rewrite follow-up questions."


@dataclass(frozen=True)
class Condensed:
    display: str     # the question as a person would read it standalone
    retrieval: str   # what is searched for (may add context from the last turn)
    followup: bool
    scoring: str = ""  # what answer sentences are scored against (default: display)
    # The follow-up with its people resolved, and the earlier question it still leans on ("" when
    # it stands alone): each part of a compound follow-up is scored with that context.
    own: str = ""
    context: str = ""

    @property
    def for_scoring(self) -> str:
        return self.scoring or self.display

    @property
    def resolved(self) -> str:
        """The follow-up with its people resolved, without the earlier question."""
        return self.own or self.display


def is_followup(question: str) -> bool:
    return bool(_PERSON_PRONOUN.search(question) or _OTHER_REFERENCE.search(question)
                or _ELLIPSIS.match(question.strip()) or len(question.split()) <= 3)


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


def condense(question: str, history: History | None, model: "ChatModel | None" = None,
             max_chars: int = 2000) -> Condensed:
    """A follow-up made standalone: by the model when there is one, by rules otherwise or
    when the model's rewrite is unusable. A standalone question passes through."""
    question = question.strip()
    if not history or not is_followup(question):
        return Condensed(question, question, False)
    if model is not None:
        rewritten = _condense_with_model(model, question, history, max_chars)
        if rewritten is not None:
            return Condensed(rewritten, rewritten, True)
    return condense_by_rules(question, history)


# Rules --------------------------------------------------------------------------------------
def condense_by_rules(question: str, history: History) -> Condensed:
    question = question.strip()
    if not history or not is_followup(question):
        return Condensed(question, question, False)
    turns = _resolved_turns(history)
    last_question = turns[-1][0]
    if _PERSON_PRONOUN.search(question):
        person = _person(turns)
        if person:
            display = _PERSON_PRONOUN.sub(lambda m: _replace_person(m.group(), person), question, count=1)
            if not _OTHER_REFERENCE.search(display):
                return Condensed(display, f"{display} {last_question}", True, own=display)
            # "Who planted the most famous one, and where was his account published?": the
            # person is resolved, and "the most famous one" still needs the last question.
            combined = f"{display} {last_question}"
            return Condensed(display, combined, True, scoring=combined, own=display, context=last_question)
    # "Who reported that?", "And in Iraq?": search with the last question as context.
    combined = f"{question} {last_question}"
    return Condensed(f"{question} (following up: {last_question})", combined, True, scoring=combined,
                     own=question, context=last_question)


def _resolved_turns(history: History) -> list[tuple[str, str]]:
    """The last turns with each question made standalone by the turns before it."""
    recent = list(history)[-MAX_TURNS_BACK:]
    resolved: list[tuple[str, str]] = []
    for question, answer in recent:
        standalone = question.strip()
        if resolved and is_followup(standalone):
            standalone = condense_by_rules(standalone, resolved).resolved
        resolved.append((standalone, answer))
    return resolved


def _claims(answer: str) -> str:
    """An answer's statements without markers, attribution or the answerer's remarks."""
    claims = [claim for _, claim, _ in answer_sentences(answer) if claim]
    return " ".join(claims) if claims else strip_markers(answer)


def _person(turns: list[tuple[str, str]]) -> str | None:
    """The person the conversation is about: a full name from the latest turn that has one
    (the answer to a "who" question first), else a single surname from the latest turn."""
    for question, answer in reversed(turns):
        asked, _ = _names(question)
        full, _ = _names(_claims(answer))
        if _WHO_QUESTION.match(question):
            new = [n for n in full if n not in asked]
            if new:
                return new[0]
        found = asked + full
        if found:
            return found[0]
    question, answer = turns[-1]
    singles = _names(_claims(answer))[1] + _names(question)[1]
    return singles[0] if singles else None


_PARTICLES = frozenset({"al-", "al", "bin", "ibn", "de", "van", "von"})
_POSSESSIVE = re.compile(r"[’']s$")


def _is_name_word(word: str) -> bool:
    bare = word.strip(".,")
    return (len(bare) > 1 and bare.lower() not in _NOT_PERSON_WORDS and not bare.isupper()
            and not _POSSESSIVE.search(bare))


def _names(text: str) -> tuple[list[str], list[str]]:
    """Likely person names in text: (full names, single surnames), in order of appearance."""
    full, singles = [], []
    for match in _NAME.finditer(text):
        name = _POSSESSIVE.sub("", match.group().strip(" .,'’"))
        titles = list(_TITLES.finditer(name))
        if titles:
            name = name[titles[-1].end():]
        words = name.split()
        if len(words) >= 2:
            if all(_is_name_word(w) for w in words if w.lower() not in _PARTICLES):
                full.append(name)
        elif words and match.start() > 0 and len(name) > 3 and _is_name_word(name):
            singles.append(name)
    return full, singles


def _replace_person(pronoun: str, person: str) -> str:
    lower = pronoun.lower()
    if lower in ("his", "hers"):
        return f"{person}’s"
    return person  # "her" is object or possessive: either reads acceptably with the name


# With a language model ------------------------------------------------------------------------
def condense_prompt(question: str, history: History) -> str:
    """llama-index's condense-plus-context prompt, filled in."""
    from llama_index.core.chat_engine.condense_plus_context import DEFAULT_CONDENSE_PROMPT_TEMPLATE

    turns = "\n".join(f"user: {q}\nassistant: {strip_markers(a)}" for q, a in history[-MAX_TURNS_BACK:])
    return DEFAULT_CONDENSE_PROMPT_TEMPLATE.format(chat_history=turns, question=question).strip()


def _condense_with_model(model: "ChatModel", question: str, history: History, max_chars: int) -> str | None:
    from .llms import LLMError

    try:
        reply = model.complete(CONDENSE_SYSTEM, condense_prompt(question, history), max_tokens=80)
    except LLMError as exc:
        logging.getLogger("qa").warning("follow-up condensed by rules: %s", exc)
        return None
    return clean_condensed(reply, question, max_chars, history)


def clean_condensed(reply: str, question: str, max_chars: int, history: History = ()) -> str | None:
    """The standalone question from a condense reply, or None when it is not usable: empty,
    far longer than a question, not a question ("Chat History:"), or a different question.

    A small model often echoes a heading of the prompt or asks something of its own ("What
    is the purpose of the following text?"), which would then be answered, or abstained on,
    in place of the user's question. So the rewrite must keep at least half of the
    follow-up's own content words and bring in at least one word from the conversation."""
    lines = [line.strip().strip('"“”') for line in reply.strip().splitlines() if line.strip()]
    if not lines:
        return None
    text = re.sub(r"^(standalone question|question)\s*:\s*", "", lines[0], flags=re.I).strip()
    if not text or text.endswith(":") or len(text) > min(max_chars, 4 * len(question) + 200):
        return None
    rewritten, own = set(terms(text)), set(terms(question))
    # One content word is often the very referent the rewrite replaces ("that report").
    if len(own) > 1 and len(own & rewritten) < len(own) / 2:
        return None
    earlier = set(terms(" ".join(f"{q} {a}" for q, a in history))) - own
    if history and not rewritten & earlier:
        return None
    return text


__all__ = ["condense", "condense_by_rules", "Condensed", "is_followup", "history_from_pairs",
           "condense_prompt", "clean_condensed", "CONDENSE_SYSTEM"]
