"""qa web app: chat with cited answers, a sources panel and the corpus. Uses only the public qa API.

    python app.py            (or `make app`)   serves on QA_HOST:QA_PORT, default 127.0.0.1:7860
    python app.py --corpus ~/my-docs   (or `make app CORPUS=~/my-docs`)   your own folder, its own index

The same server answers JSON under /api (qa.http_api, docs/http-api.md), behind the same login.

Everything from the corpus or from a user is escaped before it reaches the page: passages and
questions are shown as text, never as live HTML.
"""

from __future__ import annotations

import argparse
import base64
import html
import logging
import math
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine

import gradio as gr  # noqa: E402 - after the environment is set
import uvicorn  # noqa: E402
from fastapi import HTTPException  # noqa: E402

import qa  # noqa: E402
from qa.assistant import safe_filename  # noqa: E402
from qa.citations import markers  # noqa: E402
from qa.config import RETRIEVAL_MODES  # noqa: E402
from qa.http_api import answerers as answerer_choices  # noqa: E402
from qa.http_api import create_api  # noqa: E402
from qa.webauth import ClientAddress, LoginGuard, LoginThrottled  # noqa: E402

log = logging.getLogger("qa.app")

EXAMPLES = [
    "How many Hezbollah fighters had died in Syria?",
    "How many Iranian troops were massing on Aleppo?",
    "Who commands the Quds Force?",
    "Where are Iraqi militia fighters who died in Syria being buried?",
]
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~>])")
TOP_K_RANGE = (1, 10)
SHOWN_QUESTION_CHARS = 2000  # a question longer than the limit is refused, and shown cut to this
SHOWN_SCOPE = 5              # the sources panel names up to this many of the documents asked about
TITLE_CHARS = 90             # the Corpus table cuts longer titles (the file name is in its own column)
CACHE_CLEANUP = (60, 300)  # every minute, Gradio deletes its temporary files older than 5 minutes

CSS = """
.qa-header h1 { margin-bottom: 0; }
.qa-header p { margin-top: 4px; color: var(--body-text-color-subdued); }
a.cite { cursor: pointer; text-decoration: none; font-weight: 600; color: var(--color-accent);
         padding: 0 1px; }
a.cite:hover { text-decoration: underline; }
.qa-badge { display: inline-block; border-radius: 6px; padding: 2px 8px; font-size: 0.85em;
            font-weight: 600; margin-bottom: 6px; }
.qa-badge.abstain { background: #fff4e5; color: #8a4b00; border: 1px solid #f0c080; }
.qa-badge.conflict { background: #fdecea; color: #8c1d18; border: 1px solid #f1aeb5; }
.qa-badge.draft { background: #eef2f7; color: #3b4a5c; border: 1px dashed #9aa8b8; }
.qa-badge.generated { background: #e8f3ec; color: #1d5c34; border: 1px solid #a7d3b5; }
.qa-sources { display: flex; flex-direction: column; gap: 10px; }
.qa-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
             background: var(--background-fill-secondary); scroll-margin-top: 12px; }
.qa-source.flash { outline: 3px solid var(--color-accent); }
.qa-source .num { display: inline-block; min-width: 1.6em; height: 1.6em; line-height: 1.6em;
                  text-align: center; border-radius: 50%; background: var(--color-accent);
                  color: white; font-weight: 700; margin-right: 6px; }
.qa-source .title { font-weight: 600; }
.qa-source .meta { color: var(--body-text-color-subdued); font-size: 0.85em; margin: 2px 0 6px; }
.qa-source .passage { white-space: pre-wrap; font-size: 0.92em; line-height: 1.45; }
#sources { max-height: 640px !important; overflow-y: auto !important; }
.qa-source details { margin-top: 6px; font-size: 0.85em; }
.qa-source summary { cursor: pointer; color: var(--body-text-color-subdued); }
.qa-source mark { background: #fff3a3; padding: 0 1px; }
.qa-empty { color: var(--body-text-color-subdued); font-style: italic; }
.qa-scope { color: var(--body-text-color-subdued); font-size: 0.85em; margin-bottom: 6px; }
#documents table { table-layout: fixed; width: 100%; }
#documents td, #documents th { overflow-wrap: anywhere; }
.qa-page-view { display: flex; gap: 10px; align-items: flex-start; }
.qa-page-view > .passage { flex: 1 1 0; min-width: 0; }
.qa-page-view figure { flex: 1.3 1 0; min-width: 0; margin: 0; }
.qa-page-view img { width: 100%; border: 1px solid var(--border-color-primary); background: white; }
.qa-page-view figcaption { font-size: 0.8em; color: var(--body-text-color-subdued); }
"""

# Clicking a [n] marker in the chat shows and highlights source n in the sources panel.
HEAD = r"""
<script>
document.addEventListener('click', function (event) {
  const marker = event.target.closest('a.cite');
  if (!marker) return;
  event.preventDefault();
  const number = (marker.className.match(/cite-(\d+)/) || [])[1];
  const card = number && document.getElementById('src-' + number);
  if (!card) return;
  card.scrollIntoView({behavior: 'smooth', block: 'nearest'});
  card.classList.add('flash');
  setTimeout(function () { card.classList.remove('flash'); }, 1600);
});

// The chat's copy button copies a message as plain text with its [n] markers, not the
// escaped Markdown and citation links it is displayed from. Gradio's button writes the raw
// message; writes that follow a click in the chat are turned into the text it shows.
(function () {
  const clipboard = navigator.clipboard;
  if (!clipboard || !clipboard.writeText) return;
  let fromChat = false;
  document.addEventListener('pointerdown', function (event) {
    fromChat = !!(event.target.closest && event.target.closest('#chat'));
  }, true);
  document.addEventListener('keydown', function () {
    const active = document.activeElement;
    fromChat = !!(active && active.closest && active.closest('#chat'));
  }, true);
  const write = clipboard.writeText.bind(clipboard);
  clipboard.writeText = function (text) { return write(fromChat ? qaPlainText(text) : text); };
})();

function qaPlainText(message) {
  // DOMParser builds an inert document: nothing in the message runs or loads.
  const doc = new DOMParser().parseFromString(message, 'text/html');
  doc.querySelectorAll('.qa-badge').forEach(function (badge) { badge.remove(); });
  doc.querySelectorAll('a.cite').forEach(function (marker) {
    marker.replaceWith(doc.createTextNode(marker.textContent));
  });
  return (doc.body.textContent || '')
    .replace(/\\([\\`*_{}\[\]()#+\-!|~>])/g, '$1')
    .replace(/[ \t]+(\[\d+\])/g, ' $1')
    .trim();
}
</script>
"""


def escape_markdown(text: str) -> str:
    """Text shown literally inside the chat's markdown: no HTML, no markdown syntax."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _passage_preview(citation: Any, limit: int = 600) -> str:
    quoted = " … ".join(citation.text[s:e] for s, e in citation.highlights) or citation.text
    return quoted if len(quoted) <= limit else quoted[: limit - 1] + "…"


def render_answer(text: str, answer: qa.Answer | None = None, drafting: bool = False) -> str:
    """The chat bubble: escaped answer text with clickable [n] markers (hover shows the passage).
    A language model's draft is marked as such until its citations have been checked."""
    citations = {c.number: c for c in answer.citations} if answer else {}
    parts, last = [], 0
    for match in markers(text):
        parts.append(escape_markdown(text[last:match.start()]))
        number = int(match.group(1))
        citation = citations.get(number)
        title = html.escape(f"{citation.source}: {_passage_preview(citation)}") if citation else ""
        # The number travels in the class: the chat's HTML sanitizer drops data-* attributes.
        parts.append(f' <a class="cite cite-{number}" title="{title}">[{number}]</a>')
        last = match.end()
    parts.append(escape_markdown(text[last:]))
    body = "".join(parts)
    if drafting:
        body = '<span class="qa-badge draft">Draft — checking every sentence against its citations…</span>\n\n' + body
    elif answer is not None and answer.abstained:
        body = f'<span class="qa-badge abstain">{_no_answer(answer)}</span>\n\n' + body
    elif answer is not None and answer.conflict:
        body = '<span class="qa-badge conflict">Sources disagree</span>\n\n' + body
    elif answer is not None and answer.notice:
        body = '<span class="qa-badge conflict">Extractive answer</span>\n\n' + body
    elif answer is not None and answer.answerer == "llm":
        model = html.escape(str(answer.generation.get("model", "language model")))
        dropped = answer.generation.get("unsupported", 0)
        note = f", {dropped} unsupported sentence(s) removed" if dropped else ""
        body = f'<span class="qa-badge generated">Generated by {model}; every sentence checked{note}</span>\n\n' + body
    return body


def _no_answer(answer: qa.Answer) -> str:
    return "No answer in the chosen documents" if answer.documents else "No answer in the corpus"


def _scope_line(answer: qa.Answer) -> str:
    """Which documents the answer was limited to ("" when to none)."""
    if not answer.documents:
        return ""
    names = ", ".join(answer.documents[:SHOWN_SCOPE])
    more = f" and {len(answer.documents) - SHOWN_SCOPE} more" if len(answer.documents) > SHOWN_SCOPE else ""
    count = f"{len(answer.documents)} document{'' if len(answer.documents) == 1 else 's'}"
    return f'<div class="qa-scope">Asked about {count}: {html.escape(names + more)}</div>'


def _highlighted(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        out.append(html.escape(text[last:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)


def _excerpt(text: str, spans: list[tuple[int, int]], context: int = 280) -> str:
    """The quoted sentences with some text either side, cut at spaces; the rest elided."""
    if not spans:
        return _highlighted(text, spans)
    start = max(0, min(s for s, _ in spans) - context)
    end = min(len(text), max(e for _, e in spans) + context)
    first = min(s for s, _ in spans)
    if start > 0:
        space = text.find(" ", start, first)
        start = space + 1 if space != -1 else start
    if end < len(text):
        end = text.rfind(" ", 0, end) if text.rfind(" ", 0, end) > max(e for _, e in spans) else end
    shifted = [(s - start, e - start) for s, e in spans]
    body = _highlighted(text[start:end], shifted)
    return ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")


PageImages = Callable[[qa.Citation], Any]  # citation -> qa.page_view.PageImage | None


def _page_figure(citation: qa.Citation, page_image: PageImages | None) -> str:
    """A PDF citation's page as an image, the quoted sentences highlighted ("" for other formats)."""
    if page_image is None or citation.page is None:
        return ""
    try:
        image = page_image(citation)
    except ValueError as exc:  # the file changed or cannot be read now: the text view stays
        log.warning("no page image for %s: %s", citation.path, exc)
        return ""
    if image is None:
        return ""
    data = base64.b64encode(image.png).decode("ascii")
    return (f'<figure><img class="qa-page" src="data:image/png;base64,{data}" '
            f'alt="page {image.page} of {html.escape(citation.path)}">'
            f'<figcaption>p. {image.page}, quoted text highlighted</figcaption></figure>')


def render_sources(answer: qa.Answer | None, page_image: PageImages | None = None) -> str:
    """The sources panel: every cited passage with its source and the quoted sentences marked;
    for a PDF (with `page_image`, e.g. Assistant.citation_page) the page beside the text."""
    if answer is None:
        return '<div class="qa-empty">Sources of the latest answer appear here.</div>'
    if answer.abstained:
        return (f'{_scope_line(answer)}<div class="qa-badge abstain">{_no_answer(answer)}</div>'
                '<div class="qa-empty">Nothing is cited: no passage answers this question.</div>')
    cards = [_scope_line(answer)] if answer.documents else []
    if answer.conflict:
        cards.append('<div class="qa-badge conflict">Sources disagree: each side is cited</div>')
    for c in answer.citations:
        when = f" · {html.escape(c.date)}" if c.date else ""
        publisher = html.escape(c.publisher) if c.publisher else "Unknown publisher"
        page = f"p. {c.page}, " if c.page is not None else ""
        text_view = f'<div class="passage">{_excerpt(c.text, c.highlights)}</div>'
        figure = _page_figure(c, page_image)
        cards.append(
            f'<div class="qa-source" id="src-{c.number}">'
            f'<div><span class="num">{c.number}</span><span class="title">{html.escape(c.title or c.path)}</span></div>'
            f'<div class="meta">{publisher}{when} · {html.escape(c.path)}, {page}characters {c.start}–{c.end}</div>'
            + (f'<div class="qa-page-view">{text_view}{figure}</div>' if figure else text_view) +
            f'<details><summary>Whole passage</summary><div class="passage">'
            f'{_highlighted(c.text, c.highlights)}</div></details></div>')
    return '<div class="qa-sources">' + "".join(cards) + "</div>"


def document_rows(assistant: qa.Assistant) -> list[list[Any]]:
    try:
        documents = assistant.documents()
    except qa.IndexUnavailable as exc:  # busy, or its Chroma server is down: the status line and chat say so
        log.warning("cannot list the documents: %s", exc)
        return []
    return [[_cut(d["title"], TITLE_CHARS), d["publisher"], d["date"], d["chunks"], _kept(d.get("kept")), d["path"]]
            for d in documents]


def document_choices(assistant: qa.Assistant) -> list[tuple[str, str]]:
    """The Ask tab's document selector: (label, path) of every indexed document."""
    try:
        documents = assistant.documents()
    except qa.IndexUnavailable:  # the status line and the chat say why
        return []
    return [(f"{_cut(d['title'], TITLE_CHARS)} · {d['path']}" if d["title"] != d["path"] else d["path"], d["path"])
            for d in documents]


def checked_documents(documents: Any) -> list[str] | None:
    """The selector's value: None (every document) when empty, else the paths or patterns
    chosen; ValueError for what the page never sends."""
    if documents is None or documents == [] or documents == "":
        return None
    if isinstance(documents, str):
        documents = [documents]
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise ValueError("Documents must be a list of document paths or glob patterns")
    return documents


def _cut(text: str, limit: int) -> str:
    text = str(text or "")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _kept(share: float | None) -> str:
    """The share of a file's text that cleaning kept, as a percentage ("" when not recorded)."""
    return "" if share is None else f"{share:.0%}"


def index_summary(assistant: qa.Assistant) -> str:
    state, detail = assistant.index_status()
    labels = {"current": "Index up to date", "stale": "Index out of date (re-index to include changes)",
              "missing": "No index yet", "incompatible": "Index built with another model or chunker"}
    return f"**{labels.get(state, state)}** — {escape_markdown(detail)}"


def bounded_history(turns: list[Any], max_turns: int, max_chars: int) -> list[Any]:
    """The most recent turns: at most max_turns of them, holding at most max_chars characters."""
    kept: list[Any] = []
    size = 0
    for turn in reversed(turns[-max_turns:]):
        size += sum(len(str(part)) for part in turn)
        if size > max_chars and kept:
            break
        kept.append(turn)
    return kept[::-1]


def checked_options(top_k: Any, mode: Any, answerer: Any, answerers: list[str]) -> tuple[int, str, str]:
    """The Settings accordion's values, or ValueError with a message for the person asking (they
    come from the page, or from any client of the API)."""
    low, high = TOP_K_RANGE
    if isinstance(top_k, bool) or not isinstance(top_k, (int, float)) or not math.isfinite(top_k) \
            or top_k != int(top_k) or not low <= top_k <= high:
        raise ValueError(f"Passages retrieved (top-k) must be a whole number from {low} to {high}, "
                         f"not {str(top_k)[:40]}")
    if mode not in RETRIEVAL_MODES:
        raise ValueError(f"Retrieval must be one of {', '.join(RETRIEVAL_MODES)}, not {str(mode)[:40]}")
    if answerer not in answerers:
        raise ValueError(f"Answerer must be one of {', '.join(answerers)}, not {str(answerer)[:40]}")
    return int(top_k), mode, answerer


def build_app(assistant: qa.Assistant, api_visibility: str = "public") -> gr.Blocks:
    """The app. The conversation lives on the server (in session state): a client sends only the
    new question and the settings, never a history, so it cannot send a huge or malformed one."""
    settings = assistant.settings
    answerers = answerer_choices(settings)  # "auto", the default setting, is always one of them

    def kept(chat: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return chat[-2 * settings.max_history_turns:]  # what is shown: as many turns as are kept

    def respond(message: Any, shown: list[dict[str, Any]], turns: list[list[str]], top_k: Any, mode: Any,
                answerer: Any, documents: Any = None) -> Iterator[tuple[Any, ...]]:
        text = message if isinstance(message, str) else ""
        chat = list(shown or []) + [{"role": "user", "content": escape_markdown(_cut(text, SHOWN_QUESTION_CHARS))},
                                    {"role": "assistant", "content": "…"}]
        # On an error the question goes back to the box to be edited, unless it is too long to be.
        back = text if len(text) <= settings.max_question_chars else ""
        yield chat, gr.update(), gr.update(), gr.update(), ""

        def failed(why: str) -> tuple[Any, ...]:
            chat[-1] = {"role": "assistant", "content": "⚠️ " + escape_markdown(why)}
            return kept(chat), kept(chat), gr.update(), gr.update(), back

        try:
            top_k, mode, answerer = checked_options(top_k, mode, answerer, answerers)
            generating = bool(settings.llm) and answerer != "extractive"
            for text_so_far, answer in assistant.stream(message, history=turns, documents=checked_documents(documents),
                                                        top_k=top_k, retrieval_mode=mode, answerer=answerer):
                chat[-1] = {"role": "assistant",
                            "content": render_answer(text_so_far, answer, drafting=generating and answer is None)}
                if answer is None:
                    yield chat, gr.update(), gr.update(), gr.update(), ""
                else:
                    history = bounded_history(turns + [[message, answer.text]], settings.max_history_turns,
                                              settings.max_history_chars)
                    yield kept(chat), kept(chat), render_sources(answer, assistant.citation_page), history, ""
        except (ValueError, qa.QuestionError) as exc:
            yield failed(str(exc))
        except qa.IndexUnavailable as exc:  # its message says what to do; no traceback needed
            log.warning("could not answer: %s", exc)
            yield failed(f"Could not answer: {exc}")
        except Exception as exc:  # noqa: BLE001 - a short message in the chat, the details in the log
            log.exception("answering failed")
            yield failed(f"Could not answer: {type(exc).__name__}: {exc}"[:300])

    def new_conversation() -> tuple[Any, ...]:
        return [], [], render_sources(None), [], ""

    def corpus_view() -> tuple[Any, Any]:
        return document_rows(assistant), index_summary(assistant)

    def scope_view(selected: Any = None) -> Any:
        """The selector's documents as indexed now; chosen documents that are gone are dropped
        from the choice (typed patterns stay: they are checked when the question is asked)."""
        choices = document_choices(assistant)
        paths = {path for _, path in choices}
        kept = [d for d in (selected if isinstance(selected, list) else [])
                if isinstance(d, str) and (d in paths or any(c in d for c in "*?[") or d.endswith("/"))]
        return gr.update(choices=choices, value=kept)

    def reindex(progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008 - gradio's idiom
        try:
            report = assistant.ingest(progress=lambda done, total: progress(done / max(total, 1),
                                                                          desc="Embedding chunks"))
            message = escape_markdown(report.summary())
        except Exception as exc:  # noqa: BLE001
            log.exception("re-index failed")
            message = "⚠️ " + escape_markdown(f"Re-index failed: {exc}")
        return *corpus_view(), message

    def upload(path: str | None) -> tuple[Any, ...]:
        if not path:
            return gr.update(), gr.update(), "Choose a .txt, .md, .html, .pdf or .docx file first.", None
        source = Path(path)
        try:
            name = safe_filename(source.name)  # the name it is stored under, not Gradio's temporary one
            if source.stat().st_size > settings.max_upload_bytes:
                raise ValueError(f"{name} is larger than {settings.max_upload_bytes / 1e6:.0f} MB")
            report = assistant.add_document(source.name, source.read_bytes())
            message = f"Added **{escape_markdown(name)}**. " + escape_markdown(report.summary())
        except (ValueError, OSError, qa.IndexUnavailable) as exc:
            message = "⚠️ " + escape_markdown(str(exc))
        finally:
            _remove_upload(source)
        return *corpus_view(), message, None

    with gr.Blocks(title="qa — answers with receipts", delete_cache=CACHE_CLEANUP) as demo:
        turns = gr.State([])
        shown = gr.State([])
        with gr.Column(elem_classes="qa-header"):
            gr.Markdown("# qa — answers with receipts\nAsk about the documents. Every statement cites "
                        "the passage it comes from; hover or click a **[n]** to see it.")
        with gr.Tab("Ask"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    # No LaTeX: "$$5 million or $$10 million" is money, not a formula.
                    chatbot = gr.Chatbot(label="Conversation", show_label=False, height=520, elem_id="chat",
                                         sanitize_html=True, render_markdown=True, buttons=["copy"],
                                         feedback_options=None, latex_delimiters=[])
                    with gr.Row():
                        question = gr.Textbox(placeholder="Ask a question about the corpus…", show_label=False,
                                              scale=5, max_length=settings.max_question_chars,
                                              elem_id="question", autofocus=True)
                        ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    # Multiselect over the indexed documents; a typed glob pattern (reports/*.pdf) is
                    # accepted as well. Filled when a page loads and after every ingest.
                    scope = gr.Dropdown([], value=[], multiselect=True, allow_custom_value=True,
                                        label="Documents", elem_id="scope",
                                        info="Ask only about these documents (empty: all of them); a glob pattern "
                                             "such as reports/*.pdf may be typed too")
                    with gr.Row():
                        clear = gr.Button("New conversation", size="sm", elem_id="new-conversation")
                    gr.Examples(EXAMPLES, inputs=question, label="Try one of these")
                with gr.Column(scale=2):
                    gr.Markdown("### Sources")
                    sources = gr.HTML(render_sources(None), elem_id="sources")
            with gr.Accordion("Settings", open=False):
                with gr.Row():
                    top_k = gr.Slider(*TOP_K_RANGE, value=settings.top_k, step=1,
                                      label="Passages retrieved (top-k)")
                    mode = gr.Radio(list(RETRIEVAL_MODES), value=settings.retrieval_mode, label="Retrieval")
                    answerer = gr.Dropdown(answerers, value=settings.answerer, label="Answerer",
                                           info=f"language model: {settings.llm}" if settings.llm
                                           else "set QA_LLM to add a language model")
        with gr.Tab("Corpus"):
            # Filled when a page loads and after every ingest, never from when the app was built.
            status = gr.Markdown(elem_id="index-status")
            documents = gr.Dataframe(headers=["Title", "Publisher", "Date", "Chunks", "kept", "File"],
                                     column_widths=["32%", "16%", "10%", "8%", "7%", "27%"],
                                     interactive=False, wrap=True, elem_id="documents")
            with gr.Row():
                reindex_button = gr.Button("Re-index", elem_id="reindex")
                upload_file = gr.File(label=f"Add a document (.txt, .md, .html, .pdf, .docx; up to "
                                            f"{settings.max_upload_bytes / 1e6:.0f} MB)",
                                      file_types=[".txt", ".md", ".html", ".htm", ".pdf", ".docx"], type="filepath",
                                      elem_id="upload")
            corpus_message = gr.Markdown(elem_id="corpus-message")

        outputs = [chatbot, shown, sources, turns, question]
        inputs = [question, shown, turns, top_k, mode, answerer, scope]
        ask.click(respond, inputs, outputs, api_visibility=api_visibility)
        question.submit(respond, inputs, outputs, api_visibility="private")
        clear.click(new_conversation, None, outputs, api_visibility="private")
        chatbot.clear(new_conversation, None, outputs, api_visibility="private")  # the chat's own Clear button
        demo.load(corpus_view, None, [documents, status], api_visibility="private")
        demo.load(scope_view, None, scope, api_visibility="private")
        # Uploads and re-indexing wait their turn in one queue of their own: one ingest at a time.
        ingest_queue = {"concurrency_limit": 1, "concurrency_id": "ingest", "api_visibility": api_visibility}
        reindex_button.click(reindex, None, [documents, status, corpus_message], api_name="reindex", **ingest_queue) \
            .then(scope_view, scope, scope, api_visibility="private")
        upload_file.upload(upload, upload_file, [documents, status, corpus_message, upload_file], api_name="upload",
                           **ingest_queue).then(scope_view, scope, scope, api_visibility="private")
    return demo


def _remove_upload(path: Path) -> None:
    """Delete Gradio's temporary copy of an upload once it has been read (and its folder, if empty)."""
    try:
        path.unlink(missing_ok=True)
        path.parent.rmdir()
    except OSError:
        pass


def settings_from_args(argv: list[str] | None = None) -> qa.Settings:
    """The app's settings: QA_* variables and qa.toml, and --corpus DIR (exit 2 on a bad setting)."""
    parser = argparse.ArgumentParser(description="The qa web app (settings: QA_* variables or qa.toml).")
    parser.add_argument("--corpus", metavar="DIR", help="the folder of documents (QA_CORPUS_DIR, default corpus); "
                        "each folder keeps its own index, the one `qa ingest --corpus DIR` builds")
    args = parser.parse_args(argv)
    try:
        return qa.load_settings(corpus_dir=args.corpus)
    except qa.ConfigError as exc:
        parser.exit(2, f"qa: {exc}\n")


def login_guard(settings: qa.Settings) -> LoginGuard | None:
    """The one password check for QA_AUTH, shared by the login page and the HTTP API (so failed
    attempts on either count together); None without a login."""
    if not settings.auth:
        return None
    username, sep, password = settings.auth.partition(":")
    if not sep or not username or not password:
        raise SystemExit("QA_AUTH must look like user:password")
    return LoginGuard(username, password)


def login_check(guard: LoginGuard | None) -> Any:
    """Gradio's auth= for the guard: the password checked, failed logins throttled and logged."""
    if guard is None:
        return None

    def check(user: str, given: str) -> bool:
        try:
            return guard(user, given)
        except LoginThrottled as exc:  # 400, the status Gradio's login page shows an error for
            raise HTTPException(status_code=400, detail=f"Login refused: {exc}",
                                headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))}) from None

    return check


LOGIN_MESSAGE = ("After three wrong passwords, logins from this address or for this user wait a while "
                 "before the next attempt, twice as long each time (up to five minutes), and are refused "
                 "meanwhile even with the right password.")


def main(argv: list[str] | None = None) -> None:
    settings = settings_from_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    guard = login_guard(settings)
    auth = login_check(guard)
    assistant = qa.Assistant(settings)
    try:
        print(index_summary(assistant) if assistant.retriever() else "", file=sys.stderr)
    except qa.IndexUnavailable as exc:
        # E.g. the Chroma server is not up yet: the app starts anyway, questions say what is
        # wrong, and answer once it is fixed.
        print(f"qa: {exc}", file=sys.stderr)
    # Behind a login Gradio's API is left out of the page (Gradio embeds its schema in the login page).
    demo = build_app(assistant, api_visibility="undocumented" if auth else "public")
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=64)
    # One server: the JSON API under /api (qa.http_api), the web app mounted at / on the same
    # FastAPI app, both behind the same login.
    server = create_api(assistant, guard)
    server.add_middleware(ClientAddress)
    gr.mount_gradio_app(server, demo, path="/", server_name=settings.host, server_port=settings.port, auth=auth,
                        auth_message=LOGIN_MESSAGE if auth else None, show_error=False,
                        allowed_paths=[], footer_links=[], css=CSS, head=HEAD, theme=gr.themes.Soft(),
                        max_file_size=settings.max_upload_bytes, enable_monitoring=settings.monitoring)
    # Open connections (a page's event stream) get 5 s to finish when the server is stopped.
    uvicorn.run(server, host=settings.host, port=settings.port, log_level="info", access_log=False,
                timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
