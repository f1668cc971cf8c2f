from pathlib import Path

import pytest

from thermogap.errors import ConfigError
from thermogap.store.config import STORE_ENV_VAR, resolve_store_config


def test_directory_is_embedded(tmp_path):
    config = resolve_store_config(tmp_path / "data")
    assert config.backend == "monty"
    assert config.path == (tmp_path / "data").resolve()


def test_uri_is_mongodb_and_database_from_path():
    config = resolve_store_config("mongodb://db.example.org:27018/results")
    assert config.backend == "mongodb"
    assert config.database == "results"
    assert config.display_name == "mongodb://db.example.org:27018/results"


def test_environment_variable_is_used(monkeypatch, tmp_path):
    monkeypatch.setenv(STORE_ENV_VAR, str(tmp_path / "from-env"))
    assert resolve_store_config(None).path == (tmp_path / "from-env").resolve()


def test_default_is_thermogap_data_in_cwd(monkeypatch, tmp_path):
    monkeypatch.delenv(STORE_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_store_config(None).path == (tmp_path / "thermogap-data").resolve()


@pytest.mark.parametrize("spec", ["redis://localhost:6379", "s3://bucket/key", "http://x"])
def test_unknown_scheme_is_named(spec):
    with pytest.raises(ConfigError, match="unknown store scheme") as info:
        resolve_store_config(spec)
    assert spec.split("://")[0] in str(info.value)
    assert "mongodb://" in str(info.value)


def test_yaml_relative_path_and_credentials_from_env(tmp_path, monkeypatch):
    local = tmp_path / "local.yaml"
    local.write_text("backend: monty\npath: ./db-here\n")
    assert resolve_store_config(local).path == (tmp_path / "db-here").resolve()

    remote = tmp_path / "remote.yaml"
    remote.write_text(
        "uri: mongodb://h.example:27017\nusername_env: TG_USER\npassword_env: TG_PASS\n"
    )
    config = resolve_store_config(remote)
    with pytest.raises(ConfigError, match="TG_USER"):
        config.mongo_uri()
    monkeypatch.setenv("TG_USER", "alice")
    monkeypatch.setenv("TG_PASS", "p@ss word")
    assert config.mongo_uri() == "mongodb://alice:p%40ss+word@h.example:27017"
    assert "alice" not in config.display_name


def test_malformed_yaml_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("backend: [monty\npath: x\n")
    with pytest.raises(ConfigError, match=r"malformed YAML .*bad\.yaml"):
        resolve_store_config(bad)


def test_unknown_field_is_rejected(tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("backend: monty\npaht: x\n")
    with pytest.raises(ConfigError, match="paht"):
        resolve_store_config(bad)


def test_shipped_store_configs_parse():
    root = Path(__file__).resolve().parents[2] / "configs" / "stores"
    names = sorted(p.name for p in root.glob("*.yaml"))
    assert "local.yaml" in names and "mongodb.yaml" in names
    for path in root.glob("*.yaml"):
        resolve_store_config(path)
