"""The JSON HTTP API of the running app, over real HTTP: `python app.py` on a free loopback port,
reached with httpx, curl and gradio_client; once open and once behind QA_AUTH.

The open app answers from a copy of the shipped corpus (indexed when it starts). The guarded one
starts without an index and with auto_ingest off, so it answers 503 until it is ingested."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import httpx
import pytest
from conftest import REPO
from helpers import FIVE, index_lock_held, sse_events, start_app, stop

pytestmark = pytest.mark.slow
USER, PASSWORD = "reader", "s3cret"
QUESTION = "Who commands the Quds Force?"
ROUTES = [("POST", "/api/ask"), ("POST", "/api/ask/stream"), ("GET", "/api/documents"), ("GET", "/api/status"),
          ("POST", "/api/ingest"), ("GET", "/api/openapi.json"), ("GET", "/api/docs")]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    process, url, corpus = start_app(root)
    yield url.rstrip("/"), corpus, root
    stop(process)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    root = tmp_path_factory.mktemp("api-guarded")
    process, url, corpus = start_app(root, QA_AUTH=f"{USER}:{PASSWORD}", QA_AUTO_INGEST="false")
    yield url.rstrip("/"), corpus, root
    stop(process)




def stream(url: str, body: dict, **kwargs) -> tuple[httpx.Response, str]:
    with httpx.stream("POST", url + "/api/ask/stream", json=body, timeout=120, **kwargs) as response:
        return response, "".join(response.iter_text())


def without_timings(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


# Asking --------------------------------------------------------------------------------------
def test_an_answer_over_http_is_the_answer_of_the_python_api(served, assistant):
    url = served[0]
    response = httpx.post(url + "/api/ask", json={"question": QUESTION}, timeout=120)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert without_timings(answer) == without_timings(assistant.ask(QUESTION).to_dict())
    assert answer["citations"] and not answer["abstained"] and "[1]" in answer["text"]
    dense = httpx.post(url + "/api/ask", json={"question": QUESTION, "top_k": 3, "retrieval_mode": "dense"},
                       timeout=120).json()
    assert without_timings(dense) == without_timings(assistant.ask(QUESTION, top_k=3, retrieval_mode="dense")
                                                     .to_dict())


def test_a_scoped_question_cites_only_the_chosen_document_and_an_unknown_one_is_a_400(served):
    url = served[0]
    path = next(d["path"] for d in httpx.get(url + "/api/documents", timeout=60).json()["documents"])
    answer = httpx.post(url + "/api/ask", json={"question": QUESTION, "documents": [path]}, timeout=120).json()
    assert answer["documents"] == [path]
    assert all(c["path"] == path for c in answer["citations"]), answer["citations"]
    refused = httpx.post(url + "/api/ask", json={"question": QUESTION, "documents": ["no-such-*.pdf"]}, timeout=60)
    assert refused.status_code == 400 and refused.json()["error"] == "unknown_documents"
    assert "no-such-*.pdf" in refused.json()["message"]


def test_a_follow_up_is_answered_from_its_history(served):
    history = [[QUESTION, "Qassem Soleimani commands the Quds Force [1]."]]
    answer = httpx.post(served[0] + "/api/ask", json={"question": "Was he wounded?", "history": history},
                        timeout=120).json()
    assert answer["standalone_question"] == "Was Qassem Soleimani wounded?"
    assert "wounded" in answer["text"] and answer["citations"]


def test_the_stream_sends_growing_drafts_then_the_answer(served):
    url = served[0]
    response, text = stream(url, {"question": QUESTION})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    received = sse_events(text)
    assert [name for name, _ in received[:-1]] == ["draft"] * (len(received) - 1) and received[-1][0] == "answer"
    drafts, answer = [data["text"] for _, data in received[:-1]], received[-1][1]
    assert len(drafts) >= 2      # this answer has several sentences: they come one by one
    assert all(answer["text"].startswith(draft) and draft for draft in drafts)
    assert all(len(a) < len(b) for a, b in zip(drafts, drafts[1:]))
    asked = httpx.post(url + "/api/ask", json={"question": QUESTION}, timeout=120).json()
    assert without_timings(answer) == without_timings(asked)


def test_bad_input_to_the_stream_gets_its_status_before_any_event(served):
    response, text = stream(served[0], {"question": "   "})
    assert response.status_code == 400 and response.headers["content-type"] == "application/json"
    assert json.loads(text)["error"] == "bad_question"


# Errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "status", "code", "says"), [
    ({"question": ""}, 400, "bad_question", "the question is empty"),
    ({"question": "Who? " * 600}, 400, "bad_question", "the limit is 2,000"),
    ({"question": "Who?\u0000"}, 400, "bad_question", "NUL"),
    ({"question": QUESTION, "history": [["q", "a"]] * 51}, 400, "bad_question", "the limit is 50"),
    ({"question": QUESTION, "answerer": "llm"}, 400, "bad_setting", "needs a language model"),
    ({"question": 42}, 422, "invalid_request", "question: Input should be a valid string"),
    ({}, 422, "invalid_request", "question: Field required"),
    ({"question": QUESTION, "top_k": 0}, 422, "invalid_request", "top_k: Input should be greater than or equal to 1"),
    ({"question": QUESTION, "top_k": 11}, 422, "invalid_request", "top_k: Input should be less than or equal to 10"),
    ({"question": QUESTION, "top_k": 2.5}, 422, "invalid_request", "top_k"),
    ({"question": QUESTION, "retrieval_mode": "fuzzy"}, 422, "invalid_request", "'hybrid', 'dense' or 'keyword'"),
    ({"question": QUESTION, "history": [["only a question"]]}, 422, "invalid_request", "history.0.1"),
    ({"question": QUESTION, "history": "not a list"}, 422, "invalid_request", "history"),
    ({"question": QUESTION, "k": 3}, 422, "invalid_request", "k: Extra inputs are not permitted"),
])
def test_bad_input_gets_400_or_422_with_a_message(served, body, status, code, says):
    response = httpx.post(served[0] + "/api/ask", json=body, timeout=60)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["error"] == code and says in error["message"], error
    assert "Traceback" not in response.text


def test_a_body_that_is_not_json_is_refused_with_422(served):
    url = served[0]
    for headers, content in [({"content-type": "application/json"}, b"{not json"),
                             ({"content-type": "text/plain"}, json.dumps({"question": QUESTION}).encode())]:
        response = httpx.post(url + "/api/ask", content=content, headers=headers, timeout=30)
        assert response.status_code == 422 and response.json()["error"] == "invalid_request", response.text


def test_a_huge_body_is_refused_with_413_before_it_is_read(served):
    url = served[0]
    huge = json.dumps({"question": "Who? " * 400_000}).encode()       # 2 MB
    declared = httpx.post(url + "/api/ask", content=huge, headers={"content-type": "application/json"}, timeout=30)
    chunked = httpx.post(url + "/api/ask", content=iter([huge[i:i + 65536] for i in range(0, len(huge), 65536)]),
                         headers={"content-type": "application/json"}, timeout=30)
    for response in (declared, chunked):
        assert response.status_code == 413 and response.json()["error"] == "too_large", response.text


def test_unknown_routes_and_methods_get_json(served):
    url = served[0]
    missing = httpx.get(url + "/api/nothing-here", timeout=10)
    assert missing.status_code == 404 and "/api/docs" in missing.json()["message"]
    wrong = httpx.get(url + "/api/ask", timeout=10)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"


# The corpus ----------------------------------------------------------------------------------
def test_documents_and_status_describe_the_index(served):
    url = served[0]
    documents = httpx.get(url + "/api/documents", timeout=60).json()["documents"]
    assert FIVE <= {d["path"] for d in documents}
    assert all(d["title"] and d["chunks"] > 0 for d in documents)
    status = httpx.get(url + "/api/status", timeout=60).json()
    assert status["index"]["state"] == "current" and status["index"]["documents"] == len(documents)
    assert status["index"]["chunks"] == sum(d["chunks"] for d in documents)
    assert status["index"]["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert status["answerer"] == "auto" and status["answerers"] == ["auto", "extractive"] and status["llm"] is None
    assert status["version"] == __import__("qa").__version__


def test_ingest_adds_a_new_file_and_refuses_while_another_process_ingests(served):
    url, corpus, root = served
    (corpus / "api-note.txt").write_text("Inventory of the Palmyra depot\n\nThe quartermaster counted forty-two "
                                         "camels at the Palmyra depot on Tuesday, according to the note filed "
                                         "with the inventory.\n", encoding="utf-8")
    assert httpx.get(url + "/api/status", timeout=30).json()["index"]["state"] == "stale"
    report = httpx.post(url + "/api/ingest", timeout=300).json()
    assert report["added"] == ["api-note.txt"] and report["embedded"] >= 1 and "1 added" in report["summary"]
    assert "api-note.txt" in {d["path"] for d in httpx.get(url + "/api/documents", timeout=30).json()["documents"]}
    answer = httpx.post(url + "/api/ask", json={"question": "How many camels did the quartermaster count at "
                                                            "the Palmyra depot?"}, timeout=120).json()
    assert "forty-two camels" in answer["text"] and answer["citations"][0]["path"] == "api-note.txt"
    with index_lock_held(corpus, root / "index") as holder:
        refused = httpx.post(url + "/api/ingest", json={"rebuild": True}, timeout=60)
        assert refused.status_code == 409 and refused.headers["retry-after"] == "5"
        assert refused.json() == {"error": "ingest_running", "message": f"another ingest (pid {holder.pid}) is "
                                  f"updating {root / 'index'}; wait for it to finish and try again"}
        # Questions are still answered from the current index meanwhile.
        assert httpx.post(url + "/api/ask", json={"question": QUESTION}, timeout=120).status_code == 200
    assert httpx.post(url + "/api/ingest", json={}, timeout=300).json()["unchanged"]


# The schema and the examples ----------------------------------------------------------------
def test_the_schema_documents_the_api_and_not_gradio(served):
    schema = httpx.get(served[0] + "/api/openapi.json", timeout=30).json()
    assert set(schema["paths"]) == {"/api/ask", "/api/ask/stream", "/api/documents", "/api/status", "/api/ingest"}
    asked = schema["components"]["schemas"]["AskRequest"]
    assert set(asked["properties"]) == {"question", "history", "documents", "top_k", "retrieval_mode", "answerer"}
    assert asked["required"] == ["question"]
    assert "text/event-stream" in schema["paths"]["/api/ask/stream"]["post"]["responses"]["200"]["content"]
    assert httpx.get(served[0] + "/api/docs", timeout=30).status_code == 200


def _blocks(text: str, fence: str) -> list[str]:
    return re.findall(rf"^```{fence}\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def test_the_readme_curl_examples_work(served):
    url = served[0]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## HTTP API", 1)[1].split("\n## ", 1)[0]
    commands = [block.replace("\\\n", " ") for block in _blocks(section, "sh")]
    assert len(commands) == 2 and all(c.startswith("curl ") for c in commands)
    outputs = []
    for command in commands:
        done = subprocess.run(shlex.split(command.replace("http://127.0.0.1:7860", url)), capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert json.loads(outputs[0])["citations"]
    assert sse_events(outputs[1])[-1][0] == "answer" and sse_events(outputs[1])[-1][1]["citations"]


def test_the_python_streaming_example_of_the_reference_works(served):
    reference = (REPO / "docs" / "http-api.md").read_text(encoding="utf-8")
    [code] = [block for block in _blocks(reference, "python") if "/api/ask/stream" in block]
    done = subprocess.run([sys.executable, "-c", code.replace("http://127.0.0.1:7860", served[0])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("answer ") and done.stdout.startswith("draft ")


# The web app's own endpoints, through gradio_client ------------------------------------------
def test_the_chat_endpoint_works_with_gradio_client_and_its_own_defaults(served):
    from gradio_client import Client

    app = Client(served[0] + "/", verbose=False)
    parameters = app.view_api(return_format="dict", print_info=False)["named_endpoints"]["/respond"]["parameters"]
    defaults = {p["parameter_name"]: p["parameter_default"] for p in parameters if p["parameter_has_default"]}
    assert defaults == {"top_k": 5, "mode": "hybrid", "answerer": "auto", "documents": []}
    chat = app.predict(QUESTION, api_name="/respond")[0]             # the defaults: answerer "auto"
    follow_up = app.predict("How many Hezbollah fighters had died in Syria?", 3, "dense", "auto",
                            api_name="/respond")[0]
    for reply in (chat[1], follow_up[-1]):
        assert reply["role"] == "assistant"
        text = "".join(part.get("text", "") for part in reply["content"]) if isinstance(reply["content"], list) \
            else reply["content"]
        assert 'class="cite cite-1"' in text and "⚠️" not in text, text


# Behind QA_AUTH ------------------------------------------------------------------------------
def _client(source: str = "127.0.0.1") -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=60)


def test_every_api_route_needs_the_login(guarded):
    url = guarded[0]
    for n, (method, path) in enumerate(ROUTES):
        body = {"question": QUESTION} if path.startswith("/api/ask") else None
        with _client(f"127.0.3.{n + 1}") as http:
            anonymous = http.request(method, url + path, json=body)
            wrong = http.request(method, url + path, json=body, auth=(f"guess{n}", "guess"))
        for response in (anonymous, wrong):
            assert response.status_code == 401, (path, response.status_code, response.text)
            assert response.headers["www-authenticate"].startswith("Basic ")
            assert response.json()["error"] == "unauthorized"
    # The login comes first: a body is not even looked at without it.
    garbled = httpx.post(url + "/api/ask", content=b"{not json", headers={"content-type": "application/json"},
                         timeout=30)
    assert garbled.status_code == 401
    assert httpx.get(url + "/api/status", auth=(USER, PASSWORD), timeout=30).status_code == 200
    assert httpx.get(url + "/api/docs", auth=(USER, PASSWORD), timeout=30).status_code == 200
    schema = httpx.get(url + "/api/openapi.json", auth=(USER, PASSWORD), timeout=30).json()
    assert schema["components"]["securitySchemes"] == {"HTTPBasic": {"type": "http", "scheme": "basic"}}


def test_wrong_passwords_over_the_api_are_throttled_like_logins(guarded):
    url = guarded[0]
    with _client("127.0.4.1") as http:
        for _ in range(4):
            assert http.get(url + "/api/status", auth=("mallory", "guess")).status_code == 401
        refused = http.get(url + "/api/status", auth=(USER, PASSWORD))   # right, but this address waits
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert "too many failed logins" in refused.json()["message"]
    assert "failed login for user 'mallory' from 127.0.4.1" in (guarded[2] / "app.log").read_text()


def test_without_an_index_the_api_answers_503_until_ingested_through_it(guarded):
    url = guarded[0]
    auth = (USER, PASSWORD)
    status = httpx.get(url + "/api/status", auth=auth, timeout=30).json()
    assert status["index"]["state"] == "missing" and status["auto_ingest"] is False
    asked, streamed = httpx.post(url + "/api/ask", json={"question": QUESTION}, auth=auth, timeout=60), \
        stream(url, {"question": QUESTION}, auth=auth)
    listed = httpx.get(url + "/api/documents", auth=auth, timeout=60)
    for status, text in [(asked.status_code, asked.text), (streamed[0].status_code, streamed[1]),
                         (listed.status_code, listed.text)]:
        assert status == 503, text
        assert json.loads(text)["error"] == "index_unavailable"
        assert json.loads(text)["message"].endswith("build it with: qa ingest")
    report = httpx.post(url + "/api/ingest", auth=auth, timeout=300).json()
    assert set(report["added"]) == FIVE and report["rebuilt"]
    answer = httpx.post(url + "/api/ask", json={"question": QUESTION}, auth=auth, timeout=120).json()
    assert answer["citations"] and not answer["abstained"]
    response, text = stream(url, {"question": QUESTION}, auth=auth)
    name, streamed = sse_events(text)[-1]
    assert response.status_code == 200 and name == "answer" and without_timings(streamed) == without_timings(answer)
    assert httpx.get(url + "/api/status", auth=auth, timeout=30).json()["index"]["state"] == "current"
