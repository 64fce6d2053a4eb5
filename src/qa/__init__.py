"""qa: answers questions about a document corpus, citing the exact passages behind every statement."""

import os

# torch and llama.cpp each run an OpenMP thread pool in this process. With OpenMP's default
# busy-waiting, each pool spins on the cores the other needs: a 1,300-token prompt took 25 s
# in llama.cpp after an embedding call, and 6 s with passive waiting. Set before either loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .assistant import Assistant, QuestionError, ask
from .config import ConfigError, Settings, load_settings
from .errors import IndexUnavailable  # missing, busy or damaged index; says what to run
from .eval import evaluate
from .scope import DocumentScopeError  # documents= names no indexed document (a QuestionError)
from .types import Answer, Citation, Passage

__all__ = ["ask", "Assistant", "Answer", "Citation", "Passage", "QuestionError", "DocumentScopeError", "ConfigError",
           "Settings", "load_settings", "IndexUnavailable", "evaluate"]
__version__ = "0.1.0"
