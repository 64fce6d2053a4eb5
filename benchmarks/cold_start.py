"""Cold start: a new process to the first answer on the shipped corpus, and `qa --help`.

    .venv/bin/python benchmarks/cold_start.py [--runs 5] [--index DIR]

The index of the shipped corpus is built first (once for each runtime's index folder, outside
the timing; under a temporary folder unless --index is given), so what is timed is what a
user waits for: `python -c "import qa; qa.ask(...)"` from interpreter start to the printed
answer, a new process each run, under the default runtime and under `torch` (the path before
ONNX); and `python -m qa.cli --help`. Each row gives the median and worst wall time and the
median CPU time of the process (user + system), which a busy machine inflates far less.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

QUESTION = "How many Hezbollah fighters had died in Syria?"
COLD = ("import sys, qa; answer = qa.ask(sys.argv[1]); "
        "print('loaded:', ','.join(m for m in ('torch', 'transformers', 'sentence_transformers', "
        "'llama_index.core') if m in sys.modules) or 'none of torch, transformers, llama_index')")
TARGETS = {"cold start to the first answer": 2.5, "qa --help": 0.5}


def run(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child, its stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--index", type=Path, default=None,
                        help="index folder root (one sub-folder per runtime); default: a temporary folder")
    parser.add_argument("--runtimes", default="onnx,torch", help="embedding runtimes to time, comma-separated")
    args = parser.parse_args()

    from qa.assistant import Assistant
    from qa.config import Settings
    root = args.index or Path(tempfile.mkdtemp(prefix="qa-bench-cold-"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "QA_CORPUS_DIR": str(ROOT / "corpus"), "QA_PROGRESS": "false"}
    rows: list[tuple[str, list[float], list[float], str]] = []
    for runtime in args.runtimes.split(","):
        index = root / runtime
        bot = Assistant(Settings(corpus_dir=ROOT / "corpus", index_dir=index, embedding_runtime=runtime,
                                 progress=False))
        bot.ingest()
        bot.ask(QUESTION)  # makes the ONNX export if the runtime uses one
        bot.close()
        walls, cpus, loaded = [], [], ""
        for _ in range(args.runs):
            wall, cpu, out = run([sys.executable, "-c", COLD, QUESTION],
                                 {**env, "QA_INDEX_DIR": str(index), "QA_EMBEDDING_RUNTIME": runtime})
            walls.append(wall)
            cpus.append(cpu)
            loaded = out.strip().splitlines()[-1]
        name = f"cold start to the first answer ({runtime}{', the default' if runtime == 'onnx' else ''})"
        rows.append((name, walls, cpus, loaded.removeprefix("loaded: ")))
    walls, cpus = [], []
    for _ in range(args.runs):
        wall, cpu, _ = run([sys.executable, "-m", "qa.cli", "--help"], env)
        walls.append(wall)
        cpus.append(cpu)
    rows.append(("qa --help", walls, cpus, ""))

    load = os.getloadavg()[0]
    print(f"{args.runs} runs each, a new process per run; {os.cpu_count()} cores, load average {load:.1f} at the end\n")
    print("| measure | median wall s | worst wall s | median CPU s | target | in the question's process |")
    print("|---|---:|---:|---:|---:|---|")
    for name, walls, cpus, loaded in rows:
        target = next((f"≤ {t}" for key, t in TARGETS.items() if name.startswith(key)), "")
        print(f"| {name} | {statistics.median(walls):.2f} | {max(walls):.2f} | {statistics.median(cpus):.2f} | "
              f"{target} | {loaded} |")


if __name__ == "__main__":
    main()
