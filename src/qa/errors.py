"""Errors about the index, shared by index.py, store.py and retrieve.py (qa.IndexUnavailable)."""

from __future__ import annotations


class IndexUnavailable(RuntimeError):
    """The index is missing, unusable or busy; the message says what to run."""


class IndexBusy(IndexUnavailable):
    pass


class StoreUnavailable(IndexUnavailable):
    """The Chroma server holding the vectors does not answer; the message names it and how to start it."""


__all__ = ["IndexUnavailable", "IndexBusy", "StoreUnavailable"]
