"""Prototype structures against their crystallographic definition; file round trips."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.io.cif import CifWriter
from pymatgen.io.vasp import Poscar
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from thermogap.errors import InputError
from thermogap.structures.prototypes import (
    DEFAULT_LATTICE_PARAMETERS_ANG,
    antiperovskite,
    load_structure,
    perovskite,
)


def _neighbour_distances(structure, index: int, species: str) -> np.ndarray:
    others = [i for i, s in enumerate(structure) if s.specie.symbol == species]
    # distances to periodic images within 1.3 cell lengths (past the first two shells)
    neighbours = structure.get_neighbors(structure[index], structure.lattice.a * 1.3)
    found = sorted(n.nn_distance for n in neighbours if n.index in others)
    return np.array(found)


def test_antiperovskite_is_pm3m_with_linear_s_ag_s_bonds() -> None:
    a = 4.9
    structure = antiperovskite(a, a="Ag", b="S", x="I")
    assert [s.specie.symbol for s in structure] == ["Ag", "Ag", "Ag", "S", "I"]
    assert structure.composition.reduced_formula == "Ag3SI"
    analyzer = SpacegroupAnalyzer(structure, symprec=1e-3)
    assert analyzer.get_space_group_number() == 221
    # S at the body centre: 6 Ag at a/2 (octahedron); I at the corner: 12 Ag at a/sqrt(2)
    s_ag = _neighbour_distances(structure, 3, "Ag")
    i_ag = _neighbour_distances(structure, 4, "Ag")
    assert np.allclose(s_ag[:6], a / 2) and s_ag[6] > a / 2 + 0.1
    assert np.allclose(i_ag[:12], a / np.sqrt(2)) and i_ag[12] > a / np.sqrt(2) + 0.1
    assert np.allclose(structure[4].frac_coords, 0.0)
    assert np.allclose(structure[3].frac_coords, 0.5)


def test_perovskite_has_bx6_octahedra() -> None:
    a = 4.0
    structure = perovskite(a, a="Ba", b="Ti", x="O")
    assert structure.composition.reduced_formula == "BaTiO3"
    assert SpacegroupAnalyzer(structure, symprec=1e-3).get_space_group_number() == 221
    ti_o = _neighbour_distances(structure, 1, "O")
    assert np.allclose(ti_o[:6], a / 2) and ti_o[6] > a / 2 + 0.1


@pytest.mark.parametrize("bad", [0.0, -4.9, float("nan"), "abc"])
def test_bad_lattice_parameter_is_an_input_error(bad) -> None:
    with pytest.raises(InputError, match="lattice_parameter_ang"):
        antiperovskite(bad)


def test_bad_species_is_an_input_error() -> None:
    with pytest.raises(InputError, match="'Xx'"):
        antiperovskite(4.9, x="Xx")


@pytest.mark.parametrize("name", ["Ag3SBr", "ag3si"])
def test_known_names_build_prototypes(name: str) -> None:
    structure = load_structure(name)
    formula = structure.composition.reduced_formula
    assert formula.lower() == name.lower()
    assert structure.lattice.a == pytest.approx(DEFAULT_LATTICE_PARAMETERS_ANG[formula])


@pytest.mark.parametrize("fmt", ["cif", "poscar"])
def test_structure_files_round_trip(tmp_path, fmt: str) -> None:
    original = antiperovskite(4.95, x="I")
    path = tmp_path / ("Ag3SI.cif" if fmt == "cif" else "POSCAR")
    if fmt == "cif":
        CifWriter(original).write_file(path)
    else:
        Poscar(original).write_file(path)
    loaded = load_structure(path)
    assert StructureMatcher(primitive_cell=False, scale=False).fit(loaded, original)
    assert loaded.lattice.a == pytest.approx(4.95)


def test_unknown_name_and_unreadable_file_are_clear_errors(tmp_path) -> None:
    with pytest.raises(InputError, match=r"known prototypes: \['Ag3SBr', 'Ag3SI'\]"):
        load_structure("Ag3SCl")
    junk = tmp_path / "junk.cif"
    junk.write_text("this is not a crystal\n")
    with pytest.raises(InputError, match=r"junk\.cif"):
        load_structure(junk)
