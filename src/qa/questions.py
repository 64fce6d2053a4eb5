"""Split a compound question into the parts an extractive answer must cover.

"What happened to X in 2015, and where was he in 2016?" is two questions; "Was Iran
building up or drawing down its forces?" asks for evidence on both alternatives. Each
part is retrieved for and answered on its own, so the second half is not crowded out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .chat import condense_by_rules

_AND_WH = re.compile(r",?\s+and\s+(?=(?:what|where|when|who|whom|whose|which|how|why)\b)", re.I)
_IMPERATIVE = re.compile(r"^(name|list|give|identify)\s+", re.I)
_YES_NO = re.compile(r"^(was|were|is|are|did|does|do|has|have|had|will|would|can|could)\b", re.I)
_TAIL_START = {"its", "their", "his", "her", "in", "on", "at", "for", "to", "of", "during", "by", "from",
               "with", "after", "before", "since", "against"}


@dataclass(frozen=True)
class Decomposed:
    parts: list[str]
    alternatives: bool = False   # the parts are the sides of an "A or B" question


def _alternatives(question: str) -> list[str] | None:
    body = question.strip().rstrip("?")
    sides = re.split(r"\s+or\s+", body, flags=re.I)
    if not _YES_NO.match(body) or len(sides) != 2:
        return None
    pre, post = (p.split() for p in sides)
    tail_at = next((i for i, w in enumerate(post) if i and w.lower() in _TAIL_START), len(post))
    alt_b, tail = post[:tail_at], post[tail_at:]
    if not alt_b or len(alt_b) >= len(pre):
        return None
    head, alt_a = pre[: len(pre) - len(alt_b)], pre[len(pre) - len(alt_b):]
    return [" ".join(head + alt_a + tail) + "?", " ".join(head + alt_b + tail) + "?"]


def decompose(question: str) -> Decomposed:
    question = question.strip()
    sides = _alternatives(question)
    if sides:
        return Decomposed(sides, alternatives=True)
    parts = [p.strip() for p in _AND_WH.split(question) if p and p.strip()]
    if any(len(p.split()) < 3 for p in parts):
        parts = [question]  # "When and how was he killed?" is one question about one event
    if len(parts) == 1:
        verb = _IMPERATIVE.match(question)
        if verb and " and the " in question:
            first, second = question.split(" and the ", 1)
            parts = [first, f"{verb.group(1)} the {second}"]
    if len(parts) == 1:
        return Decomposed([question])
    # Later parts often refer back to the first ("... and where was he ..."): resolve them.
    resolved = [parts[0]] + [condense_by_rules(p, [(parts[0], parts[0])]).resolved
                             for p in parts[1:]]
    return Decomposed(resolved)


__all__ = ["decompose", "Decomposed"]
