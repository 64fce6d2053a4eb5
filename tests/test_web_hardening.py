"""The web app under hostile or careless use, from outside: the app runs as `python app.py` on a
free loopback port and is reached with real HTTP (httpx, gradio_client) and Debian's Chromium.

Each test reproduces a defect found by probing the running app (issue 16). Answers are checked
only for what is stable while the answerer's wording changes: citations, abstention badges."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from helpers import index_lock_held, start_app, stop

pytestmark = pytest.mark.slow
LIMIT = 300_000            # QA_MAX_UPLOAD_BYTES for the shared app: small, so tests send little
TURNS = 2                  # QA_MAX_HISTORY_TURNS for the shared app


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardened")
    process, url, corpus = start_app(root, QA_MAX_UPLOAD_BYTES=str(LIMIT), QA_MAX_HISTORY_TURNS=str(TURNS))
    yield url, corpus, root
    stop(process)


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def upload(url: str, path: Path) -> str:
    """Upload a file through the app's upload event, as the Corpus tab does; the message shown."""
    from gradio_client import handle_file

    return client(url).predict(handle_file(str(path)), api_name="/upload")[2]


def call_respond(url: str, body: str) -> str:
    """POST a raw JSON body to the respond endpoint and read the whole event stream."""
    endpoint = url + "gradio_api/call/respond"
    started = httpx.post(endpoint, content=body, headers={"content-type": "application/json"}, timeout=30)
    assert started.status_code == 200, started.text
    with httpx.stream("GET", f"{endpoint}/{started.json()['event_id']}", timeout=120) as stream:
        return "".join(stream.iter_text())


def final_chat(stream: str) -> list[dict]:
    """The conversation of the last complete event in a respond stream."""
    data = [line[len("data: "):] for line in stream.splitlines() if line.startswith("data: ")]
    return json.loads(data[-1])[0]


def text_of(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


# 1. Uploads are limited at the server, and their temporary copies go ---------------------------
def test_an_upload_over_the_limit_is_cut_off_at_the_server_and_leaves_no_file(served):
    url, corpus, root = served
    started = time.monotonic()
    response = httpx.post(url + "gradio_api/upload", timeout=60,
                          files={"files": ("big.txt", b"a" * (20 * LIMIT), "text/plain")})
    assert response.status_code == 413, response.text
    assert f"maximum allowed size of {LIMIT} bytes" in response.text
    assert time.monotonic() - started < 10
    temp = root / "gradio-tmp"
    assert not [p for p in temp.rglob("*") if p.is_file() and p.stat().st_size > LIMIT]
    assert not (corpus / "big.txt").exists()


def test_an_uploaded_document_leaves_no_temporary_copy_behind(served, tmp_path):
    url, corpus, root = served
    source = tmp_path / "depot-note.txt"
    source.write_text("Depot note\n\nThe depot keeps nineteen blue lanterns in its north shed.\n", encoding="utf-8")
    message = upload(url, source)
    assert message.startswith("Added **depot\\-note.txt**"), message
    assert (corpus / "depot-note.txt").is_file()
    assert not [p for p in (root / "gradio-tmp").rglob("depot-note.txt")]


# 7. The upload message names the stored file ---------------------------------------------------
def test_the_upload_message_names_the_file_as_stored(served, tmp_path):
    url, corpus, _ = served
    source = tmp_path / "field notes (final).txt"   # stored as field-notes-final.txt
    source.write_text("Field notes\n\nThe field notes list eleven copper kettles.\n", encoding="utf-8")
    message = upload(url, source)
    assert message.startswith("Added **field\\-notes\\-final.txt**."), message
    assert (corpus / "field-notes-final.txt").is_file()


# 3. Simultaneous uploads queue in the process; another process still gets the clear message ----
def test_simultaneous_uploads_each_wait_their_turn_and_then_succeed(served, tmp_path):
    from gradio_client import handle_file

    url, corpus, _ = served
    names = [f"queued-{n}.txt" for n in range(3)]
    for n, name in enumerate(names):
        (tmp_path / name).write_text(f"Queued note {n}\n\nThe queued note number {n} counts {n + 3} "
                                     f"wooden crates in the yard.\n" * 20, encoding="utf-8")
    jobs = [client(url).submit(handle_file(str(tmp_path / name)), api_name="/upload") for name in names]
    messages = [job.result(timeout=300)[2] for job in jobs]
    for name, message in zip(names, messages):
        assert message.startswith(f"Added **{name.replace('-', chr(92) + '-')}**"), message
        assert (corpus / name).is_file()
    rows = client(url).predict(api_name="/reindex")[0]
    listed = {row[-1] for row in rows["data"]}
    assert set(names) <= listed


def test_an_ingest_in_another_process_still_gets_the_clear_message(served, tmp_path):
    url, corpus, root = served
    with index_lock_held(corpus, root / "index") as holder:
        source = tmp_path / "blocked.txt"
        source.write_text("Blocked note\n\nThe blocked note mentions seven iron gates.\n", encoding="utf-8")
        message = upload(url, source)
        assert f"another ingest (pid {holder.pid})" in message.replace("\\", ""), message
        assert not (corpus / "blocked.txt").exists()


# 5. The history: kept on the server, bounded; a question is not echoed whole -----------------
def test_the_api_takes_no_history_and_the_conversation_on_the_server_is_bounded(served):
    url = served[0]
    bot = client(url)
    parameters = bot.view_api(return_format="dict", print_info=False)["named_endpoints"]["/respond"]["parameters"]
    assert [p["parameter_name"] for p in parameters] == ["message", "top_k", "mode", "answerer", "documents"]
    questions = ["Who commands the Quds Force?", "How many Hezbollah fighters had died in Syria?",
                 "Where are Iraqi militia fighters who died in Syria being buried?"]
    for question in questions:
        chat = bot.predict(question, 5, "hybrid", "extractive", api_name="/respond")[0]
    assert len(chat) == 2 * TURNS
    shown = [text_of(m) for m in chat]
    assert questions[0] not in shown and questions[1] in shown[0] and questions[2] in shown[2]
    assert "cite" in shown[-1]  # the last answer is there, with its citations


def test_a_huge_question_is_refused_and_not_echoed_back(served):
    url = served[0]
    huge = "How many fighters died? " * 400_000      # 9.6 MB
    started = time.monotonic()
    stream = call_respond(url, json.dumps({"data": [huge, 5, "hybrid", "extractive", []]}))
    assert len(stream) < 100_000, len(stream)
    assert time.monotonic() - started < 30
    answer = text_of(final_chat(stream)[-1])
    assert "characters long and the limit is 2,000" in answer


# 7. Settings from a client are validated with a plain message ---------------------------------
@pytest.mark.parametrize(("values", "says"), [
    ('"Who commands the Quds Force?", NaN, "hybrid", "extractive", []', "must be a whole number from 1 to 10"),
    ('"Who commands the Quds Force?", 5, null, "extractive", []', "Retrieval must be one of hybrid, dense, keyword"),
    ('"Who commands the Quds Force?", 5, "hybrid", "extractive", [7]', "Documents must be a list of document paths"),
    ('"Who commands the Quds Force?", 5, "hybrid", "extractive", ["nothing/*.pdf"]',
     "no indexed document matches 'nothing/*.pdf'"),
])
def test_bad_settings_from_a_client_get_a_plain_message(served, values, says):
    stream = call_respond(served[0], '{"data": [' + values + "]}")
    answer = text_of(final_chat(stream)[-1])
    assert says in answer.replace("\\", ""), answer
    assert "qa.toml" not in answer and "Error" not in answer


# 6. Monitoring is off ---------------------------------------------------------------------------
def test_monitoring_is_off_and_writes_no_secret_url(served):
    url, _, root = served
    for path in ("monitoring", "monitoring/summary", "gradio_api/monitoring", "gradio_api/monitoring/summary"):
        response = httpx.get(url + path, timeout=10)
        assert response.status_code in (403, 404), (path, response.status_code, response.text[:200])
    assert "Monitoring URL" not in (root / "app.log").read_text()


# 2, 7. In a browser: a fresh page shows the corpus as it is now; long titles; no LaTeX; copy --
@pytest.fixture()
def page(browser, served):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served[0].rstrip("/"))
    page = context.new_page()
    page.goto(served[0])
    page.wait_for_selector("#question textarea")
    yield page
    context.close()


def test_a_page_loaded_after_uploads_shows_the_corpus_as_it_is_now(served, browser, tmp_path):
    url, corpus, _ = served
    source = tmp_path / "late-arrival.txt"
    source.write_text("Late arrival\n\nThe late arrival brought thirty glass jars.\n", encoding="utf-8")
    assert upload(url, source).startswith("Added")
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        page.goto(url)
        page.click("button[role=tab]:has-text('Corpus')")
        page.wait_for_function("() => document.querySelector('#documents').innerText.includes('late-arrival.txt')",
                               timeout=30000)
        files = len([p for p in corpus.iterdir() if p.suffix in (".txt", ".md", ".html")])
        page.wait_for_function(f"() => document.querySelector('#index-status').innerText.includes('{files} files')",
                               timeout=30000)
    finally:
        context.close()


def test_a_long_title_does_not_push_the_other_columns_out_of_view(served, page, tmp_path):
    title = ("The Annual Report of the Regional Water and Sanitation Infrastructure Assessment Committee on the "
             "Condition of Pumping Stations, Reservoirs, Treatment Plants and Distribution Networks")
    source = tmp_path / "long-title.md"
    source.write_text(f"# {title}\n\nThe long report counts fourteen brass bells.\n", encoding="utf-8")
    assert upload(served[0], source).startswith("Added")
    page.reload()
    page.click("button[role=tab]:has-text('Corpus')")
    page.wait_for_function("() => document.querySelector('#documents').innerText.includes('long-title.md')",
                           timeout=30000)
    table = page.locator("#documents").bounding_box()
    for header in ("Title", "Publisher", "Date", "Chunks", "kept", "File"):
        box = page.locator("#documents th", has_text=header).first.bounding_box()
        assert box["x"] + box["width"] <= table["x"] + table["width"] + 1, (header, box, table)
    cell = page.locator("#documents td", has_text="The Annual Report of the Regional").first
    box = cell.bounding_box()
    assert box["x"] + box["width"] <= table["x"] + table["width"] + 1
    assert cell.text_content().strip().endswith("…") and "Distribution Networks" not in cell.text_content()


def test_dollar_signs_in_a_question_are_shown_as_typed(page):
    question = "Did Iran pay $$5 million or $$10 million to Hezbollah?"
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function("() => document.querySelectorAll('#chat a.cite, #chat .qa-badge.abstain').length > 0",
                           timeout=90000)
    assert question in page.locator("#chat").inner_text()
    assert page.locator("#chat .katex, #chat math").count() == 0


def test_the_copy_button_copies_plain_text_with_the_markers(page):
    page.fill("#question textarea", "How many Hezbollah fighters had died in Syria?")
    page.click("#ask")
    page.wait_for_function("() => document.querySelectorAll('#chat a.cite').length > 0 && "
                           "!document.querySelector('#chat').innerText.trim().endsWith('…')", timeout=90000)
    page.wait_for_timeout(500)  # the last streamed sentence
    page.locator("#chat button[aria-label='Copy message']").last.click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    shown = page.locator("#chat .bot-row, #chat .message.bot").last.inner_text()
    assert "[1]" in copied, copied
    for markup in ("<a", "class=", "qa-badge", "\\", "&amp;", "&lt;"):
        assert markup not in copied, (markup, copied)
    # What is copied is what is shown, badge aside.
    assert " ".join(copied.split()) in " ".join(shown.split())


# 4. Logins are throttled; the API stays out of the login page ----------------------------------
@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    root = tmp_path_factory.mktemp("guarded")
    process, url, _ = start_app(root, QA_AUTH="reader:s3cret")
    yield url, root
    stop(process)


def login(url: str, password: str, source: str = "127.0.0.1", user: str = "reader") -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10) as http:
        return http.post(url + "login", data={"username": user, "password": password})


def test_failed_logins_are_throttled_per_client_and_per_user_and_logged(guarded):
    url, root = guarded
    for _ in range(3):
        assert login(url, "wrong").status_code == 400          # typing mistakes
    assert login(url, "s3cret").status_code == 200             # the right one clears them
    for _ in range(4):
        assert login(url, "wrong-guess").status_code == 400
    last_failure = time.monotonic()
    refused = login(url, "s3cret")                               # right, but during the back-off
    assert refused.status_code == 400
    assert "Login refused: too many failed logins" in refused.json()["detail"]
    assert refused.headers["retry-after"] == "1"
    # The same user from another address waits too (per user); so does this address for another user.
    assert "too many failed logins" in login(url, "s3cret", source="127.0.0.2").json()["detail"]
    assert "too many failed logins" in login(url, "x", user="someone").json()["detail"]
    time.sleep(max(0.0, 1.2 - (time.monotonic() - last_failure)))
    assert login(url, "s3cret").status_code == 200
    log = (root / "app.log").read_text()
    assert "failed login for user 'reader' from 127.0.0.1" in log
    assert "login refused for user 'reader' from 127.0.0.2" in log
    assert "wrong-guess" not in log and "s3cret" not in log


def test_the_login_page_does_not_show_the_api(guarded):
    url, _ = guarded
    page = httpx.get(url, timeout=10).text
    assert '"auth_required":true' in page.replace(" ", "")
    assert "/respond" not in page and "/upload" not in page and "/reindex" not in page
    assert httpx.get(url + "gradio_api/info", timeout=10).status_code == 401
