"""What cleaning removed, as ingest records and shows it: the manifest, the ingest warnings,
the documents list of the web app, and `qa inspect`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import CORPUS, REPO, settings_for

from qa.cli import main
from qa.corpus import load_corpus, load_document
from qa.index import KEPT_WARNING, CorpusIndex, cleaning_warnings

# The shipped files cleaning cuts most of: their comment sections, cookie notices, footnotes.
BELOW_90 = {"almonitor-2016-05-iranian-officials-blame-aleppo-ceasefire-violations.txt": "cookie-notice",
            "guardian-2016-12-14-iran-hails-victory-in-aleppo.txt": "references",
            "longwarjournal-2016-02-irgc-involvement-in-battle-for-aleppo.txt": "comments"}

MOSTLY_COMMENTS = ("# A short post\n\nThe bridge reopened on Monday after repairs.\n\nLeave a Reply\n\n"
                   + "\n\n".join(f"Reader {n} says:\n\nI drove over it on day {n} and it was fine, thanks for "
                                 f"the news, it made my commute a lot shorter." for n in range(1, 6)) + "\n")


def test_manifest_records_kept_share_and_removals(shipped):
    files = CorpusIndex(shipped).manifest()["files"]
    for doc_id, entry in files.items():
        cleaned = load_document(CORPUS / doc_id, CORPUS).cleaned
        assert entry["kept"] == round(cleaned.kept_share, 4)
        assert entry["removed"] == cleaned.removed_by_rule()
    assert {d for d, e in files.items() if e["kept"] < KEPT_WARNING} == set(BELOW_90)
    for doc_id, rule in BELOW_90.items():
        assert rule in files[doc_id]["removed"]


def test_warnings_name_each_file_below_the_threshold_with_its_rules():
    warnings = cleaning_warnings(load_corpus(CORPUS).documents)
    assert len(warnings) == len(BELOW_90)
    for doc_id, rule in BELOW_90.items():
        [line] = [w for w in warnings if w.startswith(doc_id)]
        assert rule in line and "%" in line


def test_ingest_report_shows_the_warning(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "post.md").write_text(MOSTLY_COMMENTS, encoding="utf-8")
    report = CorpusIndex(settings_for(tmp_path)).ingest()
    [warning] = report.warnings
    assert warning.startswith("post.md: cleaning kept ") and "comments" in warning
    assert f"warning: {warning}" in report.summary()


def test_documents_list_and_corpus_tab_show_the_kept_share(assistant):
    spec = importlib.util.spec_from_file_location("qa_app", REPO / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    documents = {d["path"]: d for d in assistant.documents()}
    longwar = "longwarjournal-2016-02-irgc-involvement-in-battle-for-aleppo.txt"
    assert 0.5 < documents[longwar]["kept"] < KEPT_WARNING
    rows = {row[-1]: row for row in app.document_rows(assistant)}
    assert rows[longwar][4] == f"{documents[longwar]['kept']:.0%}"


def run_inspect(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["--corpus", str(CORPUS), "inspect", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_inspect_shows_each_removal_with_rule_reason_and_lines(capsys):
    guardian = "guardian-2016-12-14-iran-hails-victory-in-aleppo.txt"
    code, out, _ = run_inspect(capsys, guardian)
    assert code == 0
    assert out.startswith(f"{guardian}: kept 88.1%")
    assert "lines 84-98 [references] citation list under “Footnotes”" in out
    assert "[correction-notice]" in out and "“* This article was amended" in out
    assert "--- cleaned text ---" not in out
    code, out, _ = run_inspect(capsys, str(CORPUS / guardian), "--text")
    assert code == 0 and "\n--- cleaned text ---\n" in out
    assert "Russia scaled back its bombardment.\n\nPro-Assad forces" in out.split("--- cleaned text ---")[1]


def test_inspect_needs_no_index(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "no-index"))
    code, out, _ = run_inspect(capsys, "trtworld-2015-10-iranian-troops-mobilise-for-aleppo.txt")
    assert code == 0 and "[photo-caption]" in out
    assert not (tmp_path / "no-index").exists()


@pytest.mark.parametrize("make", ["outside", "missing", "binary"])
def test_inspect_refuses_a_file_it_cannot_use(capsys, tmp_path, make):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    target = {"outside": tmp_path / "elsewhere.txt", "missing": corpus / "nope.txt",
              "binary": corpus / "blob.txt"}[make]
    if make == "outside":
        target.write_text("Some text.", encoding="utf-8")
    elif make == "binary":
        target.write_bytes(b"\x00\x01\x02" * 100)
    code = main(["--corpus", str(corpus), "inspect", str(target)])
    err = capsys.readouterr().err
    assert code == 2
    expected = "binary file" if make == "binary" else "is not a file in the corpus folder"
    assert expected in err and "Traceback" not in err


def test_inspect_is_listed_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "qa inspect" in capsys.readouterr().out
    assert Path(REPO / "src" / "qa" / "cli.py").is_file()
