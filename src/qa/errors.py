"""Errors about the index, shared by index.py, store.py and retrieve.py (re-exported by qa.index)."""

from __future__ import annotations


class IndexError(RuntimeError):  # noqa: A001 - qa.index.IndexError reads naturally
    """The index is missing, unusable or busy; the message says what to run."""


class IndexBusy(IndexError):
    pass


class StoreUnavailable(IndexError):
    """The Chroma server holding the vectors does not answer; the message names it and how to start it."""


__all__ = ["IndexError", "IndexBusy", "StoreUnavailable"]
