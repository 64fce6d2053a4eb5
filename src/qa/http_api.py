"""The JSON HTTP API served beside the web app (app.py mounts the Gradio UI on the same server).

    POST /api/ask          a question -> Answer.to_dict()
    POST /api/ask/stream   the same as server-sent events: `draft` events, then one `answer` (or `error`)
    GET  /api/documents    the indexed documents
    GET  /api/status       the index's state and counts, the answerer, the version
    POST /api/ingest       update the index (one at a time: 409 while another ingest runs)
    GET  /api/openapi.json and /api/docs: the schema, and a page that lists it

The handlers call qa's public API (Assistant.ask, stream, documents, ingest, index_status,
index_info) and nothing else, so HTTP, Python and the CLI answer alike. Errors are JSON,
`{"error": code, "message": text}`: bad input 400 or 422, no credentials 401, an ingest already
running 409, a body over the limit 413, and a missing or busy index 503 with the command that
fixes it. With a login (QA_AUTH) every route needs HTTP Basic credentials, checked by the same
LoginGuard as the login page, so failed attempts on either count together. docs/http-api.md
is the reference.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import html
import json
import logging
import math
import threading
from typing import Annotated, Any, Generator, Iterator, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBasic
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import qa

from .config import ANSWERERS, RETRIEVAL_MODES
from .errors import IndexBusy
from .webauth import LoginGuard, LoginThrottled

log = logging.getLogger("qa.api")

PREFIX = "/api"
TOP_K_RANGE = (1, 10)          # as the web app's slider
MAX_DOCUMENTS = 1000           # patterns in one question's `documents`
BUSY_RETRY_SECONDS = 5         # Retry-After for a busy index
ERROR_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
               409: "ingest_running", 413: "too_large", 422: "invalid_request", 429: "too_many_attempts",
               503: "index_unavailable"}


# Request and response bodies ---------------------------------------------------------------
class AskRequest(BaseModel):
    """A question, with the conversation so far and per-question settings (omitted: the server's)."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"question": "Who commands the Quds Force?"},
                     {"question": "Was he wounded?", "top_k": 5, "retrieval_mode": "hybrid",
                      "history": [["Who commands the Quds Force?", "Qassem Soleimani commands it [1]."]]}]})

    question: str = Field(description="The question (at most max_question_chars characters, 2,000 by default).")
    history: list[tuple[str, str]] = Field(
        default_factory=list, description="Earlier turns, oldest first, as [question, answer] pairs; a follow-up "
        "is made standalone from them. At most max_history_turns turns and max_history_chars characters.")
    documents: list[Annotated[str, StringConstraints(min_length=1, max_length=1000)]] = Field(
        default_factory=list, max_length=MAX_DOCUMENTS,
        description="Corpus-relative paths or glob patterns to answer from; empty: the whole corpus.")
    top_k: int | None = Field(default=None, ge=TOP_K_RANGE[0], le=TOP_K_RANGE[1],
                              description="Passages retrieved and shown to the answerer.")
    retrieval_mode: Literal[RETRIEVAL_MODES] | None = Field(default=None)  # type: ignore[valid-type]
    answerer: Literal[ANSWERERS] | None = Field(  # type: ignore[valid-type]
        default=None, description="auto: the language model when one is configured, else quotes; "
        "llm needs one (QA_LLM).")


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rebuild: bool = Field(default=False, description="Re-embed everything instead of only what changed.")


class Citation(BaseModel):
    model_config = ConfigDict(extra="allow")
    number: int
    text: str
    source: str
    path: str
    start: int
    end: int
    title: str = ""
    publisher: str = ""
    date: str = ""
    url: str = ""
    section: str = ""
    highlights: list[list[int]] = Field(description="[start, end] of each quoted sentence, offsets inside text.")
    page: int | None = Field(default=None, description="1-based page the passage starts on; null if unpaged.")


class AnswerOut(BaseModel):
    """Answer.to_dict(), as qa.ask and `qa ask --json` return it."""
    model_config = ConfigDict(extra="allow")
    question: str
    standalone_question: str
    text: str = Field(description="The answer; every factual sentence ends with [n] citation markers.")
    abstained: bool = Field(description="True when the corpus does not answer the question (nothing is cited).")
    conflict: bool = Field(description="True when the cited sources disagree.")
    citations: list[Citation]
    timings_ms: dict[str, float]
    answerer: str = Field(description="extractive, or llm for a generated answer whose sentences were checked.")
    notice: str = Field(description="Why a generated answer was replaced by the extractive one, if it was.")
    generation: dict[str, Any]


class Document(BaseModel):
    model_config = ConfigDict(extra="allow")
    path: str
    title: str
    publisher: str
    date: str
    chunks: int | str
    kept: float | None = Field(description="Share of the file's text cleaning kept; null if not recorded.")


class DocumentsOut(BaseModel):
    documents: list[Document]


class IndexOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    state: str = Field(description="current, stale, missing, incompatible, or unavailable (the message says why).")
    detail: str
    documents: int
    chunks: int
    built: str | None = None
    embedding_model: str | None = None


class StatusOut(BaseModel):
    version: str
    index: IndexOut
    answerer: str = Field(description="The default answerer setting.")
    answerers: list[str] = Field(description="The answerers a request may choose.")
    llm: str | None = Field(description="The configured language model, or null.")
    top_k: int
    retrieval_mode: str
    auto_ingest: bool = Field(description="Whether a question builds a missing index (else 503).")


class IngestOut(BaseModel):
    """The ingest report: files added, updated, removed, unchanged and skipped (with reasons)."""
    model_config = ConfigDict(extra="allow")
    summary: str
    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: list[str]
    skipped: list[dict[str, str]]
    warnings: list[str]
    chunks: int
    embedded: int
    rebuilt: bool
    seconds: float


class ErrorOut(BaseModel):
    error: str = Field(description="A short code: bad_question, bad_setting, invalid_request, unauthorized, "
                                   "ingest_running, index_unavailable, index_busy, ...")
    message: str = Field(description="What is wrong and what to do, for a person to read.")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


def answerers(settings: qa.Settings) -> list[str]:
    """The answerers a question may ask for: auto and extractive, and llm when a language model
    is configured (auto, the default setting, is always one of them)."""
    return ["auto", "extractive", "llm"] if settings.llm else ["auto", "extractive"]


# Documents: the one place that knows how the installed qa scopes a question --------------------
def scope(documents: list[str]) -> dict[str, Any]:
    """The keyword arguments that limit a question to `documents`: an empty list asks the whole
    corpus (as the UI's empty selection does), patterns go to qa, which refuses one that matches
    no document with a DocumentScopeError (400)."""
    return {"documents": list(documents)} if documents else {}


# Errors -----------------------------------------------------------------------------------
def _body(status: int, message: str, error: str | None = None) -> dict[str, str]:
    return {"error": error or ERROR_CODES.get(status, "error"), "message": message}


def error_response(exc: BaseException) -> tuple[int, dict[str, str], dict[str, str]]:
    """(status, body, headers) for an error a handler raised; a user's error never becomes a 500."""
    if isinstance(exc, qa.DocumentScopeError):
        return 400, _body(400, str(exc), "unknown_documents"), {}
    if isinstance(exc, qa.QuestionError):
        return 400, _body(400, str(exc), "bad_question"), {}
    if isinstance(exc, qa.ConfigError):
        return 400, _body(400, str(exc), "bad_setting"), {}
    if isinstance(exc, IndexBusy):
        return 503, _body(503, str(exc), "index_busy"), {"Retry-After": str(BUSY_RETRY_SECONDS)}
    if isinstance(exc, qa.IndexUnavailable):   # missing, damaged, or its Chroma server is down
        return 503, _body(503, str(exc)), {}
    if isinstance(exc, HTTPException):
        return exc.status_code, _body(exc.status_code, str(exc.detail)), dict(exc.headers or {})
    log.error("the HTTP API failed", exc_info=exc)
    return 500, _body(500, f"the server failed: {type(exc).__name__}: {exc}"[:300], "internal_error"), {}


def _validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    """A readable message and the problems, without echoing the input back (it may be huge)."""
    problems = [{"location": [str(part) for part in error.get("loc", ())], "message": str(error.get("msg", ""))}
                for error in exc.errors()]
    shown = "; ".join(f"{'.'.join(p['location'][1:]) or 'body'}: {p['message']}" for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return f"the request does not match the API: {shown}{more}", problems[:20]


def _install_error_handlers(api: FastAPI) -> None:
    async def handled(request: Request, exc: Exception) -> JSONResponse:
        status, body, headers = error_response(exc)
        return JSONResponse(body, status_code=status, headers=headers)

    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, problems = _validation_message(exc)
        return JSONResponse({**_body(422, message), "problems": problems}, status_code=422)

    for kind in (qa.QuestionError, qa.ConfigError, qa.IndexUnavailable, HTTPException):
        api.add_exception_handler(kind, handled)
    api.add_exception_handler(RequestValidationError, invalid)


# Authentication ---------------------------------------------------------------------------
def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class ApiGate:
    """ASGI middleware in front of /api, before anything is read: the login (HTTP Basic
    credentials checked by the app's LoginGuard; 401, or 429 while failures make it wait), then
    the body's size (413 past `limit` bytes, declared or counted as it arrives)."""

    def __init__(self, app: ASGIApp, guard: LoginGuard | None, limit: int) -> None:
        self.app, self.guard, self.limit = app, guard, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._login(headers.get("authorization", ""))
        too_large = HTTPException(413, f"the request body is over {self.limit:,} bytes, the most a question "
                                       f"and its history can need (max_question_chars, max_history_chars)")
        declared = headers.get("content-length", "")
        if refusal is None and declared.isdigit() and int(declared) > self.limit:
            refusal = too_large
        if refusal is not None:
            status, body, extra = error_response(refusal)
            await JSONResponse(body, status_code=status, headers={**extra, "Connection": "close"})(scope, receive,
                                                                                                 send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise too_large     # while FastAPI reads the body: answered by the error handler
            return message

        await self.app(scope, counted, send)

    def _login(self, authorization: str) -> HTTPException | None:
        if self.guard is None:
            return None
        challenge = {"WWW-Authenticate": 'Basic realm="qa", charset="UTF-8"'}
        credentials = _basic_credentials(authorization)
        if credentials is None:
            return HTTPException(401, "this server needs a login: send HTTP Basic credentials "
                                      "(curl -u user:password), the user and password of QA_AUTH", challenge)
        try:
            accepted = self.guard(*credentials)   # the client's address comes from webauth.ClientAddress
        except LoginThrottled as exc:
            return HTTPException(429, f"login refused: {exc}", {"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
        return None if accepted else HTTPException(401, "wrong user name or password", challenge)


# The API ----------------------------------------------------------------------------------
def create_api(assistant: qa.Assistant, guard: LoginGuard | None = None) -> FastAPI:
    """A FastAPI app serving the API for `assistant`; with `guard` every route needs its login.
    Mount the web app on it (gr.mount_gradio_app) to serve both on one port."""
    settings = assistant.settings
    # Questions answered at once through the API (the web app's queue has as many of its own).
    answering = threading.BoundedSemaphore(settings.concurrency)
    # A body holds a question and a history within their limits, as JSON (escaped, up to 6 bytes a character).
    body_limit = 6 * (settings.max_question_chars + settings.max_history_chars) + 64 * 1024

    api = FastAPI(title="qa HTTP API", version=qa.__version__, openapi_url=None, docs_url=None, redoc_url=None,
                  description="Answers about a folder of documents; every statement cites the passages it "
                              "comes from. Reference: docs/http-api.md. With a login (QA_AUTH), every route "
                              "needs HTTP Basic credentials.")
    _install_error_handlers(api)
    api.add_middleware(ApiGate, guard=guard, limit=body_limit)
    # The login is checked by ApiGate; HTTPBasic here only puts it in the schema.
    documented = [Depends(HTTPBasic(auto_error=False, realm="qa"))] if guard is not None else []
    router = APIRouter(prefix=PREFIX, dependencies=documented, responses=_errors(401, 429))

    def arguments(request: AskRequest) -> dict[str, Any]:
        if len(request.history) > settings.max_history_turns:
            raise qa.QuestionError(f"history has {len(request.history)} turns and the limit is "
                                   f"{settings.max_history_turns} (max_history_turns): send the most recent ones")
        chars = sum(len(q) + len(a) for q, a in request.history)
        if chars > settings.max_history_chars:
            raise qa.QuestionError(f"history holds {chars:,} characters and the limit is "
                                   f"{settings.max_history_chars:,} (max_history_chars): send the most recent turns")
        per_call = {name: getattr(request, name) for name in ("top_k", "retrieval_mode", "answerer")
                    if getattr(request, name) is not None}
        return {"history": [list(pair) for pair in request.history], **per_call, **scope(request.documents)}

    # The bodies are what qa returns, sent as they are: the models document them (responses=)
    # and do not filter them (response_model=None), so a field qa adds is not dropped.
    @router.post("/ask", response_model=None, responses={200: {"model": AnswerOut}, **_errors(400, 413, 422, 503)},
                 summary="Answer a question")
    def ask(request: AskRequest) -> dict[str, Any]:
        """The answer with its citations, as `qa.ask(...).to_dict()`."""
        kwargs = arguments(request)
        with answering:
            return assistant.ask(request.question, **kwargs).to_dict()

    @router.post("/ask/stream", responses={200: {"content": {"text/event-stream": {}},
                                                 "description": "`event: draft` with `{\"text\": ...}` as the "
                                                 "answer grows, then `event: answer` with the Answer (or "
                                                 "`event: error` with an error body)."},
                                           **_errors(400, 413, 422, 503)},
                 summary="Answer a question, streamed as server-sent events")
    def ask_stream(request: AskRequest) -> StreamingResponse:
        """Server-sent events: a `draft` event each time the text grows (the whole text so far;
        a language model's draft is unchecked), then one `answer` event with the checked Answer.
        Bad input and an unusable index are answered before the stream starts, with their status."""
        kwargs = arguments(request)
        answering.acquire()
        stream = _holding(answering, assistant.stream(request.question, **kwargs))
        first = next(stream)     # understanding and retrieval: their errors still get a status
        return StreamingResponse(_events(first, stream), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @router.get("/documents", response_model=None, responses={200: {"model": DocumentsOut}, **_errors(503)},
                summary="The indexed documents")
    def documents() -> dict[str, Any]:
        """Every indexed file: path, title, publisher, date, chunks and the share cleaning kept."""
        return {"documents": assistant.documents()}

    @router.get("/status", response_model=None, responses={200: {"model": StatusOut}},
                summary="The index and the server's settings")
    def status() -> dict[str, Any]:
        """Read without building or opening the index; a damaged one shows as `unavailable`."""
        try:
            state, detail = assistant.index_status()
            info = assistant.index_info()
        except qa.IndexUnavailable as exc:
            state, detail, info = "unavailable", str(exc), {"documents": 0, "chunks": 0}
        return {"version": qa.__version__, "index": {"state": state, "detail": detail, **info},
                "answerer": settings.answerer, "answerers": answerers(settings), "llm": settings.llm or None,
                "top_k": settings.top_k, "retrieval_mode": settings.retrieval_mode,
                "auto_ingest": settings.auto_ingest}

    @router.post("/ingest", response_model=None, responses={200: {"model": IngestOut}, **_errors(409, 413, 422, 503)},
                 summary="Update the index from the corpus folder")
    def ingest(request: Annotated[IngestRequest | None, Body()] = None) -> dict[str, Any]:
        """Embeds only new and changed files (everything with `rebuild`). One ingest at a time:
        409 while another runs, in this server (the web app's Re-index or upload included) or in
        another process (`qa ingest`)."""
        try:
            report = assistant.ingest(rebuild=bool(request and request.rebuild), wait=False)
        except IndexBusy as exc:
            raise HTTPException(409, str(exc), {"Retry-After": str(BUSY_RETRY_SECONDS)}) from None
        return {"summary": report.summary(), **jsonable_encoder(dataclasses.asdict(report))}

    @router.get("/openapi.json", include_in_schema=False)
    def openapi_schema() -> JSONResponse:
        return JSONResponse(api.openapi())

    @router.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs_page() -> str:
        return reference_page(api.openapi())

    @router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def unknown(request: Request) -> None:
        # Not left to the web app mounted at /, which would answer with its own page.
        allowed = sorted(method for route in router.routes if isinstance(route, APIRoute)
                         and route.path == request.url.path for method in route.methods)
        if allowed:
            raise HTTPException(405, f"{request.url.path} takes {' or '.join(allowed)}, not {request.method}",
                                {"Allow": ", ".join(allowed)})
        raise HTTPException(404, f"no API route {request.method} {request.url.path}; the routes are listed at "
                                 f"{PREFIX}/docs")

    api.include_router(router)
    return api


def _event(name: str, data: dict[str, Any]) -> str:
    # One JSON line per event: a JSON text has no raw newline, so it is always one `data:` field.
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _holding(slot: threading.BoundedSemaphore, stream: Iterator[Any]) -> Iterator[Any]:
    """`stream`, releasing the acquired `slot` when it ends, fails or is closed. Once started it
    is released however the response ends, even if the client leaves before the first event
    (the generator is then closed when it is collected)."""
    try:
        yield from stream
    finally:
        slot.release()


def _events(first: tuple[str, qa.Answer | None], stream: Generator[tuple[str, qa.Answer | None], None, None]
            ) -> Iterator[str]:
    try:
        item: tuple[str, qa.Answer | None] | None = first
        while item is not None:
            text, answer = item
            if answer is not None:
                yield _event("answer", answer.to_dict())
                return
            yield _event("draft", {"text": text})
            item = next(stream, None)
        yield _event("error", _body(500, "the answer stream ended without an answer", "internal_error"))
    except Exception as exc:  # noqa: BLE001 - the status is sent already: the error is the last event
        status, body, _ = error_response(exc)
        yield _event("error", {**body, "status": status})
    finally:
        stream.close()


# The docs page: the schema as HTML, with nothing loaded from elsewhere (FastAPI's Swagger UI
# page fetches its scripts from a CDN).
def reference_page(schema: dict[str, Any]) -> str:
    info = schema.get("info", {})
    parts = [f"<h1>{html.escape(info.get('title', ''))} {html.escape(info.get('version', ''))}</h1>",
             f"<p>{html.escape(info.get('description', ''))}</p>",
             f'<p>Schema: <a href="{PREFIX}/openapi.json">{PREFIX}/openapi.json</a> (OpenAPI '
             f"{html.escape(schema.get('openapi', ''))}).</p>"]
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            parts.append(f"<h2><code>{method.upper()} {html.escape(path)}</code></h2>"
                         f"<p><b>{html.escape(operation.get('summary', ''))}</b>. "
                         f"{html.escape(operation.get('description', ''))}</p>")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                parts.append(f"<p>Body: <code>{html.escape(_schema_name(body))}</code></p>")
            rows = "".join(f"<li><code>{html.escape(code)}</code> {html.escape(reply.get('description', ''))}"
                           + "".join(f" <code>{html.escape(_schema_name(c['schema']))}</code>"
                                     for c in reply.get("content", {}).values() if c.get("schema"))
                           + "</li>" for code, reply in operation.get("responses", {}).items())
            parts.append(f"<ul>{rows}</ul>")
    parts.append("<h2>Bodies</h2>")
    for name, model in schema.get("components", {}).get("schemas", {}).items():
        fields = "".join(f"<li><code>{html.escape(field)}</code>: {html.escape(_type_text(spec))}"
                         f"{' (required)' if field in model.get('required', []) else ''}"
                         f"{' — ' + html.escape(spec['description']) if spec.get('description') else ''}</li>"
                         for field, spec in model.get("properties", {}).items())
        parts.append(f'<h3 id="{html.escape(name)}">{html.escape(name)}</h3>'
                     f"<p>{html.escape(model.get('description', ''))}</p><ul>{fields}</ul>")
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
             "line-height:1.45}code{background:#f3f3f3;padding:0 3px}h2{margin-top:2rem}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(info.get('title', ''))}"
            f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>")


def _schema_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    return _type_text(schema)


def _type_text(spec: dict[str, Any]) -> str:
    if "$ref" in spec:
        return spec["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in spec:
        return " or ".join(_type_text(option) for option in spec["anyOf"])
    if "enum" in spec:
        return " | ".join(json.dumps(value) for value in spec["enum"])
    if spec.get("type") == "array":
        items = spec.get("prefixItems") or [spec.get("items", {})]
        return "list of " + ", ".join(_type_text(item) for item in items)
    return str(spec.get("type", "any"))


__all__ = ["create_api", "answerers", "scope", "error_response", "AskRequest", "IngestRequest", "PREFIX",
           "reference_page"]
