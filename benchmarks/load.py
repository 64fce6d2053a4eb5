"""The web app under load: N concurrent users on loopback, each a gradio_client asking questions.

    .venv/bin/python benchmarks/load.py [--users 1 4 16] [--questions 40] [--timeout 300]

It starts `python app.py` itself on a free 127.0.0.1 port over a copy of corpus/ (loopback only;
no other address is ever contacted), asks every question once with nobody else on the app (the
idle answers), then for each user count runs that many clients at once, each taking the next
question from a shared list until --questions have been answered. It prints throughput, p50/p95
latency per question, and whether every answer given under load equals the idle answer to the
same question (the answer text, citations included). Bounded: at most --questions questions per
round, and a round stops at --timeout seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import app_process

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [item["question"] for item in map(json.loads, (ROOT / "corpus/eval/aleppo.jsonl").open(encoding="utf-8"))
             if not item.get("history")]


def start_app(concurrency: int) -> tuple[subprocess.Popen, str, Path]:
    return app_process.start_app("qa-load-", QA_AUTH="", QA_CONCURRENCY=str(concurrency))


def ask(client, question: str) -> str:
    """One standalone question: a new session, so no earlier question of this client is its history."""
    client.reset_session()
    chat = client.predict(question, 5, "hybrid", "extractive", api_name="/respond")[0]
    content = chat[-1]["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def run_round(url: str, users: int, questions: list[str], idle: dict[str, str], timeout: float) -> dict:
    from gradio_client import Client

    clients = [Client(url, verbose=False) for _ in range(users)]
    queue = list(enumerate(questions))
    lock = threading.Lock()
    latencies: list[float] = []
    differing: list[str] = []
    errors: list[str] = []
    deadline = time.monotonic() + timeout

    def user(client) -> None:
        while time.monotonic() < deadline:
            with lock:
                if not queue:
                    return
                _, question = queue.pop(0)
            started = time.perf_counter()
            try:
                answer = ask(client, question)
            except Exception as exc:  # noqa: BLE001 - counted and shown, the round goes on
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if answer != idle[question]:
                    differing.append(f"{question}\n    idle: {idle[question][:200]}\n    load: {answer[:200]}")

    started = time.perf_counter()
    threads = [threading.Thread(target=user, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    for client in clients:
        client.close()
    return {"users": users, "answered": len(latencies), "errors": len(errors), "seconds": wall,
            "per_second": len(latencies) / wall if wall else 0.0,
            "p50": percentile(latencies, 0.5) if latencies else float("nan"),
            "p95": percentile(latencies, 0.95) if latencies else float("nan"),
            "same": len(latencies) - len(differing), "differing": differing[:3], "error_samples": errors[:3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1, 4, 16], help="concurrent users per round")
    parser.add_argument("--questions", type=int, default=40, help="questions answered per round (at most 200)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a round may take at most")
    parser.add_argument("--concurrency", type=int, default=4, help="the app's QA_CONCURRENCY")
    args = parser.parse_args()
    if not 1 <= args.questions <= 200 or not all(1 <= u <= 64 for u in args.users):
        parser.error("--questions must be 1-200 and each --users 1-64")
    from gradio_client import Client

    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.questions)]
    process, url, work = start_app(args.concurrency)
    try:
        warm = Client(url, verbose=False)
        ask(warm, questions[0])  # loads the model's caches: not part of any measurement
        idle = {q: ask(warm, q) for q in dict.fromkeys(questions)}
        warm.close()
        rows = [run_round(url, users, questions, idle, args.timeout) for users in args.users]
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    print(f"{args.questions} questions per round ({len(idle)} distinct), app concurrency {args.concurrency}, "
          f"{os.cpu_count()} CPUs, loopback\n")
    print("| users | answered | errors | q/s | p50 s | p95 s | same as idle |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['users']} | {row['answered']} | {row['errors']} | {row['per_second']:.1f} | "
              f"{row['p50']:.2f} | {row['p95']:.2f} | {row['same']}/{row['answered']} |")
    for row in rows:
        for question in row["differing"]:
            print(f"differs under load ({row['users']} users): {question}")
        for error in row["error_samples"]:
            print(f"error ({row['users']} users): {error}")


if __name__ == "__main__":
    main()
