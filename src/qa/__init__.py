"""qa: answers questions about a document corpus, citing the exact passages behind every statement."""

from .answer import Answer, Citation
from .assistant import Assistant, QuestionError, ask
from .config import Settings, load_settings
from .evaluate import evaluate
from .index import IndexError as IndexUnavailable  # missing, busy or damaged index; says what to run

__all__ = ["ask", "Assistant", "Answer", "Citation", "QuestionError", "Settings", "load_settings",
           "IndexUnavailable", "evaluate"]
__version__ = "0.1.0"
