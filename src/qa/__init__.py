"""qa: answers questions about a document corpus, citing the exact passages behind every statement."""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING, Any

# torch and llama.cpp each run an OpenMP thread pool in this process. With OpenMP's default
# busy-waiting, each pool spins on the cores the other needs: a 1,300-token prompt took 25 s
# in llama.cpp after an embedding call, and 6 s with passive waiting. Set before either loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The public names are imported on first use, not with the package: `qa --help` and the CLI's
# argument parsing then start in a few milliseconds instead of importing the whole pipeline.
_EXPORTS = {"ask": ".assistant", "Assistant": ".assistant", "QuestionError": ".errors",
            "DocumentScopeError": ".scope",  # documents= names no indexed document (a QuestionError)
            "ConfigError": ".config", "Settings": ".config", "load_settings": ".config",
            "IndexUnavailable": ".errors",  # missing, busy or damaged index; says what to run
            "evaluate": ".eval", "Answer": ".types", "Citation": ".types", "Passage": ".types"}

if TYPE_CHECKING:
    from .assistant import Assistant, ask
    from .config import ConfigError, Settings, load_settings
    from .errors import IndexUnavailable, QuestionError
    from .eval import evaluate
    from .scope import DocumentScopeError
    from .types import Answer, Citation, Passage


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'qa' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = ["ask", "Assistant", "Answer", "Citation", "Passage", "QuestionError", "DocumentScopeError", "ConfigError",
           "Settings", "load_settings", "IndexUnavailable", "evaluate"]
__version__ = "0.1.0"
