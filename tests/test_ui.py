"""The web app in a real browser: Debian's headless Chromium driven by Playwright.

The app runs as a user runs it (`python app.py`) on a free port, over a copy of the corpus.
Screenshots are saved in tests/artifacts/.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import REPO
from helpers import http_status, start_app, stop

pytestmark = pytest.mark.slow
ARTIFACTS = REPO / "tests" / "artifacts"


_get = http_status


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    process, url, corpus = start_app(tmp_path_factory.mktemp("app"))
    yield url, corpus
    stop(process)


@pytest.fixture()
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(app_url[0])
    page.wait_for_selector("#question textarea")
    yield page
    assert page.dialogs == [], f"script from page content ran: {page.dialogs}"
    context.close()


def _ask(page, question: str, expect_citation: bool = True):
    before = page.locator("#chat .message").count() if page.locator("#chat .message").count() else 0
    page.fill("#question textarea", question)
    page.click("#ask")
    if expect_citation:
        page.wait_for_function(
            "n => document.querySelectorAll('#chat a.cite').length > 0 && "
            "document.querySelectorAll('#sources .qa-source').length > 0", arg=before, timeout=90000)
    # Finished means: a new message is shown (so the previous, finished answer cannot pass
    # for this one), text follows this question, and no placeholder "…" is left at the end.
    page.wait_for_function(
        """([n, q]) => {
            const chat = document.querySelector('#chat');
            if (!chat || chat.querySelectorAll('.message').length <= n) return false;
            const text = chat.innerText.trim(), at = text.lastIndexOf(q);
            return at >= 0 && text.slice(at + q.length).trim().length > 1 && !text.endsWith('…');
        }""", arg=[before, question], timeout=90000)
    return page.locator("#chat").inner_text()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_question_gets_a_cited_answer_and_the_citation_opens_its_passage(page):
    _shot(page, "0-start")
    text = _ask(page, "How many Hezbollah fighters had died in Syria?")
    assert "1,600" in text
    marker = page.locator("#chat a.cite").first
    number = marker.get_attribute("class").split("cite-")[1].split()[0]
    assert "—" in marker.get_attribute("title")  # hover: source and the quoted passage
    card = page.locator(f"#src-{number}")
    assert card.is_visible()
    assert card.locator("mark").count() >= 1  # the sentences relied on are highlighted
    marker.click()
    page.wait_for_function(f"() => document.getElementById('src-{number}').classList.contains('flash')")
    _shot(page, "1-answer-with-sources")


def test_follow_up_uses_the_conversation(page):
    _ask(page, "Who commands the Quds Force?")
    text = _ask(page, "Was he wounded?")
    assert "wounded" in text.split("Was he wounded?")[-1]
    _shot(page, "2-follow-up")
    page.click("#new-conversation")
    page.wait_for_function("() => document.querySelectorAll('#chat a.cite').length === 0")


def test_abstention_and_disagreement_are_marked(page):
    _ask(page, "How long should lentil soup simmer?", expect_citation=False)
    page.wait_for_selector("#chat .qa-badge.abstain")
    assert page.locator("#sources .qa-badge.abstain").is_visible()
    _ask(page, "How many Iranian troops were massing on Aleppo?")
    page.wait_for_selector("#chat .qa-badge.conflict")
    _shot(page, "3-abstention-and-conflict")


def test_empty_question_shows_a_short_message(page):
    page.fill("#question textarea", "   ")
    page.click("#ask")
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('empty')")
    assert "Traceback" not in page.locator("#chat").inner_text()


def _scope_options(page) -> list[str]:
    page.click("#scope input")
    page.wait_for_selector("#scope [data-testid=dropdown-option]")
    options = page.locator("#scope [data-testid=dropdown-option]").all_inner_texts()
    page.press("#scope input", "Escape")
    return options


def _wait_for_sources(page, start: str) -> None:
    """The sources panel comes with the finished answer, after the chat's last streamed sentence."""
    page.wait_for_function("s => document.querySelector('#sources').innerText.trim().startsWith(s)", arg=start,
                           timeout=90000)


def test_the_document_selector_limits_the_question_to_the_chosen_documents(page):
    options = _scope_options(page)
    assert any(o.endswith("· trtworld-2015-10-iranian-troops-mobilise-for-aleppo.txt") for o in options)
    page.locator("#scope input").press_sequentially("trtworld")   # typed keys filter the options
    page.wait_for_function("() => document.querySelectorAll('#scope [data-testid=dropdown-option]').length === 1")
    page.locator("#scope [data-testid=dropdown-option]").first.click()
    page.press("#scope input", "Escape")
    # The Guardian's 1,600 is the corpus's answer; asked about TRT World only, it cannot be.
    _ask(page, "How many Hezbollah fighters had died in Syria?", expect_citation=False)
    _wait_for_sources(page, "Asked about 1 document: trtworld")
    sources = page.locator("#sources").inner_text()
    assert sources.startswith("Asked about 1 document: trtworld-2015-10-iranian-troops-mobilise-for-aleppo.txt")
    assert "guardian" not in sources and "1,600" not in page.locator("#chat").inner_text()
    _shot(page, "6-scoped-to-one-document")

    page.click("#scope .remove-all")
    page.fill("#scope input", "guardian-*")   # a typed glob pattern counts too
    page.press("#scope input", "Enter")
    _ask(page, "How many Hezbollah fighters had died in Syria?")
    _wait_for_sources(page, "Asked about 1 document: guardian-2016-12-14")
    assert "1,600" in page.locator("#chat").inner_text().split("died in Syria?")[-1]

    page.click("#scope .remove-all")
    page.fill("#scope input", "reports/*.pdf")
    page.press("#scope input", "Enter")
    page.fill("#question textarea", "Who commands the Quds Force?")
    page.click("#ask")
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('no indexed document matches')")
    assert "the index holds" in page.locator("#chat").inner_text()


def test_upload_is_indexed_and_its_markup_stays_text(page, app_url, tmp_path):
    hostile = tmp_path / "field-report.txt"
    hostile.write_text(
        "Field report from the Palmyra depot\n\n"
        "The quartermaster counted forty-two camels at the Palmyra depot on Tuesday, "
        "according to the note <script>alert('script ran')</script> filed with it. "
        "The note ends with <img src=x onerror=alert('img ran')> as its signature.\n", encoding="utf-8")
    page.click("button[role=tab]:has-text('Corpus')")
    listed = page.locator("#documents").inner_text()
    assert "guardian-2016-12-14-iran-hails-victory-in-aleppo.txt" in listed and "field-report.txt" not in listed
    page.set_input_files("#upload input[type=file]", str(hostile))
    page.wait_for_function("() => document.querySelector('#corpus-message').innerText.includes('Added')",
                           timeout=120000)
    page.wait_for_function("() => document.querySelector('#documents').innerText.includes('field-report.txt')")
    # Named by its file name made readable: its first line is body text, never a name.
    assert "Field report" in page.locator("#documents").inner_text()
    assert "Field report from the Palmyra depot" not in page.locator("#documents").inner_text()
    assert (app_url[1] / "field-report.txt").is_file()
    _shot(page, "4-corpus-after-upload")

    bad = tmp_path / "scan.txt"
    bad.write_bytes(b"MZ\x00\x00\x01binary payload")
    page.set_input_files("#upload input[type=file]", str(bad))
    page.wait_for_function("() => document.querySelector('#corpus-message').innerText.includes('binary file')")
    assert "was not added" in page.locator("#corpus-message").inner_text()
    assert not (app_url[1] / "scan.txt").exists()
    assert "scan.txt" not in page.locator("#documents").inner_text()

    page.click("button[role=tab]:has-text('Ask')")
    assert any(o.endswith("· field-report.txt") for o in _scope_options(page))   # the selector offers it now
    text = _ask(page, "How many camels did the quartermaster count at the Palmyra depot?")
    assert "forty-two camels" in text
    sources = page.locator("#sources")
    assert "field-report.txt" in sources.inner_text()
    assert "<script>" in sources.inner_text() or "<img src=x" in sources.inner_text()
    assert sources.locator("img, script").count() == 0
    assert page.locator("#chat img[src=x]").count() == 0
    _shot(page, "5-answer-from-upload")


def test_no_file_of_the_machine_is_served(app_url):
    url, corpus = app_url
    for target in ("/etc/passwd", str(corpus / "guardian-2016-12-14-iran-hails-victory-in-aleppo.txt"),
                   str(REPO / "pyproject.toml")):
        for route in ("gradio_api/file=", "file="):
            assert _get(url + route + target) in (403, 404), (route, target)


def test_several_people_at_once_each_get_their_answer(browser, app_url):
    questions = {"Where are Iraqi militia fighters who died in Syria being buried?": "Najaf",
                 "Through which airport did Iranian troops reportedly arrive in Syria?": "Hmaymim",
                 "How many IRGC fatalities were announced after the operation began on Jan. 31?": "42"}
    contexts = [browser.new_context() for _ in questions]
    pages = [c.new_page() for c in contexts]
    for p in pages:
        p.goto(app_url[0])
        p.wait_for_selector("#question textarea")
    for p, question in zip(pages, questions):  # all submitted before any is awaited
        p.fill("#question textarea", question)
        p.click("#ask")
    for p, expected in zip(pages, questions.values()):
        p.wait_for_function("() => document.querySelectorAll('#chat a.cite').length > 0", timeout=60000)
        assert expected in p.locator("#chat").inner_text()
    for c in contexts:
        c.close()


def test_login_is_required_when_configured(tmp_path):
    process, url, _ = start_app(tmp_path, QA_AUTH="reader:s3cret")
    try:
        assert _get(url + "config") == 401
        data = urllib.parse.urlencode({"username": "reader", "password": "wrong"}).encode()
        try:
            urllib.request.urlopen(urllib.request.Request(url + "login", data=data), timeout=5)
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status in (400, 401)
    finally:
        stop(process)


def test_a_language_model_answer_streams_as_a_draft_then_shows_checked(browser, tmp_path):
    process, url, _ = start_app(tmp_path, QA_LLM="llamacpp:smollm2", QA_LLM_TIMEOUT="120")
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        page.goto(url)
        page.wait_for_selector("#question textarea")
        # Remember every badge the chat ever shows: the draft is replaced once it is checked.
        page.evaluate("""() => { window.badges = new Set();
            new MutationObserver(() => document.querySelectorAll('#chat .qa-badge')
                .forEach(b => window.badges.add(b.className + ': ' + b.textContent)))
              .observe(document.body, {childList: true, subtree: true, characterData: true}); }""")
        page.fill("#question textarea", "Where are Iraqi militia fighters who died in Syria being buried?")
        page.click("#ask")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#chat .qa-badge')].some(b => !b.classList.contains('draft')) && "
            "document.querySelectorAll('#sources .qa-source').length > 0", timeout=150000)
        badges = page.evaluate("() => [...window.badges]")
        final = page.locator("#chat .qa-badge").last.inner_text()
        _shot(page, "llm-answer")
        assert any("draft" in b and "Draft" in b for b in badges), badges
        # Whatever the small model wrote, what stays is either checked generation or the quoted fallback.
        assert final.startswith("Generated by llama.cpp") or final == "Extractive answer", final
        assert page.locator("#chat a.cite").count() > 0
        assert "Najaf" in page.locator("#chat").inner_text() or final.startswith("Generated")
    finally:
        context.close()
        stop(process)
