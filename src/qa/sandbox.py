"""Run a document reader in a subprocess with limits on memory, CPU time and wall-clock time.

PDF and DOCX parsers are large native or XML libraries fed files from anywhere: a zip bomb,
a PDF of cyclic or deeply nested objects or millions of pages, or a damaged file must cost a
bounded amount of time and memory, and must not take the ingest (or the web app) down with
it. Each file is read by a fresh Python process that first limits itself
(RLIMIT_AS for memory, RLIMIT_CPU, no file writes) and is killed after WALL_SECONDS. What it
returns is JSON on stdout; a failure becomes ReaderError with a reason a person can act on.
About 0.1 s of start-up per file (measured: importing pypdfium2 or python-docx).
"""

from __future__ import annotations

import base64
import json
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from .paged import ReaderError

MEMORY_BYTES = 1024 * 1024 * 1024   # address space of the reader process
CPU_SECONDS = 60
WALL_SECONDS = 90
_TASKS = ("read_pdf", "read_docx", "render_page")
# The worker imports qa's reader modules without running qa/__init__.py (which loads the
# whole pipeline, 0.3 s): a bare package module stands in for it.
_BOOTSTRAP = ("import sys, types; package = types.ModuleType('qa'); package.__path__ = [{folder!r}]; "
              "sys.modules['qa'] = package; from qa.sandbox import _main; sys.exit(_main())")
_FOLDER = str(Path(__file__).resolve().parent)


def run(task: str, path: Path, memory_bytes: int = MEMORY_BYTES, cpu_seconds: int = CPU_SECONDS,
        wall_seconds: float = WALL_SECONDS, **arguments: Any) -> dict[str, Any]:
    """The result of reader `task` on `path`, or ReaderError saying why there is none."""
    if task not in _TASKS:
        raise ValueError(f"unknown reader task {task!r}")
    request = json.dumps({"task": task, "path": str(path), "memory": memory_bytes, "cpu": cpu_seconds,
                          "arguments": arguments})
    try:
        done = subprocess.run([sys.executable, "-c", _BOOTSTRAP.format(folder=_FOLDER)], input=request.encode(),
                              capture_output=True, timeout=wall_seconds, check=False)
    except subprocess.TimeoutExpired:
        raise ReaderError(f"reading took longer than {wall_seconds:g} s and was stopped (a hostile or "
                          f"extremely complex file); simplify or re-export it") from None
    if done.returncode == 0:
        result = json.loads(done.stdout)
        if "error" in result:
            raise ReaderError(result["error"])
        if "png" in result:
            result["png"] = base64.b64decode(result["png"])
        return result
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL) or b"SIGXCPU" in done.stderr:
        raise ReaderError(f"reading used more than {cpu_seconds} s of CPU time and was stopped (a hostile or "
                          f"extremely complex file); simplify or re-export it")
    if b"MemoryError" in done.stderr or b"bad_alloc" in done.stderr or done.returncode == 3:
        raise ReaderError(f"reading needed more than {memory_bytes / 2**20:,.0f} MB of memory and was stopped "
                          f"(a zip bomb or a hostile file); simplify or re-export it")
    detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
    raise ReaderError(f"the reader crashed ({detail[0][:200]}); the file is damaged or hostile; re-export it")


def _limit(memory: int, cpu: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # a reader writes no files
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    _limit(int(request["memory"]), int(request["cpu"]))
    path = Path(request["path"])
    try:
        if request["task"] == "read_pdf":
            from .pdf_text import read_pdf
            result = read_pdf(path)
        elif request["task"] == "read_docx":
            from .docx_text import read_docx
            result = read_docx(path)
        else:
            from .pdf_text import render_page
            result = render_page(path, **request["arguments"])
            result["png"] = base64.b64encode(result["png"]).decode("ascii")
    except ReaderError as exc:
        result = {"error": str(exc)}
    except MemoryError:
        return 3
    except RecursionError:
        result = {"error": "nested too deeply to read (a hostile or damaged file); re-export it"}
    sys.stdout.write(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(_main())


__all__ = ["run", "MEMORY_BYTES", "CPU_SECONDS", "WALL_SECONDS"]
