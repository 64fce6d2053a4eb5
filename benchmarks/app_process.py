"""The web app started for a benchmark: a copy of the shipped corpus in a temporary folder,
a free loopback port, this checkout's qa first on the path."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_app(prefix: str, **env: str) -> tuple[subprocess.Popen, str, Path]:
    """`python app.py` over a copy of corpus/ (settings as QA_* in env); returns once it serves.
    Its log is app.log in the returned folder."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    shutil.copytree(ROOT / "corpus", work / "corpus", ignore=shutil.ignore_patterns("eval"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    environ = {**os.environ, "QA_CORPUS_DIR": str(work / "corpus"), "QA_INDEX_DIR": str(work / "index"),
               "QA_HOST": "127.0.0.1", "QA_PORT": str(port), "QA_PROGRESS": "false",
               "GRADIO_TEMP_DIR": str(work / "gradio-tmp"),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]), **env}
    with open(work / "app.log", "w") as log:
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=environ, cwd=work,
                                   stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(360):
        try:
            urllib.request.urlopen(url, timeout=2)
            return process, url, work
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"the app did not start; see {work / 'app.log'}")
