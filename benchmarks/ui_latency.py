"""Time to first streamed text and to the full answer, in a real browser, on the shipped corpus.

    .venv/bin/python benchmarks/ui_latency.py [--url http://127.0.0.1:7860/] [--rounds 2]

Without --url it starts `python app.py` on a free port over a copy of corpus/. Chromium is
Debian's (/usr/bin/chromium), driven by Playwright. Timing starts at the click on Ask.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import app_process

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # qa.eval.stats for the table
QUESTIONS = [item["question"] for item in map(json.loads, (ROOT / "corpus/eval/aleppo.jsonl").open(encoding="utf-8"))
             if not item.get("history")][:20]
FIRST_TEXT = """() => { const bots = document.querySelectorAll('#chat .bot-row');
  const last = bots[bots.length - 1]; return last && last.innerText.trim() && last.innerText.trim() !== '…'; }"""
DONE = """n => document.querySelectorAll('#chat a.cite, #chat .qa-badge.abstain').length > n"""


def start_app() -> tuple[subprocess.Popen, str, Path]:
    return app_process.start_app("qa-ui-bench-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    process = work = None
    url = args.url
    if not url:
        process, url, work = start_app()
    first, full = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--headless", "--no-sandbox", "--disable-gpu",
                                              "--disable-background-networking", "--no-first-run"])
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#question textarea")
            for _ in range(args.rounds):
                for question in QUESTIONS:
                    page.click("#new-conversation")
                    page.wait_for_function("() => document.querySelectorAll('#chat a.cite').length === 0")
                    page.fill("#question textarea", question)
                    started = time.perf_counter()
                    page.click("#ask")
                    page.wait_for_function(FIRST_TEXT, polling="raf", timeout=60000)
                    first.append((time.perf_counter() - started) * 1000)
                    page.wait_for_function(DONE, arg=0, polling="raf", timeout=60000)
                    full.append((time.perf_counter() - started) * 1000)
            browser.close()
    finally:
        if process:
            process.terminate()
            process.wait(timeout=30)
            shutil.rmtree(work, ignore_errors=True)

    from qa.eval.stats import median, percentile  # nearest rank, as the evaluation reports it

    def row(name: str, values: list[float]) -> str:
        return f"| {name:<32} | {len(values):>3} | {median(values):>9.0f} | {percentile(values, 95):>6.0f} |"

    print("| in the browser, from click on Ask | n   | median ms | p95 ms |")
    print("|----------------------------------|----:|----------:|-------:|")
    print(row("first streamed text", first))
    print(row("full answer with sources", full))


if __name__ == "__main__":
    main()
