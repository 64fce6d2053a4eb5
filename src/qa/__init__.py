"""qa: answers questions about a document corpus, citing the exact passages behind every statement."""

from .answer import Answer, Citation
from .assistant import Assistant, QuestionError, ask
from .config import Settings, load_settings

__all__ = ["ask", "Assistant", "Answer", "Citation", "QuestionError", "Settings", "load_settings"]
__version__ = "0.1.0"
