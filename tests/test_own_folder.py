"""Your own folder of documents: each corpus keeps its own index, and an index is never taken
over by another corpus by accident. Real ingests (real model, real Chroma) of small corpora."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import CORPUS

from qa import cli
from qa.assistant import Assistant
from qa.config import ConfigError, Settings, derived_index_dir, load_settings
from qa.index import CorpusIndex, IndexForAnotherCorpus

NO_TOML = {"QA_CONFIG": "/nonexistent/qa.toml"}


def _articles() -> list[Path]:
    return sorted(CORPUS.glob("*.txt"))


def _corpus(folder: Path, articles: list[Path]) -> Path:
    folder.mkdir(parents=True)
    for article in articles:
        shutil.copy2(article, folder / article.name)
        shutil.copy2(article.with_name(article.name + ".meta.json"), folder / (article.name + ".meta.json"))
    return folder


@pytest.fixture()
def two_corpora(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """Two folders of different documents, and a working directory of their own (index/ is made there)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    articles = _articles()
    return _corpus(tmp_path / "reports", articles[:2]), _corpus(tmp_path / "papers", articles[2:3])


def test_shipped_corpus_keeps_index_and_other_folders_get_their_own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").mkdir()
    assert Settings().index_dir == Path("index")
    assert Settings(corpus_dir=tmp_path / "corpus").index_dir == Path("index")  # the same folder, spelled absolutely
    mine = Settings(corpus_dir=tmp_path / "My Docs").index_dir
    assert mine.parent == Path("index/corpora") and mine.name.startswith("My-Docs-")
    assert Settings(corpus_dir=tmp_path / "other" / "My Docs").index_dir != mine


def test_the_derived_folder_is_the_same_however_the_corpus_is_spelled(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (tmp_path / "link").symlink_to(docs)
    monkeypatch.chdir(tmp_path)
    relative = derived_index_dir(Path("docs"))
    assert derived_index_dir(docs) == relative == derived_index_dir(Path("link"))
    monkeypatch.chdir(docs)  # another working directory
    assert derived_index_dir(Path(".")) == relative == derived_index_dir(Path("../docs/"))


def test_an_explicit_index_dir_is_always_respected(tmp_path):
    toml = tmp_path / "qa.toml"
    toml.write_text(f"index_dir = '{tmp_path / 'from-toml'}'\n", encoding="utf-8")
    assert load_settings(config_file=toml, environ={}, corpus_dir=tmp_path / "a").index_dir == tmp_path / "from-toml"
    env = {**NO_TOML, "QA_INDEX_DIR": str(tmp_path / "from-env")}
    assert load_settings(environ=env, corpus_dir=tmp_path / "a").index_dir == tmp_path / "from-env"
    explicit = Settings(index_dir=tmp_path / "mine")
    assert explicit.replace(corpus_dir=tmp_path / "b").index_dir == tmp_path / "mine"
    assert not explicit.index_dir_derived
    # Derived settings derive again when the corpus changes, through every way a setting is changed.
    derived = load_settings(environ=NO_TOML)
    assert derived.replace(corpus_dir=tmp_path / "b").index_dir == derived_index_dir(tmp_path / "b")
    assert Assistant(derived, corpus_dir=tmp_path / "b").settings.index_dir == derived_index_dir(tmp_path / "b")
    assert load_settings(environ={**NO_TOML, "QA_INDEX_DIR": ""}).index_dir == Path("index")


def test_derived_bookkeeping_is_not_a_setting(tmp_path):
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings().replace(index_dir_derived=False)
    assert load_settings(environ={**NO_TOML, "QA_INDEX_DIR_DERIVED": "0"}).index_dir_derived


def test_two_corpora_used_alternately_are_never_reembedded(two_corpora):
    reports, papers = two_corpora
    first = {c: Assistant(Settings(corpus_dir=c, progress=False)).ingest() for c in (reports, papers)}
    assert first[reports].embedded > 0 and first[papers].embedded > 0
    index_a, index_b = (Settings(corpus_dir=c).index_dir for c in (reports, papers))
    assert index_a != index_b and index_a.is_dir() and index_b.is_dir()
    for corpus in (reports, papers, reports):
        again = Assistant(Settings(corpus_dir=corpus, progress=False)).ingest()
        assert (again.embedded, again.added, again.removed, again.rebuilt) == (0, [], [], False)
        assert len(again.unchanged) == len(first[corpus].added)
    manifest = CorpusIndex(Settings(corpus_dir=papers)).manifest()
    assert manifest["corpus"] == str(papers.resolve()) and list(manifest["files"]) == [_articles()[2].name]


def test_a_shared_explicit_index_of_another_corpus_is_refused(two_corpora, tmp_path, capsys):
    reports, papers = two_corpora
    shared = tmp_path / "shared-index"
    Assistant(Settings(corpus_dir=reports, index_dir=shared, progress=False)).ingest()
    other = CorpusIndex(Settings(corpus_dir=papers, index_dir=shared, progress=False))
    state, why = other.status()
    assert state == "incompatible"
    assert str(reports.resolve()) in why and str(papers.resolve()) in why and "--rebuild" in why
    with pytest.raises(IndexForAnotherCorpus, match="built for the corpus folder"):
        other.ingest()
    # Nothing was replaced: the first corpus's index is still current and answers for it.
    assert CorpusIndex(Settings(corpus_dir=reports, index_dir=shared)).status()[0] == "current"
    # The command line says so and exits 2, as for any setting that cannot be used.
    assert cli.main(["ingest", "--corpus", str(papers), "--index", str(shared)]) == 2
    err = capsys.readouterr().err
    assert "built for the corpus folder" in err and "Traceback" not in err
    # --rebuild is the user saying "replace it".
    replaced = other.ingest(rebuild=True)
    assert replaced.rebuilt and replaced.added == [_articles()[2].name]
    assert other.status()[0] == "current"


def test_a_corpus_moved_together_with_its_index_stays_current(two_corpora, tmp_path):
    reports, _ = two_corpora
    (tmp_path / "pair").mkdir()
    shutil.move(reports, tmp_path / "pair" / "reports")
    Assistant(Settings(corpus_dir=tmp_path / "pair" / "reports", index_dir=tmp_path / "pair" / "index",
                       progress=False)).ingest()
    shutil.move(tmp_path / "pair", tmp_path / "moved")  # a checkout moved elsewhere
    moved = Settings(corpus_dir=tmp_path / "moved" / "reports", index_dir=tmp_path / "moved" / "index",
                     progress=False)
    assert CorpusIndex(moved).status()[0] == "current"
    again = Assistant(moved).ingest()
    assert again.embedded == 0
    assert CorpusIndex(moved).manifest()["corpus"] == str((tmp_path / "moved" / "reports").resolve())


def test_a_copy_of_the_corpus_with_a_copy_of_its_index_is_the_same_corpus(two_corpora, tmp_path):
    reports, _ = two_corpora
    Assistant(Settings(corpus_dir=reports, index_dir=tmp_path / "original-index", progress=False)).ingest()
    shutil.copytree(reports, tmp_path / "elsewhere" / "copy")
    shutil.copytree(tmp_path / "original-index", tmp_path / "copied-index")
    copy = Settings(corpus_dir=tmp_path / "elsewhere" / "copy", index_dir=tmp_path / "copied-index", progress=False)
    assert CorpusIndex(copy).status()[0] == "current"
    assert Assistant(copy).ingest().embedded == 0
    assert CorpusIndex(copy).manifest()["corpus"] == str((tmp_path / "elsewhere" / "copy").resolve())
    # One file more or less is another corpus: refused, not silently changed.
    (tmp_path / "elsewhere" / "copy" / _articles()[0].name).unlink()
    refused = Settings(corpus_dir=tmp_path / "elsewhere" / "copy", index_dir=tmp_path / "original-index")
    assert CorpusIndex(refused).status()[0] == "incompatible"


def test_an_index_from_before_the_corpus_record_is_adopted(two_corpora):
    reports, _ = two_corpora
    settings = Settings(corpus_dir=reports, progress=False)
    Assistant(settings).ingest()
    index = CorpusIndex(settings)
    path = index.current_build() / "manifest.json"
    old = json.loads(path.read_text(encoding="utf-8"))
    del old["corpus"], old["corpus_from_index"]
    path.write_text(json.dumps(old), encoding="utf-8")
    assert index.status()[0] == "current"
    assert index.ingest().embedded == 0 and index.manifest()["corpus"] == str(reports.resolve())


def test_corpus_option_before_or_after_the_command():
    parser = cli._parser()
    for command in (["ingest"], ["ask", "Who?"], ["chat"], ["eval", "set.jsonl"], ["calibrate", "set.jsonl"]):
        after = parser.parse_args([*command, "--corpus", "mine", "--index", "ix"])
        before = parser.parse_args(["--corpus", "mine", *command])
        neither = parser.parse_args(command)
        assert (after.corpus, after.index, before.corpus, neither.corpus) == ("mine", "ix", "mine", None)
    assert "--corpus" in parser.format_help() and "qa ingest --corpus" in parser.format_help()


def test_makefile_passes_corpus_to_ingest_and_app():
    makefile = (CORPUS.parent / "Makefile").read_text(encoding="utf-8")
    assert "--corpus $(CORPUS)" in makefile and "$(BIN)/qa ingest $(CORPUS_OPT)" in makefile
    assert "$(BIN)/python app.py $(CORPUS_OPT)" in makefile and "make app CORPUS=" in makefile


def test_app_takes_corpus(tmp_path, monkeypatch):
    import app

    monkeypatch.setenv("QA_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    settings = app.settings_from_args(["--corpus", str(tmp_path / "mine")])
    assert settings.corpus_dir == tmp_path / "mine" and settings.index_dir == derived_index_dir(tmp_path / "mine")
    monkeypatch.setenv("QA_TOP_K", "many")
    with pytest.raises(SystemExit) as exited:
        app.settings_from_args([])
    assert exited.value.code == 2
