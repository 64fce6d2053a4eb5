"""Which documents a question is asked about: paths and glob patterns, relative to the corpus
folder, resolved against the documents in the index (never against the filesystem).

    "notes.md"             that document
    "reports/2024-*.pdf"   * and ? stay within one folder; [abc] is a set of characters
    "**/*.html"            ** (a whole path segment) spans any number of folders, none included
    "reports"              a folder: every document under it (as does "reports/")

Matching is case-sensitive, as the paths are. A pattern that names no indexed document is an
error (DocumentScopeError) that says which documents there are, never an empty scope.
"""

from __future__ import annotations

import difflib
import operator
import os
from bisect import bisect_left
from fnmatch import fnmatchcase
from itertools import accumulate
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import QuestionError

MAX_PATTERNS = 1000
MAX_PATTERN_CHARS = 1000
SHOWN_DOCUMENTS = 8   # an error lists up to this many documents
SHOWN_SUGGESTIONS = 3
GLOB_CHARACTERS = "*?["
LIST_THEM = "list them with `qa documents`, Assistant.documents() or the app's Corpus tab"


class DocumentScopeError(QuestionError):
    """documents= cannot be used: it is not a list of patterns, or a pattern names no indexed
    document. The message names the pattern and the documents there are."""

    def __init__(self, message: str, unmatched: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.unmatched = list(unmatched)


def checked_patterns(documents: Any) -> tuple[str, ...] | None:
    """documents= as given (None, one pattern, or a list or tuple of them) -> the patterns,
    or DocumentScopeError saying what is wrong. None means every document."""
    if documents is None:
        return None
    if isinstance(documents, str):
        documents = [documents]
    elif not isinstance(documents, (list, tuple)):
        raise DocumentScopeError(f"documents must be a list of paths or glob patterns (or one as a string), "
                                 f"not {type(documents).__name__}")
    if not documents:
        raise DocumentScopeError("documents is empty, which names no document; leave it out (None) to ask "
                                 "about every document")
    if len(documents) > MAX_PATTERNS:
        raise DocumentScopeError(f"documents holds {len(documents):,} patterns; the limit is {MAX_PATTERNS:,} "
                                 f"(a folder or a glob pattern names many documents at once)")
    patterns = []
    for number, pattern in enumerate(documents):
        if not isinstance(pattern, str):
            raise DocumentScopeError(f"documents[{number}] must be a path or glob pattern (a string), "
                                     f"not {type(pattern).__name__}")
        pattern = pattern.strip()
        if not pattern:
            raise DocumentScopeError(f"documents[{number}] is empty; give a path relative to the corpus folder "
                                     f"or a glob pattern such as reports/*.pdf")
        if len(pattern) > MAX_PATTERN_CHARS:
            raise DocumentScopeError(f"documents[{number}] is {len(pattern):,} characters long; the limit is "
                                     f"{MAX_PATTERN_CHARS:,}")
        if "\x00" in pattern:
            raise DocumentScopeError(f"documents[{number}] contains a NUL character")
        patterns.append(pattern)
    return tuple(dict.fromkeys(patterns))


def _normalised(pattern: str) -> str:
    """'./a//b/' -> 'a/b/' (the trailing slash kept: it says "a folder")."""
    trailing = pattern.endswith("/")
    parts = [p for p in pattern.split("/") if p not in ("", ".")]
    return "/".join(parts) + ("/" if trailing and parts else "")


def matches(pattern: str, path: str) -> bool:
    """Whether a (normalised) pattern names the corpus-relative `path`, or a folder holding it."""
    folder_only = pattern.endswith("/")
    parts = path.split("/")
    reached = _reached(pattern.rstrip("/").split("/"), parts)
    # Matching the whole path names the file; matching a shorter prefix names a folder.
    return any(reached[1:len(parts)]) or (not folder_only and reached[len(parts)])


def _reached(pattern: list[str], parts: list[str]) -> list[bool]:
    """reached[n]: the pattern matches the first n segments of the path. Segment by segment
    with fnmatch (within a segment, * cannot cross a "/"); a "**" segment takes any number of
    segments. Linear in pattern x path segments, where a regular expression of a pattern full
    of stars can backtrack exponentially."""
    reached = [True] + [False] * len(parts)
    for segment in pattern:
        if segment == "**":
            reached = list(accumulate(reached, operator.or_))
        else:
            reached = [False] + [reached[n] and fnmatchcase(parts[n], segment) for n in range(len(parts))]
    return reached


def _within_corpus(pattern: str, corpus_dir: Path | None) -> str | None:
    """A pattern written as a path from the working folder or an absolute one ("corpus/a*.txt",
    "/home/me/docs/a.txt"), made relative to the corpus folder; None when it is not inside it."""
    if corpus_dir is None:
        return None
    given = os.path.abspath(os.path.expanduser(pattern))
    for root in dict.fromkeys((os.path.abspath(corpus_dir), os.path.realpath(corpus_dir))):
        if given.startswith(root.rstrip(os.sep) + os.sep):
            return given[len(root.rstrip(os.sep)) + 1:].replace(os.sep, "/") + ("/" if pattern.endswith("/") else "")
    return None


def resolve(patterns: Sequence[str], documents: Iterable[str], corpus_dir: Path | None = None) -> list[str]:
    """The documents (corpus-relative paths, sorted) that the patterns name together. Each
    pattern must name at least one; else DocumentScopeError lists the ones that name none,
    with near matches and the documents there are."""
    available = sorted(documents)
    chosen: set[str] = set()
    unmatched: list[str] = []
    for pattern in patterns:
        found = _matching(_normalised(pattern), available)
        if not found:
            inside = _within_corpus(pattern, corpus_dir)
            found = _matching(_normalised(inside), available) if inside else []
        if found:
            chosen.update(found)
        else:
            unmatched.append(pattern)
    if unmatched:
        raise DocumentScopeError(_no_match_message(unmatched, available), unmatched)
    return sorted(chosen)


def _matching(pattern: str, available: list[str]) -> list[str]:
    """The documents of `available` (sorted) that a normalised pattern names."""
    if not pattern:
        return []
    if any(c in pattern for c in GLOB_CHARACTERS):
        return [path for path in available if matches(pattern, path)]
    # A plain path: that document and those under that folder, found by bisection (a scope
    # may list thousands of documents of a large corpus by name).
    name = pattern.rstrip("/")
    at = bisect_left(available, name)
    found = [name] if not pattern.endswith("/") and at < len(available) and available[at] == name else []
    at = bisect_left(available, name + "/")
    while at < len(available) and available[at].startswith(name + "/"):
        found.append(available[at])
        at += 1
    return found


def _no_match_message(unmatched: list[str], available: list[str]) -> str:
    which = ", ".join(repr(p) for p in unmatched[:SHOWN_DOCUMENTS])
    lines = [f"no indexed document matches {which} (paths and glob patterns are relative to the corpus "
             f"folder; * and ? stay within a folder, ** spans folders)"]
    for pattern in unmatched[:SHOWN_DOCUMENTS]:
        near = suggestions(_normalised(pattern), available)
        if near:
            lines.append(f"for {pattern!r}, did you mean: {', '.join(near)}?")
    if not available:
        lines.append("the index holds no documents; add files to the corpus folder and run: qa ingest")
    else:
        shown = ", ".join(available[:SHOWN_DOCUMENTS])
        more = f", and {len(available) - SHOWN_DOCUMENTS:,} more" if len(available) > SHOWN_DOCUMENTS else ""
        lines.append(f"the index holds {len(available):,} document(s): {shown}{more}; {LIST_THEM}")
    return "; ".join(lines)


def suggestions(pattern: str, available: list[str]) -> list[str]:
    """Documents the pattern may have meant: the same ignoring case, the same file name in
    another folder, or a near spelling."""
    if not pattern:
        return []
    lowered = pattern.lower()
    found = [p for p in available if matches(lowered, p.lower())]
    name = lowered.rstrip("/").rsplit("/", 1)[-1]
    found += [p for p in available if fnmatchcase(p.lower().rsplit("/", 1)[-1], name)]
    found += difflib.get_close_matches(pattern, available, n=SHOWN_SUGGESTIONS, cutoff=0.75)
    return list(dict.fromkeys(found))[:SHOWN_SUGGESTIONS]


def describe(documents: Sequence[str] | None, total: int | None = None, shown: int = 3) -> str:
    """'all 5 documents', '1 document: a.txt', '4 documents: a.txt, b.txt, c.txt and 1 more'."""
    if documents is None:
        return f"all {total:,} documents" if total is not None else "all documents"
    names = ", ".join(documents[:shown])
    more = f" and {len(documents) - shown:,} more" if len(documents) > shown else ""
    return f"{len(documents):,} document{'' if len(documents) == 1 else 's'}: {names}{more}"


__all__ = ["DocumentScopeError", "checked_patterns", "resolve", "matches", "suggestions", "describe"]
