"""A PDF citation in the web app: the sources panel shows "p. N" and the page as an image with the
quoted sentence highlighted, beside the text view (Debian's Chromium driven by Playwright).
The screenshot is saved as tests/artifacts/pdf-sources-panel.png."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS
from documents import print_pdf, report_html
from helpers import start_app, stop
from test_documents import SECTIONS
from test_ui import ARTIFACTS, _ask

pytestmark = pytest.mark.slow


def _start(root: Path) -> tuple[subprocess.Popen, str]:
    corpus = root / "corpus"
    corpus.mkdir()
    print_pdf(report_html("Reservoirs 2021", SECTIONS), corpus / "reservoirs.pdf")
    (corpus / "notes.txt").write_text("The western reservoir was built in 1911 by the city council.\n")
    env = {**os.environ, "QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(root / "index"), "QA_PROGRESS": "false"}
    subprocess.run([sys.executable, "-m", "qa.cli", "ingest"], env=env, check=True, capture_output=True, timeout=600)
    process, url, _ = start_app(root, corpus)
    return process, url


def test_a_pdf_citation_shows_its_page_with_the_quote_highlighted(tmp_path):
    from playwright.sync_api import sync_playwright

    process, url = _start(tmp_path)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(url)
            page.wait_for_selector("#question textarea")
            text = _ask(page, "How much water did the northern reservoir hold in August?")
            assert "41 million" in text
            card = page.locator("#sources .qa-source", has=page.locator("img.qa-page")).first
            card.wait_for(timeout=30000)
            assert "reservoirs.pdf, p. 2, characters" in card.locator(".meta").inner_text()
            image = card.locator("img.qa-page")
            assert image.evaluate("img => img.complete && img.naturalWidth") == 700
            assert card.locator("figcaption").inner_text().startswith("p. 2")
            # Beside the text view: the image starts to the right of the passage, level with it.
            passage, figure = card.locator(".qa-page-view > .passage").bounding_box(), image.bounding_box()
            assert figure["x"] >= passage["x"] + passage["width"] - 1 and abs(figure["y"] - passage["y"]) < 40
            card.scroll_into_view_if_needed()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            card.screenshot(path=str(ARTIFACTS / "pdf-sources-panel.png"))
            page.screenshot(path=str(ARTIFACTS / "pdf-sources-page.png"), full_page=True)
            browser.close()
    finally:
        stop(process)
