"""Level-of-theory YAML files and their loader."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from thermogap.errors import ConfigError, UnknownEntryError
from thermogap.levels import BUILTIN_LEVELS_DIR, LevelOfTheory, level_names, load_level

REPO_LEVELS = Path(__file__).parents[2] / "configs" / "levels"


def test_builtin_levels():
    assert level_names() == ["chgnet-gfn1-xtb", "chgnet-ipea1-xtb", "hsesol", "pbesol"]
    for name in level_names():
        assert load_level(name).name == name


def test_paper_settings_of_vasp_levels():
    # seed paper 000, Methods: PBEsol, 550 eV, 12x12x12 on the 5-atom cell, 0.005 eV/Å
    pbesol, hsesol = load_level("pbesol"), load_level("hsesol")
    for level in (pbesol, hsesol):
        assert level.engine == "vasp"
        assert level.vasp.encut_ev == 550
        assert level.vasp.kpoints_per_atom == 12 * 12 * 12 * 5
        assert level.vasp.relax_force_tolerance_ev_per_ang == 0.005
    assert pbesol.vasp.functional == "PBEsol"
    assert hsesol.vasp.functional == "HSEsol"
    assert (hsesol.vasp.hf_screening_per_ang, hsesol.vasp.exact_exchange_fraction) == (0.2, 0.25)


def test_embedded_levels_are_distinct_and_not_named_after_dft():
    a, b = load_level("chgnet-gfn1-xtb"), load_level("chgnet-ipea1-xtb")
    assert a.engine == b.engine == "embedded"
    assert a.embedded.gap_method != b.embedded.gap_method
    for level in (a, b):
        assert "pbesol" not in level.name and "hsesol" not in level.name


def test_repository_copies_match_the_shipped_levels():
    shipped = {p.name: yaml.safe_load(p.read_text()) for p in BUILTIN_LEVELS_DIR.glob("*.yaml")}
    copies = {p.name: yaml.safe_load(p.read_text()) for p in REPO_LEVELS.glob("*.yaml")}
    assert copies == shipped


def test_unknown_level_lists_allowed_names():
    with pytest.raises(UnknownEntryError, match=r"unknown level 'pbe'; allowed: .*hsesol, pbesol"):
        load_level("pbe")


def test_config_dir_takes_precedence_and_adds_levels(tmp_path):
    data = yaml.safe_load((BUILTIN_LEVELS_DIR / "pbesol.yaml").read_text())
    data["vasp"]["encut_ev"] = 600.0
    (tmp_path / "pbesol.yaml").write_text(yaml.safe_dump(data))
    data["name"] = "pbesol-600"
    (tmp_path / "pbesol-600.yaml").write_text(yaml.safe_dump(data))
    assert load_level("pbesol", config_dir=tmp_path).vasp.encut_ev == 600
    assert load_level("pbesol").vasp.encut_ev == 550
    assert "pbesol-600" in level_names(tmp_path)
    # a configs/ root holding levels/ works as well
    root = tmp_path / "configs"
    (root / "levels").mkdir(parents=True)
    (root / "levels" / "pbesol-600.yaml").write_text(yaml.safe_dump(data))
    assert load_level("pbesol-600", config_dir=root).vasp.encut_ev == 600


def test_load_from_path_and_passthrough(tmp_path):
    level = load_level(BUILTIN_LEVELS_DIR / "hsesol.yaml")
    assert level.name == "hsesol"
    assert load_level(level) is level


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name: x\nengine: vasp\n", "engine 'vasp' needs a 'vasp:' section"),
        ("name: x\nengine: quantum\n", "engine"),
        ("name: x\nengine: embedded\nembedded: {gap_method: GFN9-xTB}\n", "gap_method"),
        ("- just\n- a list\n", "must hold a mapping"),
        ("name: [unclosed\n", "not valid YAML"),
        ("name: x\nengine: vasp\nvasp: {functional: PBEsol, encut: 500}\n", "encut"),
    ],
)
def test_invalid_level_files(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_level(path)


def test_file_name_must_match_declared_name(tmp_path):
    (tmp_path / "foo.yaml").write_text((BUILTIN_LEVELS_DIR / "pbesol.yaml").read_text())
    with pytest.raises(ConfigError, match="declares name 'pbesol', not 'foo'"):
        load_level("foo", config_dir=tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_level(tmp_path / "nope.yaml")


def test_roundtrip_through_json():
    level = load_level("chgnet-gfn1-xtb")
    assert LevelOfTheory.model_validate(level.model_dump(mode="json")) == level
