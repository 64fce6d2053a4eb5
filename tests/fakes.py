"""Test doubles that record what they were asked, in the style of simonw/llm's fakes.

`ScriptedChatModel` stands in for a language model in fast tests of the draft → check →
fallback path (milliseconds instead of SmolLM2's seconds). The real models run in the slow
tests; nothing a user runs is replaced by these."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator

from qa.llms import LLMError


@dataclass
class ScriptedChatModel:
    """Replies with the scripted texts in order, streamed word by word. A script entry that
    is an exception is raised instead (after the words before a "|RAISE|" mark, if any)."""
    replies: list[str | Exception]
    name: str = "scripted test model"
    calls: list[tuple[str, str, int | None]] = field(default_factory=list)

    def stream(self, system: str, user: str, max_tokens: int | None = None) -> Iterator[str]:
        self.calls.append((system, user, max_tokens))
        if not self.replies:
            raise LLMError(f"{self.name} has no reply left for: {user[-80:]!r}")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        before, _, fails = reply.partition("|RAISE|")
        yield from re.findall(r"\S+\s*", before)
        if fails:
            raise LLMError(fails.strip() or "the connection dropped")

    def complete(self, system: str, user: str, max_tokens: int | None = None) -> str:
        return "".join(self.stream(system, user, max_tokens))
