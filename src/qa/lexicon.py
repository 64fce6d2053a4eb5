"""Words: content terms (stemmed, stopwords out, near-synonyms folded), term statistics of a
corpus, and the calendar. Used by indexing, retrieval, answering and the support judge alike,
so a word is read the same way everywhere."""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

_TOKEN = re.compile(r"\w\w+|\d", re.UNICODE)
# Curly quotes and dashes read as plain ones; a table's cell separator reads as a space.
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "\u00a0": " ", "–": "-", "—": "-", "|": " "})
# Question words carry no topic: "How many ... did ..." should not match sentences with "many".
# A question names a document when it uses this share of the title's words, by their weight.
NAMED_TITLE_SHARE = 0.5
_QUESTION_WORDS = {"many", "much", "what", "who", "whom", "whose", "when", "where", "which", "why",
                   "how", "did", "does", "do", "say", "said", "tell", "according", "corpus"}

# The calendar: one list for dates in questions, in sources and in attributions.
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CALENDAR = frozenset(w.lower() for w in MONTHS + MONTH_ABBREVIATIONS + WEEKDAYS)
MONTH_PATTERN = "|".join(MONTHS + MONTH_ABBREVIATIONS)


def human_date(date: str) -> str:
    """'2016-12-14' -> '14 December 2016'; '2016-02' -> 'February 2016'."""
    match = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", date or "")
    if not match or (match.group(2) and not 1 <= int(match.group(2)) <= 12):
        return date or ""
    year, month, day = match.groups()
    if not month:
        return year
    name = MONTHS[int(month) - 1]
    return f"{int(day)} {name} {year}" if day else f"{name} {year}"


def normalize(text: str) -> str:
    """Case-, quote-, dash-, whitespace- and table-cell-insensitive form used for substring matching."""
    return " ".join(text.translate(_QUOTES).lower().split())


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """NLTK's English stopwords as shipped inside llama-index-core (no download), plus bm25s's."""
    from importlib.util import find_spec

    from bm25s.stopwords import STOPWORDS_EN

    # Found, not imported: importing llama_index.core takes about a second.
    core = find_spec("llama_index.core")
    folder = Path(core.origin).parent if core and core.origin else Path()
    shipped = folder / "_static" / "nltk_cache" / "corpora" / "stopwords" / "english"
    words = set(shipped.read_text(encoding="utf-8").split()) if shipped.is_file() else set()
    return frozenset(words | set(STOPWORDS_EN) | _QUESTION_WORDS)


# Stems that mean the same for matching a question to a sentence ("died" / "killed"), and the
# irregular past forms the Snowball stemmer leaves alone ("broke" / "break"). General English
# only: vocabulary of one corpus does not belong here.
_SAME_MEANING = {stem: group[0] for group in (
    ("die", "kill", "dead", "death", "fatal", "casualti"),
    ("wound", "injur"),
    ("break", "broke", "broken"), ("begin", "began", "begun"), ("take", "took", "taken"),
    ("lead", "led"), ("fight", "fought"), ("send", "sent"), ("meet", "met"), ("tell", "told"),
    ("hold", "held"), ("win", "won"), ("lose", "lost"), ("leav", "left"), ("fall", "fell", "fallen"),
    ("come", "came"), ("give", "gave", "given"), ("make", "made"), ("go", "went", "gone"),
    ("see", "saw", "seen"), ("think", "thought"), ("bring", "brought"), ("know", "knew", "known"),
    ("keep", "kept"), ("pay", "paid"), ("build", "built"), ("becom", "becam"), ("seek", "sought"),
    ("strike", "struck"), ("shoot", "shot"), ("buy", "bought"), ("spend", "spent"), ("rise", "rose", "risen"),
) for stem in group}


def terms(text: str) -> list[str]:
    """Stemmed content words (stopwords and question words removed), near-synonyms folded."""
    stop = stopwords()
    words = [w for w in _TOKEN.findall(text.lower()) if w not in stop]
    return [_SAME_MEANING.get(stem, stem) for stem in _stemmer().stemWords(words)]


def document_frequencies(texts: Iterable[str]) -> dict[str, Any]:
    """Chunk counts per term, saved beside each build for the answerer's term weights."""
    counts: dict[str, int] = {}
    chunks = 0
    for text in texts:
        chunks += 1
        for term in set(terms(text)):
            counts[term] = counts.get(term, 0) + 1
    return {"chunks": chunks, "document_frequency": counts}


class TermStatistics:
    """Chunk frequencies of terms, used by the answerer to weigh question words and to spot
    names the corpus never uses."""

    def __init__(self, document_frequency: dict[str, int], chunks: int, titles: Iterable[str] = ()) -> None:
        self.chunks = chunks
        self._idf = {t: math.log((chunks + 1) / (c + 0.5)) for t, c in document_frequency.items()}
        self._by_initial_and_length: dict[tuple[str, int], list[str]] | None = None
        # Documents' names: a question may name a document by words its text never uses
        # (a speech names no speaker; the file name does).
        self.titles = sorted(set(titles))
        self.title_terms = {title: frozenset(terms(title)) for title in self.titles}
        self._title_vocabulary = frozenset().union(*self.title_terms.values()) if self.titles else frozenset()

    @classmethod
    def load(cls, path: Path, chunks: int, titles: Iterable[str] = ()) -> "TermStatistics":
        if not path.is_file():
            return cls({}, chunks, titles)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["document_frequency"], data["chunks"], titles)

    @classmethod
    def of(cls, texts: list[str]) -> "TermStatistics":
        counted = document_frequencies(texts)
        return cls(counted["document_frequency"], counted["chunks"])

    def idf(self, term: str) -> float:
        """Rarer terms weigh more; a term the corpus never uses weighs most of all."""
        return self._idf.get(term, math.log(self.chunks + 2) + 1.0)

    def in_corpus(self, term: str) -> bool:
        """True for a term the corpus uses (in its text or its documents' names), or one within
        a letter or two of one (Qassim/Qassem)."""
        if term in self._idf or term in self._title_vocabulary:
            return True
        if len(term) < 5:
            return False
        import difflib

        # difflib's ratio is 2·matches / (len(a) + len(b)), and matches <= the shorter length,
        # so a ratio of 0.8 needs lengths within 2/3 and 3/2 of each other: only those terms
        # are compared. At 100k chunks the vocabulary has hundreds of thousands of terms.
        groups = self._vocabulary_by_initial_and_length()
        size = len(term)
        near = [t for length in range(math.ceil(2 * size / 3), 3 * size // 2 + 1)
                for t in groups.get((term[0], length), ())]
        return bool(difflib.get_close_matches(term, near, n=1, cutoff=0.8))

    def named_titles(self, question_terms: set[str]) -> list[str]:
        """The documents a question names: titles whose distinctive words (weighted by how rare
        they are in the text) the question mostly uses. Best match first."""
        scored = []
        for title, words in self.title_terms.items():
            if not words:
                continue
            weight = sum(self.idf(t) for t in words)
            share = sum(self.idf(t) for t in words & question_terms) / weight
            if share >= NAMED_TITLE_SHARE:
                scored.append((share, title))
        return [title for _, title in sorted(scored, reverse=True)]

    def _vocabulary_by_initial_and_length(self) -> dict[tuple[str, int], list[str]]:
        # Built on first use and kept here: a method-level lru_cache would hold a reference
        # to a swapped-out retriever, and so its Chroma client, until evicted.
        if self._by_initial_and_length is None:
            groups: dict[tuple[str, int], list[str]] = {}
            for term in self._idf:
                groups.setdefault((term[:1], len(term)), []).append(term)
            self._by_initial_and_length = groups
        return self._by_initial_and_length


__all__ = ["normalize", "terms", "stopwords", "document_frequencies", "TermStatistics", "human_date", "MONTHS",
           "MONTH_ABBREVIATIONS", "WEEKDAYS", "CALENDAR", "MONTH_PATTERN"]
