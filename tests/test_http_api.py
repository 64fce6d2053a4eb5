"""The JSON HTTP API in process (FastAPI's TestClient over qa.http_api.create_api, a real index and
the real embedding model): what needs a scripted language model or a held lock. The running app
is tested over real HTTP in test_http_api_server.py."""

from __future__ import annotations

import threading

import pytest
from conftest import settings_for
from fastapi.testclient import TestClient
from helpers import sse_events

import qa
from qa.assistant import Assistant
from qa.errors import IndexBusy, StoreUnavailable
from qa.http_api import create_api, error_response, scope

QUESTION = "How many IRGC deaths were announced after the operation began on Jan. 31?"
SUPPORTED_REPLY = "Since Jan. 31 the IRGC has announced at least 42 fatalities [1]."




def test_a_language_model_draft_streams_token_by_token_then_the_checked_answer(shipped):
    from fakes import ScriptedChatModel

    bot = Assistant(shipped, chat_model=ScriptedChatModel([SUPPORTED_REPLY]))
    with TestClient(create_api(bot)) as client:
        response = client.post("/api/ask/stream", json={"question": QUESTION})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    received = sse_events(response.text)
    names = [name for name, _ in received]
    assert names[-1] == "answer" and set(names[:-1]) == {"draft"} and len(names) >= 6
    drafts = [data["text"] for _, data in received[:-1]]
    assert all(later.startswith(earlier) and later != earlier for earlier, later in zip(drafts, drafts[1:]))
    assert drafts[-1] == SUPPORTED_REPLY      # the model's reply as written, unchecked
    answer = received[-1][1]
    assert answer["answerer"] == "llm" and answer["generation"]["model"] == "scripted test model"
    assert "42 fatalities" in answer["text"] and answer["citations"]


def test_an_ingest_running_in_this_process_makes_another_get_409_at_once(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "depot.txt").write_text("Depot note\n\nThe depot keeps nineteen blue lanterns in its north shed.\n",
                                      encoding="utf-8")
    bot = Assistant(settings_for(tmp_path))
    embedding, release = threading.Event(), threading.Event()

    def hold(done: int, total: int) -> None:
        embedding.set()
        assert release.wait(60)

    first = threading.Thread(target=lambda: bot.ingest(progress=hold))
    first.start()
    try:
        assert embedding.wait(120)
        with TestClient(create_api(bot)) as client:
            refused = client.post("/api/ingest")
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "ingest_running" and "in this process" in refused.json()["message"]
        assert refused.headers["retry-after"] == "5"
        with pytest.raises(IndexBusy):
            bot.ingest(wait=False)
    finally:
        release.set()
        first.join(120)
    assert bot.last_ingest is not None and bot.last_ingest.added == ["depot.txt"]
    with TestClient(create_api(bot)) as client:    # and once it is done, the next one runs
        assert client.post("/api/ingest", json={}).json()["unchanged"] == ["depot.txt"]


def test_status_reads_a_missing_index_without_building_it(tmp_path, corpus_copy):
    bot = Assistant(settings_for(tmp_path))        # auto_ingest is on: a question would build it
    with TestClient(create_api(bot)) as client:
        status = client.get("/api/status").json()
    assert status["index"] == {"state": "missing", "detail": f"no index in {tmp_path / 'index'}", "documents": 0,
                               "chunks": 0, "built": None, "embedding_model": None}
    assert status["version"] == qa.__version__ and status["answerers"] == ["auto", "extractive"]
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_a_scope_is_passed_on_and_an_empty_one_asks_the_whole_corpus():
    assert scope([]) == {}
    assert scope(["reports/*.pdf"]) == {"documents": ["reports/*.pdf"]}
    status, body, _ = error_response(qa.DocumentScopeError("no indexed document matches 'reports/*.pdf'"))
    assert status == 400 and body["error"] == "unknown_documents" and "reports/*.pdf" in body["message"]


@pytest.mark.parametrize(("error", "status", "code"), [
    (qa.QuestionError("the question is empty"), 400, "bad_question"),
    (qa.ConfigError("answerer=llm needs a language model"), 400, "bad_setting"),
    (IndexBusy("another ingest (pid 7) is updating index; wait for it to finish and try again"), 503, "index_busy"),
    (StoreUnavailable("the Chroma server at http://127.0.0.1:1 is not answering; start it with: chroma run"),
     503, "index_unavailable"),
    (qa.IndexUnavailable("no index in index; build it with: qa ingest"), 503, "index_unavailable"),
    (RuntimeError("boom"), 500, "internal_error"),
])
def test_each_error_gets_its_status_and_keeps_its_message(error, status, code):
    got, body, headers = error_response(error)
    assert (got, body["error"]) == (status, code)
    assert str(error) in body["message"] and "Traceback" not in body["message"]
    assert ("Retry-After" in headers) == (code == "index_busy")


def test_the_docs_page_lists_every_route_and_loads_nothing_from_elsewhere(assistant):
    with TestClient(create_api(assistant)) as client:
        page = client.get("/api/docs")
        schema = client.get("/api/openapi.json").json()
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for path in ("/api/ask", "/api/ask/stream", "/api/documents", "/api/status", "/api/ingest"):
        assert f"{path}</code>" in page.text and path in schema["paths"]
    assert "<script" not in page.text and "http://" not in page.text and "https://" not in page.text


def test_a_refused_stream_gives_its_question_slot_back(shipped):
    bot = Assistant(shipped, concurrency=1)     # one question at a time: a slot kept would block the next
    statuses: list[int] = []

    def calls() -> None:
        with TestClient(create_api(bot)) as client:
            for body in ({"question": ""}, {"question": "\u0000"}, {"question": "Who commands the Quds Force?"}):
                statuses.append(client.post("/api/ask/stream", json=body).status_code)
            statuses.append(client.post("/api/ask", json={"question": "Who commands the Quds Force?"}).status_code)

    worker = threading.Thread(target=calls, daemon=True)
    worker.start()
    worker.join(120)
    assert statuses == [400, 400, 200, 200]
