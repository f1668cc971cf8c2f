"""Presets and levels ship inside the package; a user's ./configs adds to them, never hides them."""

from pathlib import Path

import pytest
import yaml

from thermogap.configs import BUILTIN_CONFIG_DIR, named_config, named_config_paths
from thermogap.errors import UnknownEntryError
from thermogap.flows.presets import apply_overrides, load_preset
from thermogap.levels import level_names, load_level

SHIPPED = BUILTIN_CONFIG_DIR / "presets"
REPO_PRESETS = Path(__file__).resolve().parents[1] / "configs" / "presets"


def test_presets_are_package_data_and_repo_presets_are_shipped():
    shipped = {p.stem for p in SHIPPED.glob("*.yaml")}
    assert {"quick", "paper", "dataset-quick", "parent-phonons"} <= shipped
    # a preset added to the source tree's configs/presets must be shipped as well
    extra = {p.stem for p in REPO_PRESETS.glob("*.yaml")} if REPO_PRESETS.is_dir() else set()
    assert extra <= shipped, f"move {sorted(extra - shipped)} to {SHIPPED}"


def test_unrelated_configs_dir_in_cwd_hides_nothing(tmp_path, monkeypatch):
    (tmp_path / "configs" / "notes").mkdir(parents=True)  # the unrelated ./configs/
    (tmp_path / "configs" / "levels").mkdir()  # even an empty levels/ hides no level
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("THERMOGAP_CONFIG_DIR", raising=False)
    quick = load_preset("quick")
    assert quick.settings == yaml.safe_load((SHIPPED / "quick.yaml").read_text())["settings"]
    assert {"pbesol", "hsesol", "chgnet-gfn1-xtb"} <= set(level_names())
    assert load_level("hsesol").name == "hsesol"


def test_user_configs_add_presets_and_override_by_name(tmp_path, monkeypatch):
    presets = tmp_path / "configs" / "presets"
    presets.mkdir(parents=True)
    (presets / "mine.yaml").write_text("name: mine\nflow: labeling\nsettings: {level: pbesol}\n")
    (presets / "quick.yaml").write_text("name: quick\nflow: labeling\nsettings: {limit: 1}\n")
    monkeypatch.chdir(tmp_path)
    names = named_config_paths("presets")
    assert {"mine", "quick", "paper", "dataset-quick"} <= set(names)
    assert names["mine"].parent == presets.resolve()
    assert load_preset("quick").settings == {"limit": 1}  # the user's own copy wins
    with pytest.raises(UnknownEntryError, match=r"nope.*allowed:.*mine.*paper"):
        named_config("presets", "nope")


def test_config_dir_env_var_takes_precedence(tmp_path, monkeypatch):
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "paper.yaml").write_text("name: paper\nflow: dataset\n")
    monkeypatch.setenv("THERMOGAP_CONFIG_DIR", str(tmp_path))
    assert load_preset("paper").flow == "dataset"
    assert load_preset("quick").flow == "temperature"


def test_dotted_override_edits_one_nested_setting():
    base = {"md": {"total_time_ps": 1.0, "timestep_fs": 1.0}, "mace": {"lr": 0.01}}
    out = apply_overrides(base, {"md.total_time_ps": 0.5, "mace": {"lr": 0.1}, "a.b.c": 1})
    assert out == {
        "md": {"total_time_ps": 0.5, "timestep_fs": 1.0},
        "mace": {"lr": 0.1},
        "a": {"b": {"c": 1}},
    }
    assert base["md"]["total_time_ps"] == 1.0  # the preset itself is left alone
    from thermogap.errors import ConfigError

    with pytest.raises(ConfigError, match="'seed' is 0, not a mapping"):
        apply_overrides({"seed": 0}, {"seed.x": 1})
