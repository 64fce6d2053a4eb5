"""The one [n] grammar of answers: parse, append, strip, renumber and verify citation
markers, and tell an answer's claims from its attribution and from the answerer's remarks.

Every other module (answerers, evaluation, chat, the web app) goes through these functions,
so an answer is read the same way wherever it is read.
"""

from __future__ import annotations

import re
from typing import Iterator, Sequence

from .chunking import split_sentences
from .lexicon import human_date
from .types import Answer, Passage

# A marker as written in answers: " [3]". MARKER_SPAN is the same with the space before it.
MARKER = re.compile(r"\[(\d+)\]")
_MARKER_SPAN = re.compile(r"\s*\[(\d+)\]")
# A run of markers that ends a cited sentence: "… troops [1]." or "… “hundreds.” [1][2]".
_MARKER_RUN = re.compile(r"(?:\s*\[\d+\])+[.!?]?(?=\s|$)")
# Forms language models write instead: "[1, 2]", "[1 and 2]", "[Source 1]", "[passage 2]".
_CITATION_FORMS = re.compile(r"\[(?:(?:source|passage)\s*)?(\d+(?:\s*(?:,|and)\s*\d+)+|(?:source|passage)\s*\d+)\]",
                             re.I)

# The answerer's own remarks: they state nothing from the corpus and are never judged as claims.
CONFLICT_REMARK = "Sources disagree on this."
ABSTAIN_TEXT = "The corpus does not say. None of the indexed passages answers this question"
NOT_ANSWERED_TEXT = "The corpus does not answer the rest:"
# "The chosen document(s) do(es) not …": an abstention of a question asked about some documents only.
_REMARK = re.compile(r"^(Sources disagree\b|The (corpus|chosen document|\d+ chosen documents) do(es)? not\b|"
                     r"The language model\b)")
# Attribution comes from metadata, not from the passage: "According to X (date), " / "X wrote: ",
# and a quoted table row's column names: "(columns: A | B | C) ".
_ATTRIBUTION = re.compile(r"^(According to [^,]{1,120}, |[^:“\"]{1,120} wrote: |\(columns: [^()]{1,300}\) )")
# Connectives an answer may drop when it quotes a sentence on its own ("But their numbers…").
LEADING_CONNECTIVE = re.compile(r"^(But|And|However|Yet|So|Meanwhile|Also),?\s+")
# Square brackets in the asker's words, quoted back in an answer, become full-width ones: a
# "[1]" in a question would otherwise read as a citation marker.
_QUOTED_BRACKETS = str.maketrans({"[": "［", "]": "］"})


class CitationError(AssertionError):
    """An answer cites something it must not: a number not shown, or text not in the passage."""


def attribution(passage: Passage) -> str:
    """'The Guardian (14 December 2016)' for a passage's source."""
    meta = passage.metadata
    who = meta.get("publisher") or meta.get("title") or passage.doc_id
    when = human_date(str(meta.get("date", "")))
    return f"{who} ({when})" if when else str(who)


def has_attribution(passage: Passage) -> bool:
    """A passage whose source has a publisher or a date to name in "According to X (date)"."""
    return bool(passage.metadata.get("publisher") or passage.metadata.get("date"))


def attributed(body: str, passage: Passage) -> str:
    """A quoted sentence with its source: "According to X, their numbers…" reads well;
    "According to X, Raised by…" or "According to X, According to…" does not, so a sentence
    that does not start in lower case is quoted after "X wrote:"."""
    if body[:1].islower():
        return f"According to {attribution(passage)}, {body}"
    return f"{attribution(passage)} wrote: {body}"


def numbers_in(text: str) -> list[int]:
    """Every marker's number, in order of appearance (repeats kept)."""
    return [int(n) for n in MARKER.findall(text)]


def markers(text: str) -> Iterator[re.Match[str]]:
    """The markers of text with the space before each, for rendering them (group 1 is n)."""
    return _MARKER_SPAN.finditer(text)


def strip_markers(text: str) -> str:
    return _MARKER_SPAN.sub("", text)


def normalize_citations(text: str) -> str:
    """'[1, 2]', '[Source 1]', '[passage 2]' -> '[1][2]', the one form the parser reads."""
    return _CITATION_FORMS.sub(lambda m: "".join(f"[{n}]" for n in re.findall(r"\d+", m.group(1))), text)


def append_markers(sentence: str, numbers: Sequence[int]) -> str:
    """'… troops.' -> '… troops [1].'; '… advisers.”' -> '… advisers.” [1]'; no end -> '… [1].'"""
    sentence = sentence.rstrip()
    if not numbers:
        return sentence
    marks = "".join(f" [{n}]" for n in numbers)
    if re.search(r"[.!?]$", sentence):
        return sentence[:-1] + marks + sentence[-1]
    if re.search(r"[.!?][\"”’)]+$", sentence):
        return sentence + marks
    return sentence + marks + "."


def renumber(text: str, mapping: dict[int, int]) -> str:
    """Rewrite every [n] as [mapping[n]]."""
    return MARKER.sub(lambda m: f"[{mapping[int(m.group(1))]}]", text)


def quote(words: str) -> str:
    """The asker's words quoted back in an answer, with brackets that cannot read as markers."""
    return f"“{words.translate(_QUOTED_BRACKETS)}”"


def parse_markers(text: str) -> list[tuple[str, list[int]]]:
    """Split an answer into (sentence, [citation numbers]) pairs, markers removed.

    A run of markers ends a cited sentence ("… troops [1]." or "… “hundreds.” [1]"); text
    between runs is split with the chunker's sentence splitter, so "Maj. Gen." or a bracket
    inside a quotation does not end a sentence. A marker inside a sentence ("troops [1], and
    jets [2].") counts for that sentence too, as in ALCE."""
    text = normalize_citations(text)
    pieces: list[tuple[str, list[int]]] = []
    position = 0
    for run in _MARKER_RUN.finditer(text):
        numbers = numbers_in(run.group())
        segment = text[position:run.start()] + run.group()[-1:].strip(" ]")
        sentences = [segment[a:b] for a, b in split_sentences(segment)] or [""]
        pieces += [(s, []) for s in sentences[:-1]] + [(sentences[-1].strip(), numbers)]
        position = run.end()
    rest = text[position:]
    pieces += [(rest[a:b], []) for a, b in split_sentences(rest)]
    out = []
    for sentence, numbers in pieces:
        inline = numbers_in(sentence)
        sentence = strip_markers(sentence).strip()
        numbers = list(dict.fromkeys(inline + numbers))
        if sentence or numbers:
            out.append((sentence, numbers))
    return out


def strip_attribution(sentence: str) -> str:
    """'According to X (date), their numbers…' -> 'their numbers…'; 'X wrote: …' -> '…';
    '(columns: A | B) 1 | 2' -> '1 | 2'."""
    previous = None
    while previous != sentence:
        previous, sentence = sentence, _ATTRIBUTION.sub("", sentence, count=1)
    return sentence.strip()


def with_columns(row: str, header: str) -> str:
    """A quoted table row with the names of its columns, so that its values say what they are."""
    return f"(columns: {header}) {row}" if header and header not in row else row


def is_remark(sentence: str) -> bool:
    """The answerer's own words ("Sources disagree on this.", "The corpus does not …")."""
    return bool(_REMARK.match(sentence))


def answer_sentences(text: str) -> list[tuple[str, str | None, list[int]]]:
    """Every sentence of an answer as (sentence, claim, citation numbers). The claim is the
    sentence without its attribution ("According to X, ", "X wrote: "), which comes from
    metadata, not the passage; it is None for the answerer's own remarks ("Sources disagree
    on this.", "The corpus does not answer the rest: …"), which state nothing from the corpus."""
    found = []
    quoting_question = False   # the unanswered rest of the question is quoted to the end
    for sentence, numbers in parse_markers(text):
        quoting_question = quoting_question or sentence.startswith(NOT_ANSWERED_TEXT)
        remark = quoting_question or (not numbers and is_remark(sentence))
        found.append((sentence, None if remark else (strip_attribution(sentence) or None), numbers))
    return found


def statements(text: str) -> list[tuple[str, list[int]]]:
    """The claims of an answer with their citation numbers (see answer_sentences)."""
    return [(claim, numbers) for _, claim, numbers in answer_sentences(text) if claim]


def claims_text(text: str) -> str:
    """What an answer states, markers, attribution and remarks removed."""
    return " ".join(claim for claim, _ in statements(text))


def verify_markers(answer: Answer) -> None:
    """Every marker names a citation that is shown, and every citation shown is cited."""
    numbers = {c.number for c in answer.citations}
    used = set(numbers_in(answer.text))
    if used - numbers:
        raise CitationError(f"answer cites {sorted(used - numbers)} but shows only {sorted(numbers)}")
    if numbers - used:
        raise CitationError(f"citations {sorted(numbers - used)} are shown but never cited")


def _normalize(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split()).lower()


def verify_quotes(answer: Answer) -> None:
    """verify_markers, and each highlighted sentence is quoted in the answer: for the
    extractive answerer, whose sentences are quotations. Raises CitationError otherwise."""
    verify_markers(answer)
    said = _normalize(answer.text)
    for citation in answer.citations:
        for start, end in citation.highlights:
            quoted = strip_markers(citation.text[start:end])
            body = _normalize(LEADING_CONNECTIVE.sub("", quoted))[:-1]
            if body not in said:
                raise CitationError(f"[{citation.number}] is cited for a sentence the answer does not quote")


__all__ = ["MARKER", "CitationError", "attribution", "attributed", "has_attribution", "numbers_in", "markers",
           "strip_markers", "normalize_citations", "append_markers", "renumber", "quote", "parse_markers",
           "strip_attribution", "with_columns", "is_remark", "answer_sentences", "statements", "claims_text",
           "verify_markers", "verify_quotes", "CONFLICT_REMARK", "ABSTAIN_TEXT", "NOT_ANSWERED_TEXT",
           "LEADING_CONNECTIVE"]
