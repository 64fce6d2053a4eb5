"""Question latency on the shipped corpus: cold start and warm qa.ask, printed as tables.

    .venv/bin/python benchmarks/latency.py [--rounds 3]

Cold start: a fresh Python process, from interpreter start to the first answer (index
already built). Warm: every question of corpus/eval/aleppo.jsonl asked `rounds` times
through one Assistant; the first round is reported separately because sentence
embeddings are cached between questions.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

COLD = ("import time; t=time.perf_counter(); import qa; "
        "a=qa.ask('How many Hezbollah fighters had died in Syria?'); "
        "print(f'{time.perf_counter()-t:.3f}')")


def row(name: str, values: list[float]) -> str:
    from qa.eval.stats import median, percentile  # nearest rank, as the evaluation reports it

    return (f"| {name:<34} | {len(values):>4} | {median(values):>8.1f} | "
            f"{percentile(values, 95):>8.1f} | {max(values):>8.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=3)
    args = parser.parse_args()

    from qa.assistant import Assistant
    from qa.eval import load_eval_set

    bot = Assistant(progress=False)
    bot.ingest()
    items = load_eval_set(ROOT / "corpus" / "eval" / "aleppo.jsonl")

    cold = []
    for _ in range(args.cold_runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, cwd=ROOT, check=True)
        cold.append((time.perf_counter() - started) * 1000)
        del done

    bot.retriever()
    first, warm, retrieval = [], [], []
    for round_number in range(args.rounds):
        for item in items:
            started = time.perf_counter()
            answer = bot.ask(item.question, history=item.history or None)
            elapsed = (time.perf_counter() - started) * 1000
            (first if round_number == 0 else warm).append(elapsed)
            retrieval.append(answer.timings_ms["embed"] + answer.timings_ms["retrieve"])

    print(f"corpus: {bot.index.status()[1]}; {len(items)} questions; machine: "
          f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores\n")
    print("| measurement                        |    n | median ms |  p95 ms  |  max ms  |")
    print("|------------------------------------|-----:|---------:|---------:|---------:|")
    print(row("cold start: new process to answer", cold))
    print(row("warm qa.ask, first round", first))
    if warm:
        print(row("warm qa.ask, later rounds", warm))
    print(row("embed + retrieve, all rounds", retrieval))


if __name__ == "__main__":
    main()
