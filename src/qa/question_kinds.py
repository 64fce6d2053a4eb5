"""What kind of answer a question asks for, and whether a sentence gives it.

"How many…" wants a number the question does not already contain, "When…" a date,
"Who/Which…" a name, "Why…" a reason. These checks steer the extractive answerer
towards sentences that answer rather than restate the question, and let it abstain
when the passages talk about the subject but never give what is asked.
"""

from __future__ import annotations

import re

from .lexicon import CALENDAR, MONTH_PATTERN, WEEKDAYS, stopwords, terms

_QUANTITY_Q = re.compile(r"\b(how many|how much|number of|how large|how big|how far|how long|how old|"
                         r"what size|toll|count)\b", re.I)
# "When did/was …" asks for a date; "When setting up X, why …" does not (it sets a scene).
_DATE_Q = re.compile(r"^\s*(on |by |since |until )?(when(?!\s+\w+ing\b)|what (day|date|month|year))\b"
                     r"|\b(on|by) what date\b", re.I)
_NUMBER = re.compile(r"\b\d[\d,.]*(?:-\d[\d,.]*)?\b")
_QUANTITY_WORDS = re.compile(r"\b(hundreds|thousands|dozens|millions|dozen|several thousand|scores|one|two|three|"
                             r"four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|fifty|hundred|thousand)\b", re.I)
_DATE = re.compile(rf"\b({MONTH_PATTERN}|{'|'.join(WEEKDAYS)}|19\d\d|20\d\d)\b")
_ENTITY_Q = re.compile(r"^\s*(who|whom|whose|which|name)\b|\b(what|which) (\w+ ){0,2}(name|agency|country|"
                       r"countries|group|unit|city|town|minister|official|general|commander|newspaper|"
                       r"shrine|airport|province|leaders?|officials?)\b", re.I)
_PLACE_Q = re.compile(r"^\s*where\b|\b(in|to|from|through) (which|what) \w+", re.I)
_REASON_Q = re.compile(r"(^\s*|,\s*)why\b|\bwhat (was|were|is|are) the reasons?\b|\bfor what reason\b", re.I)
_REASON = re.compile(r"\b(because|reasons?|due to|as a result|owing to|in order to|so as to|led to|caused|"
                     r"to protect|to defend|keeps?|aim was)\b", re.I)
CAPITALISED = re.compile(r"(?<![\w’'-])[A-Z][\w’'-]+")


_HEAD_NOUN_Q = re.compile(r"\b(?:how many|which|what)\s+((?:[\w’'-]+\s+){0,4})", re.I)
_VERBISH = re.compile(r"^(was|were|is|are|had|has|have|did|does|do|of|in|to|from|that|who|which|been|"
                      r"\w+ed)$", re.I)


def head_noun(question: str) -> str | None:
    """The thing counted or placed: 'How many Russian servicemen were…' -> 'servicemen'."""
    match = _HEAD_NOUN_Q.search(question)
    if not match:
        return None
    words = []
    for word in match.group(1).split():
        if _VERBISH.match(word):
            break
        owner = re.match(r"^([\w-]+)['’]s$", word)
        if owner:  # "Which rebel group's spokesman…" asks for the group
            words.append(owner.group(1).lower())
            break
        words.append(word.strip("?,.").lower())
    if not words or words[-1] in stopwords() or words[-1] in ("many", "much"):
        return None
    return words[-1]


def mentions_head(question: str, text: str) -> bool:
    """True when text mentions what the question counts or picks (or there is no such noun)."""
    noun = head_noun(question)
    if noun is None:
        return True
    wanted = set(terms(noun))
    return not wanted or bool(wanted & set(terms(text)))


def expected_kind(question: str) -> str | None:
    """What an answer must supply: 'quantity', 'date', 'entity', 'place', or None (open)."""
    if _QUANTITY_Q.search(question):
        return "quantity"
    if _DATE_Q.search(question):
        return "date"
    if _PLACE_Q.search(question):
        return "place"
    if _REASON_Q.search(question):
        return "reason"
    if _ENTITY_Q.search(question):
        return "entity"
    return None


_TITLE_WORDS = {"supreme", "leader", "general", "major", "maj", "gen", "brigadier", "colonel", "commander",
                "president", "minister", "chief", "deputy", "secretary", "ayatollah", "dr", "mr", "mrs",
                "prime", "foreign", "defense", "defence", "head", "spokesman", "official", "officials"}
_POSSESSIVE = re.compile(r"[’']s?$")


def _names(text: str) -> set[str]:
    """Lower-cased capitalised words that may name something (not titles, months, stopwords)."""
    found = set()
    for match in CAPITALISED.finditer(text):
        for part in _POSSESSIVE.sub("", match.group()).split("-"):
            lower = part.lower()
            if lower and lower not in CALENDAR and lower not in stopwords() and lower not in _TITLE_WORDS:
                found.add(lower)
    return found


def _asked(question: str) -> set[str]:
    words = set()
    for word in re.findall(r"[\w’']+(?:-[\w’']+)*", question.lower()):
        for part in _POSSESSIVE.sub("", word).split("-"):
            words |= {part, part.rstrip("s")}
    return words


def _already_asked(name: str, asked: set[str]) -> bool:
    # "Iran" is asked when the question says "Iranian", "Russia" when it says "Russian(s)".
    return any(v in asked for v in (name, name.rstrip("s"), name + "n", name + "ns", name + "ian",
                                    name.removesuffix("n"),
                                    name.removesuffix("an"), name.removesuffix("ian")))


def supplies(kind: str, sentence: str, question: str) -> bool:
    """Does the sentence contain something of the asked kind that the question does not already?"""
    if kind == "quantity":
        return bool(quantities(sentence) - quantities(question))
    if kind == "date":
        return bool({m.group().lower() for m in _DATE.finditer(sentence)}
                    - {m.group().lower() for m in _DATE.finditer(question)})
    if kind == "reason":
        return bool(_REASON.search(sentence))
    asked = _asked(question)
    return any(not _already_asked(name, asked) for name in _names(sentence))


_DAY_OF_MONTH = re.compile(rf"\b({MONTH_PATTERN})\.?,?\s+$")


def quantities(text: str) -> set[str]:
    """Numbers and amounts in text; years and days of the month ("May 6") are dates, not amounts."""
    found = {m.group().rstrip(".,").replace(",", "") for m in _NUMBER.finditer(text)
             if not re.fullmatch(r"(19|20)\d\d", m.group()) and not _DAY_OF_MONTH.search(text, 0, m.start())}
    found |= {m.group().lower() for m in _QUANTITY_WORDS.finditer(text)}
    return found


_NAME_OF = re.compile(r"\bname of (?:the |an? )?((?:[\w’'-]+ ){0,3}?)([a-z][\w-]+)\b(?= who| that| which|\?|$)", re.I)
_INDEFINITE = r"\b(?:a|an|one|another|some|unnamed|unidentified|anonymous)\s+(?:[\w’'-]+\s+){0,3}?"


_WHO_WAS_THE = re.compile(r"^\s*who (?:was|were|is|are) the ((?:[\w’'-]+ ){0,3}?)([a-z][\w-]+)\b"
                          r"(?= who| that| which|\?|$)", re.I)
# "Who was the senior envoy Khamenei sent…": the clause follows without "who".
_WHO_WAS_THE_BEFORE_NAME = re.compile(r"^\s*(?i:who (?:was|were|is|are) the )((?:[a-z]+ ){0,2}?)([a-z]+) (?=[A-Z])")


def asked_for_noun(question: str) -> str | None:
    """The kind of thing whose name is asked: 'Which Russian news agency…' -> 'agency',
    'What was the name of the Iranian official who…', 'Who was the official who…' -> 'official'."""
    named = _NAME_OF.search(question) or _WHO_WAS_THE.search(question)
    if named:
        return named.group(2).lower()
    named = _WHO_WAS_THE_BEFORE_NAME.search(question)
    if named and not any(w in stopwords() for w in (named.group(1) + named.group(2)).split()):
        return named.group(2)
    return head_noun(question) if re.match(r"^\s*(which|what)\b", question, re.I) else None


def unnamed_in(question: str, sentence: str) -> bool:
    """The sentence speaks of the asked-for thing only anonymously ('an Iranian official
    said', 'A Russian news agency reported'): it does not give the name asked for."""
    noun = asked_for_noun(question)
    if noun is None:
        return False
    mentions = list(re.finditer(rf"\b{re.escape(noun)}\b", sentence, re.I))
    if not mentions:
        return False
    asked = _asked(question)
    for mention in mentions:
        before = sentence[: mention.start()]
        article = re.search(_INDEFINITE + r"$", before, re.I)
        if not article:
            return False
        # "Ruslan Pukhov, a member of…": a name in apposition does name it.
        lead_in = " ".join(before[: article.start()].split()[-4:])
        if any(not _already_asked(n, asked) for n in _names(lead_in)):
            return False
    return True


# Past forms in a question name the event asked about: "When was Soleimani killed?"
_REPORTING = ("report", "said", "accord", "call", "name", "base", "link", "affili", "describ", "claim",
              "announc", "publish", "cite", "quot", "consid", "expect")
_YES_NO = re.compile(r"^\s*(was|were|is|are|did|does|do|has|have|had)\b", re.I)


_WHO_DID = re.compile(r"^\s*who\s+[a-z]+ed\b", re.I)


def event_terms(question: str) -> set[str]:
    """Stems of the past-tense verbs of a question about an event: a yes/no question, a
    'when' question, or 'who <did> …' ('killed' -> 'die'). An answer must report that event."""
    if not (_YES_NO.match(question) or expected_kind(question) == "date" or _WHO_DID.match(question)):
        return set()
    verbs = [w for w in re.findall(r"[A-Za-z]+", question) if w.islower() and w.endswith("ed") and len(w) > 4]
    return {t for w in verbs for t in terms(w) if not t.startswith(_REPORTING)}
