"""The `qa` command: ingest, ask, chat, eval, calibrate."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

EXAMPLES = """\
examples:
  qa ingest                      build or update the index of corpus/
  qa ask "How many Hezbollah fighters had died in Syria?"
  qa ask "Who commands the Quds Force?" --json
  qa chat                        a conversation in the terminal (follow-ups work)
  qa eval corpus/eval/aleppo.jsonl --report report.html
  QA_TOP_K=8 qa ask "..."        any setting: QA_<NAME> variable or qa.toml

exit codes: 0 ok, 1 error, 2 bad question or usage
"""


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("bm25s", "chromadb", "httpx", "sentence_transformers", "transformers", "llama_index"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Ask questions about a document corpus; "
                                     "every statement in an answer cites the passage it comes from.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", metavar="DIR", help="corpus folder (QA_CORPUS_DIR, default corpus)")
    parser.add_argument("--index", metavar="DIR", help="index folder (QA_INDEX_DIR, default index)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ingest = sub.add_parser("ingest", help="build or update the index (only changed files are embedded)")
    ingest.add_argument("--rebuild", action="store_true", help="re-embed everything from scratch")

    def answer_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--top-k", type=int, help="passages retrieved (QA_TOP_K, default 5)")
        p.add_argument("--mode", choices=("hybrid", "dense", "keyword"), help="retrieval (QA_RETRIEVAL_MODE)")

    ask = sub.add_parser("ask", help="answer one question", epilog='example: qa ask "Was Soleimani wounded?" --json')
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON (Answer.to_dict())")
    ask.add_argument("--history", metavar="JSON", help='earlier turns: [["question", "answer"], ...]')
    answer_options(ask)

    chat = sub.add_parser("chat", help="a conversation in the terminal")
    answer_options(chat)

    evaluate = sub.add_parser(
        "eval", help="score evaluation sets: retrieval, answers, citations, abstention, latency",
        epilog="examples:\n  qa eval corpus/eval/aleppo.jsonl --json run.json --report report.html\n"
               "  qa eval corpus/eval/aleppo.jsonl --pipeline ours\n"
               "  qa eval --compare before.json after.json\n\n"
               "sets: JSON Lines (see README), or llama-index LabelledRagDataset / EmbeddingQAFinetuneDataset JSON",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("paths", nargs="*", type=Path, metavar="SET", help="evaluation set files")
    evaluate.add_argument("--pipeline", default="ours,baseline", metavar="NAMES",
                          help="comma-separated pipelines to run: ours, baseline (default: both)")
    evaluate.add_argument("--json", metavar="FILE", type=Path, help="write per-question and aggregate results")
    evaluate.add_argument("--report", metavar="FILE.html", type=Path, help="write a self-contained HTML report")
    evaluate.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"), type=Path,
                          help="compare two saved runs question by question (runs nothing)")
    answer_options(evaluate)

    calibrate = sub.add_parser("calibrate", help="choose the abstention threshold (or, with --judge, "
                                                 "the support judge's settings) from labelled data")
    calibrate.add_argument("path", type=Path, help="an evaluation set, or with --judge a labelled support set")
    calibrate.add_argument("--judge", action="store_true",
                           help="calibrate the citation support judge on hand-labelled claim/passage pairs "
                                "(corpus/eval/support-labels.jsonl)")
    return parser


def _assistant(args: argparse.Namespace):
    from .assistant import Assistant
    from .config import load_settings

    overrides = {"corpus_dir": args.corpus, "index_dir": args.index,
                 "top_k": getattr(args, "top_k", None), "retrieval_mode": getattr(args, "mode", None)}
    return Assistant(load_settings(**{k: v for k, v in overrides.items() if v is not None}))


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    print(answer.text)
    for c in answer.citations:
        print(f"\n[{c.number}] {c.source}\n    {c.path}, characters {c.start}-{c.end}")
        for start, end in c.highlights:
            print(f"    “{c.text[start:end]}”")


def _cmd_ingest(args) -> int:
    bot = _assistant(args)
    report = bot.ingest(rebuild=args.rebuild)
    print(report.summary())
    return 0


def _cmd_ask(args) -> int:
    history = None
    if args.history:
        try:
            history = json.loads(args.history)
        except json.JSONDecodeError as exc:
            print(f"qa: --history is not valid JSON ({exc.msg})", file=sys.stderr)
            return 2
    answer = _assistant(args).ask(args.question, history=history)
    _print_answer(answer, args.json)
    return 0


def _cmd_chat(args) -> int:
    from .assistant import QuestionError

    bot = _assistant(args)
    history: list[tuple[str, str]] = []
    print("Ask about the corpus. Empty line or Ctrl-D ends; /new starts a new conversation.")
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question:
            return 0
        if question == "/new":
            history.clear()
            print("(new conversation)")
            continue
        try:
            answer = bot.ask(question, history=history)
        except QuestionError as exc:
            print(f"qa: {exc}")
            continue
        print()
        _print_answer(answer, as_json=False)
        history.append((question, answer.text))


def _cmd_eval(args) -> int:
    from .evaluate import EvalSetError, compare, evaluate, load_eval_set, load_run

    if args.compare:
        before, after = (load_run(p) for p in args.compare)
        print(compare(before, after, args.compare[0].name, args.compare[1].name))
        return 0
    if not args.paths:
        raise EvalSetError("give one or more evaluation sets (or --compare A.json B.json)")
    for path in args.paths:
        load_eval_set(path)  # every set is checked before any question is asked
    pipelines = [p.strip() for p in args.pipeline.split(",") if p.strip()]
    run = evaluate(args.paths, pipelines, assistant=_assistant(args), progress=sys.stderr.isatty())
    print(run.table())
    for pipeline, result in run.errors():
        print(f"qa: {pipeline}: question {result.item.id} ({result.item.set}:{result.item.line}) failed: "
              f"{result.error}", file=sys.stderr)
    if args.json:
        run.save_json(args.json)
        print(f"\nresults written to {args.json}")
    if args.report:
        run.save_html(args.report)
        print(f"report written to {args.report}")
    return 1 if run.errors() else 0


def _cmd_calibrate(args) -> int:
    from .calibrate import calibrate, calibrate_judge

    print((calibrate_judge if args.judge else calibrate)(_assistant(args), args.path))
    return 0


COMMANDS = {"ingest": _cmd_ingest, "ask": _cmd_ask, "chat": _cmd_chat, "eval": _cmd_eval,
            "calibrate": _cmd_calibrate}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.WARNING, format="qa: %(message)s")
    _quiet_libraries()
    from .assistant import QuestionError
    from .config import ConfigError
    from .evaluate import EvalSetError
    from .index import IndexError

    try:
        return COMMANDS[args.command](args)
    except QuestionError as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, EvalSetError) as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 2
    except IndexError as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
