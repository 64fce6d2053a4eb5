from pathlib import Path

import pytest

from qa.config import ConfigError, load_settings


def test_precedence_defaults_toml_env_overrides(tmp_path):
    toml = tmp_path / "qa.toml"
    toml.write_text("top_k = 7\nretrieval_mode = 'dense'\nchunk_tokens = 150\n", encoding="utf-8")
    s = load_settings(config_file=toml, environ={"QA_TOP_K": "9"})
    assert (s.top_k, s.retrieval_mode, s.chunk_tokens) == (9, "dense", 150)
    assert load_settings(config_file=toml, environ={"QA_TOP_K": "9"}, top_k=3).top_k == 3
    assert load_settings(config_file=tmp_path / "none.toml", environ={}).top_k == 5


def test_bad_values_say_what_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="top_k expects int"):
        load_settings(config_file=tmp_path / "none.toml", environ={"QA_TOP_K": "many"})
    with pytest.raises(ConfigError, match="retrieval_mode"):
        load_settings(config_file=tmp_path / "none.toml", environ={"QA_RETRIEVAL_MODE": "fuzzy"})
    bad = tmp_path / "bad.toml"
    bad.write_text("top_k = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config_file=bad, environ={})
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(config_file=tmp_path / "none.toml", environ={}, topk=3)


def test_paths_and_bools_are_coerced(tmp_path):
    s = load_settings(config_file=tmp_path / "none.toml", environ={"QA_INDEX_DIR": "/x/y", "QA_AUTO_INGEST": "no"})
    assert s.index_dir == Path("/x/y") and s.auto_ingest is False
