"""Exports of label documents: extended XYZ read back by ASE and by MACE's own loader."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units
from ase.io import read
from pymatgen.core import Lattice, Structure

from thermogap.errors import InputError
from thermogap.labels.export import (
    label_docs_to_atoms,
    label_docs_to_gnn_records,
    write_extxyz,
)
from thermogap.schemas.labels import LabelDoc, label_id


def _doc(i: int, status: str = "ok") -> dict:
    rng = np.random.default_rng(i)
    s = Structure(
        Lattice.cubic(4.85 + 0.01 * i),
        ["Br", "S", "Ag", "Ag", "Ag"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )
    s.perturb(0.05, min_distance=0.01)
    if status != "ok":
        return LabelDoc.failed(f"c{i}", "lvl", s.as_dict(), "SCF failed").model_dump(mode="json")
    stress = rng.normal(0, 0.01, (3, 3))
    return LabelDoc(
        label_id=label_id(f"c{i}", "lvl"),
        config_id=f"c{i}",
        level="lvl",
        structure=s.as_dict(),
        n_atoms=5,
        energy_ev=-16.0 - i,
        energy_per_atom_ev=(-16.0 - i) / 5,
        forces_ev_per_ang=rng.normal(0, 0.3, (5, 3)).tolist(),
        stress_ev_per_ang3=(stress + stress.T).tolist(),
        band_gap_ev=1.0 + 0.1 * i,
        vbm_ev=-7.0 + 0.01 * i,
    ).model_dump(mode="json")


DOCS = [_doc(0), _doc(1, "failed"), _doc(2)]


def test_atoms_carry_reference_labels_and_skip_failures():
    atoms = label_docs_to_atoms(DOCS)
    assert [a.info["config_id"] for a in atoms] == ["c0", "c2"]
    for a, doc in zip(atoms, [DOCS[0], DOCS[2]], strict=True):
        assert a.calc is None
        assert a.info["REF_energy"] == doc["energy_ev"]
        np.testing.assert_array_equal(a.arrays["REF_forces"], doc["forces_ev_per_ang"])
        np.testing.assert_array_equal(a.info["REF_stress"], doc["stress_ev_per_ang3"])
        assert a.info["level"] == "lvl"
        positions = np.array([site["xyz"] for site in doc["structure"]["sites"]])
        np.testing.assert_allclose(a.positions, positions)
        assert a.get_chemical_symbols() == ["Br", "S", "Ag", "Ag", "Ag"]


def test_extxyz_round_trip_through_ase(tmp_path):
    path = tmp_path / "train.xyz"
    assert write_extxyz(DOCS, path) == 2
    frames = read(path, index=":")
    for frame, doc in zip(frames, [DOCS[0], DOCS[2]], strict=True):
        assert frame.info["REF_energy"] == pytest.approx(doc["energy_ev"])
        np.testing.assert_allclose(frame.arrays["REF_forces"], doc["forces_ev_per_ang"], atol=1e-7)
        np.testing.assert_allclose(
            np.reshape(frame.info["REF_stress"], (3, 3)), doc["stress_ev_per_ang3"]
        )
        assert frame.info["config_id"] == doc["config_id"]
        np.testing.assert_allclose(frame.cell.array, doc["structure"]["lattice"]["matrix"])


def test_extxyz_is_read_by_mace_with_the_documented_keys(tmp_path):
    from thermogap.mlip.calculator import contained_mace_import

    with contained_mace_import():
        from mace.data.utils import KeySpecification, load_from_xyz, update_keyspec_from_kwargs

    path = tmp_path / "train.xyz"
    write_extxyz(DOCS, path)
    keys = update_keyspec_from_kwargs(
        KeySpecification(),
        {
            "energy_key": "REF_energy",
            "forces_key": "REF_forces",
            "stress_key": "REF_stress",
            "head_key": "head",
        },
    )
    _, configs = load_from_xyz(str(path), keys)
    assert len(configs) == 2
    for config, doc in zip(configs, [DOCS[0], DOCS[2]], strict=True):
        assert config.properties["energy"] == pytest.approx(doc["energy_ev"])
        np.testing.assert_allclose(config.properties["forces"], doc["forces_ev_per_ang"], atol=1e-7)
        np.testing.assert_allclose(
            np.reshape(config.properties["stress"], (3, 3)), doc["stress_ev_per_ang3"]
        )


def test_gnn_records():
    gaps = label_docs_to_gnn_records(DOCS, "band_gap")
    assert [v for _, v in gaps] == [DOCS[0]["band_gap_ev"], DOCS[2]["band_gap_ev"]]
    assert gaps[0][0].composition.reduced_formula == "Ag3SBr"
    assert [v for _, v in label_docs_to_gnn_records(DOCS, "energy_per_atom")] == [-16 / 5, -18 / 5]
    assert [v for _, v in label_docs_to_gnn_records(DOCS, "vbm")] == [-7.0, -6.98]
    hydro = [v for _, v in label_docs_to_gnn_records(DOCS, "hydrostatic_stress")]
    expected = [np.trace(DOCS[i]["stress_ev_per_ang3"]) / 3 / units.GPa for i in (0, 2)]
    np.testing.assert_allclose(hydro, expected)  # GPa


def test_unknown_gnn_target():
    with pytest.raises(InputError, match=r"target='gap'.*allowed: band_gap, energy_per_atom, vbm"):
        label_docs_to_gnn_records(DOCS, "gap")


def test_label_without_forces_is_rejected():
    bad = dict(DOCS[0], forces_ev_per_ang=None)
    with pytest.raises(InputError, match="c0:lvl"):
        label_docs_to_atoms([bad])
    bad = dict(DOCS[0], forces_ev_per_ang=[[0.0, 0.0, 0.0]])
    with pytest.raises(InputError, match=r"forces shape \(1, 3\) != \(5, 3\)"):
        label_docs_to_atoms([bad])
