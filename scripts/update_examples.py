"""Regenerate the examples in README.md and docs/*.md from the real program, so they cannot drift.

    python scripts/update_examples.py            rewrite the files (or: make examples)
    python scripts/update_examples.py --check    exit 1, naming the files, if any is out of date

What is generated (tests/test_examples.py checks that nothing would change):

- A fenced block right after `<!-- qa-example: ARGS -->` becomes `$ qa ARGS` followed by what
  `qa ARGS` prints, run against the shipped corpus/ and its index (ARGS are split like a shell).
- After `<!-- qa-example: python -->` a ```python block is left as written, and the fenced block
  that follows it becomes what that code prints.
- In a table whose header is `| setting | default | ...`, each row naming settings in backticks
  gets the defaults of qa.config.Settings in its second column.

Runs use the built-in defaults only: no qa.toml, no QA_* variables, the help text 100 columns wide.
The index is index/ unless --index DIR (or QA_INDEX_DIR) names another one; it is built if missing.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import io
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Callable, Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from qa.config import Settings  # noqa: E402

MARKER = re.compile(r"^<!-- qa-example: (?P<args>.+?) -->\n", re.MULTILINE)
FENCE = re.compile(r"(?P<open>^```[^\n]*\n)(?P<body>.*?)(?P<close>^```\n)", re.MULTILINE | re.DOTALL)
TABLE_HEADER = re.compile(r"^\| *setting *\| *default *\|", re.MULTILINE)
NAMES = re.compile(r"`([a-z_]+)`")

Runner = Callable[[list[str]], str]


def documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


# Defaults ---------------------------------------------------------------------------------
def default_text(name: str) -> str:
    """How a setting's default is written in the tables."""
    if name == "index_dir":
        return "`index` for `corpus`, else `index/corpora/<name>-<hash>`"
    if name == "abstain_threshold":
        from qa.evidence import load_model

        return f"(empty: the fitted {load_model().answer_threshold:.2f})"
    value = getattr(Settings(), name)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Path) or (isinstance(value, str) and value):
        return f"`{value}`"
    return "(empty)"


def setting_names() -> set[str]:
    return {f.name for f in dataclasses.fields(Settings) if f.init}


def update_tables(text: str) -> str:
    """The default column of every settings table, from Settings."""
    known = setting_names()
    lines = text.split("\n")
    in_table = False
    for i, line in enumerate(lines):
        if TABLE_HEADER.match(line):
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if not in_table:
            continue
        cells = line.split("|")
        names = NAMES.findall(cells[1]) if len(cells) > 3 else []
        if names and all(name in known for name in names):
            cells[2] = f" {', '.join(default_text(name) for name in names)} "
            lines[i] = "|".join(cells)
    return "\n".join(lines)


def tabled_settings(text: str) -> set[str]:
    """The settings named in the first column of the settings tables."""
    found: set[str] = set()
    in_table = False
    for line in text.split("\n"):
        if TABLE_HEADER.match(line):
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table:
            found.update(NAMES.findall(line.split("|")[1]))
    return found & setting_names()


# Examples ---------------------------------------------------------------------------------
def update_examples(text: str, run: Runner, run_python: Callable[[str], str]) -> str:
    out, last = [], 0
    for marker in MARKER.finditer(text):
        args = marker.group("args").strip()
        fence = FENCE.match(text, marker.end())
        if fence is None:
            raise ValueError(f"no fenced block right after <!-- qa-example: {args} -->")
        if args == "python":
            code = fence
            fence = FENCE.match(text, _skip_blank(text, code.end()))
            if fence is None or not code.group("open").startswith("```python"):
                raise ValueError("<!-- qa-example: python --> needs a ```python block and then an output block")
            body = run_python(code.group("body"))
        else:
            body = f"$ qa {args}\n{run(shlex.split(args))}"
        out += [text[last:fence.start("body")], body.rstrip("\n") + "\n"]
        last = fence.start("close")
    out.append(text[last:])
    return "".join(out)


def _skip_blank(text: str, at: int) -> int:
    while text.startswith("\n", at):
        at += 1
    return at


@contextlib.contextmanager
def shipped_environment(index_dir: Path) -> Iterator[None]:
    """Built-in defaults over the shipped corpus: no qa.toml, no QA_* variables, fixed width."""
    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    for name in [n for n in os.environ if n.startswith("QA_")]:
        del os.environ[name]
    os.environ.update({"QA_CONFIG": str(REPO / "no-such-qa.toml"), "QA_INDEX_DIR": str(index_dir),
                       "QA_PROGRESS": "false", "COLUMNS": "100", "TOKENIZERS_PARALLELISM": "false"})
    os.chdir(REPO)
    from qa import assistant

    saved_default, assistant._default = assistant._default, None  # qa.ask() must use these settings
    try:
        yield
    finally:
        assistant._default = saved_default
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def run_qa(args: list[str]) -> str:
    """What `qa ARGS` prints on stdout (in this process: the model loads once)."""
    from qa import cli

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = cli.main(args)
        except SystemExit as exc:  # --help
            code = exc.code or 0
    if code != 0:
        raise RuntimeError(f"qa {shlex.join(args)} exited {code}: {stderr.getvalue()}")
    return stdout.getvalue()


def run_python(code: str) -> str:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exec(compile(code, "<example>", "exec"), {"__name__": "__example__"})
    return stdout.getvalue()


def render(text: str, examples: bool = True) -> str:
    """The file's text with its tables (and, when `examples`, its examples) regenerated; call
    inside shipped_environment() when examples are regenerated."""
    text = update_tables(text)
    return update_examples(text, run_qa, run_python) if examples else text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is out of date")
    parser.add_argument("--index", type=Path, default=Path(os.environ.get("QA_INDEX_DIR", "index")),
                        help="index of the shipped corpus (default index/, built or updated first)")
    parser.add_argument("files", nargs="*", type=Path, help="default: README.md and docs/*.md")
    args = parser.parse_args(argv)
    index = args.index.resolve()
    files = [path.resolve() for path in args.files] or documents()
    stale = []
    with shipped_environment(index):
        print(run_qa(["ingest"]).strip(), file=sys.stderr)
        for path in files:
            before = path.read_text(encoding="utf-8")
            after = render(before)
            if after == before:
                continue
            stale.append(path)
            if args.check:
                sys.stdout.writelines(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                                           str(path), f"{path} (regenerated)"))
            else:
                path.write_text(after, encoding="utf-8")
                print(f"updated {path.relative_to(REPO) if path.is_relative_to(REPO) else path}", file=sys.stderr)
    if args.check and stale:
        print(f"out of date: {', '.join(map(str, stale))}; run scripts/update_examples.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
