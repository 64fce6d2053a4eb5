"""Errors shared by several modules: about the index (index.py, store.py, retrieve.py:
qa.IndexUnavailable) and about a question (assistant.py, scope.py: qa.QuestionError)."""

from __future__ import annotations


class IndexUnavailable(RuntimeError):
    """The index is missing, unusable or busy; the message says what to run."""


class IndexBusy(IndexUnavailable):
    pass


class StoreUnavailable(IndexUnavailable):
    """The Chroma server holding the vectors does not answer; the message names it and how to start it."""


class QuestionError(ValueError):
    """The question cannot be asked as it is (empty, too long); the message says why."""


__all__ = ["IndexUnavailable", "IndexBusy", "StoreUnavailable", "QuestionError"]
