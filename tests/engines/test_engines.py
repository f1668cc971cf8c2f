"""Engine registry, CHGNet calculator and xTB band edges, against independent references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.engines import engine_names, get_calculator
from thermogap.engines.embedded import cached_calculator, embedded_label, xtb_band_edges
from thermogap.errors import CalculationError, InputError, UnknownEntryError
from thermogap.levels import load_level
from thermogap.threads import limited_threads

HARTREE_EV = 27.211386245988  # CODATA 2018
BOHR_ANG = 0.529177210903


def ag3sbr(displacement: float = 0.0, seed: int = 3) -> Atoms:
    s = Structure(
        Lattice.cubic(4.85),
        ["Br", "S", "Ag", "Ag", "Ag"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.52, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )
    atoms = AseAtomsAdaptor.get_atoms(s)
    atoms.positions += np.random.default_rng(seed).normal(0, displacement, atoms.positions.shape)
    return atoms


def test_registry():
    names = engine_names()
    assert {"chgnet", "tblite-gfn1", "tblite-ipea1", "tblite-gfn2"} <= set(names)
    with pytest.raises(UnknownEntryError, match="unknown engine 'vasp'; allowed: chgnet"):
        get_calculator("vasp")
    with pytest.raises(InputError, match=r"model_name='9.9'.*allowed: 0.3.0"):
        get_calculator("chgnet", model_name="9.9")


def test_chgnet_forces_and_stress_are_derivatives_of_its_energy():
    # ASE's finite differences are an independent check of units and of the stress sign
    atoms = ag3sbr(0.05)
    atoms.calc = cached_calculator("chgnet", model_name="0.3.0")
    assert isinstance(atoms.calc, Calculator)
    forces = atoms.get_forces()
    stress = atoms.get_stress(voigt=False)
    with limited_threads(1):
        for i, j in [(0, 0), (2, 2), (0, 1)]:  # eV/Å^3 (float32 model)
            assert stress[i, j] == pytest.approx(_numerical_stress(atoms, i, j), abs=2e-4)
        for a, k in [(2, 0), (0, 1)]:
            assert forces[a, k] == pytest.approx(_numerical_force(atoms, a, k), abs=2e-2)
    assert abs(stress[0, 0]) > 1e-3  # the comparison is not between two zeros


def _energy(atoms: Atoms, cell=None, positions=None) -> float:
    probe = atoms.copy()
    probe.calc = atoms.calc
    if cell is not None:
        probe.set_cell(cell, scale_atoms=True)
    if positions is not None:
        probe.positions = positions
    return probe.get_potential_energy()


def _numerical_stress(atoms: Atoms, i: int, j: int, d: float = 1e-3) -> float:
    """σ_ij = (1/V) ∂E/∂ε_ij by central differences of a symmetric strain (ASE sign)."""
    strain = np.zeros((3, 3))
    strain[i, j] += d / 2
    strain[j, i] += d / 2
    cell = atoms.cell.array
    plus = _energy(atoms, cell=cell @ (np.eye(3) + strain))
    minus = _energy(atoms, cell=cell @ (np.eye(3) - strain))
    return (plus - minus) / (2 * d * atoms.get_volume())


def _numerical_force(atoms: Atoms, a: int, k: int, d: float = 1e-3) -> float:
    """F_ak = -∂E/∂r_ak by central differences."""
    shifted = atoms.positions.copy()
    shifted[a, k] += d
    plus = _energy(atoms, positions=shifted)
    shifted[a, k] -= 2 * d
    minus = _energy(atoms, positions=shifted)
    return -(plus - minus) / (2 * d)


def test_xtb_band_edges_against_tblite_directly():
    from tblite.ase import TBLite
    from tblite.interface import Calculator as TB

    atoms = ag3sbr(0.05)
    edges = xtb_band_edges(atoms, "GFN1-xTB", accuracy=1.0, max_iterations=100)
    # independent unit path: tblite's own ASE calculator (eV, Å)
    ref = atoms.copy()
    ref.calc = TBLite(method="GFN1-xTB", accuracy=1.0, verbosity=0)
    assert edges.xtb_energy_ev == pytest.approx(ref.get_potential_energy(), abs=1e-4)
    # independent band-edge rule: last orbital more than half occupied / first less
    calc = TB(
        "GFN1-xTB",
        atoms.numbers,
        atoms.positions / BOHR_ANG,
        lattice=atoms.cell.array / BOHR_ANG,
        periodic=np.ones(3, bool),
    )
    calc.set("verbosity", 0)
    res = calc.singlepoint()
    energies, occupations = res.get("orbital-energies") * HARTREE_EV, res.get("orbital-occupations")
    homo = energies[occupations > 1.0].max()
    lumo = energies[occupations < 1.0].min()
    assert edges.vbm_ev == pytest.approx(homo, abs=1e-3)
    assert edges.band_gap_ev == pytest.approx(lumo - homo, abs=1e-3)
    # 46 valence electrons (Br 7, S 6, 3 Ag 11): 23 doubly occupied orbitals
    assert np.sum(energies <= homo + 1e-9) == 23
    assert 0.1 < edges.band_gap_ev < 5


def test_unconverged_scf_raises_calculation_error():
    with pytest.raises(CalculationError, match="GFN1-xTB SCF failed"):
        xtb_band_edges(ag3sbr(0.3), "GFN1-xTB", max_iterations=3)


def test_embedded_label_is_consistent_with_its_parts():
    level = load_level("chgnet-ipea1-xtb").embedded
    atoms = ag3sbr(0.05)
    result = embedded_label(atoms, level)
    ref = atoms.copy()
    ref.calc = cached_calculator("chgnet", model_name="0.3.0")
    assert result.energy_ev == pytest.approx(ref.get_potential_energy(), abs=1e-5)
    np.testing.assert_allclose(result.forces_ev_per_ang, ref.get_forces(), atol=1e-5)
    assert result.forces_ev_per_ang.shape == (5, 3) and result.stress_ev_per_ang3.shape == (3, 3)
    edges = xtb_band_edges(
        atoms, "IPEA1-xTB", accuracy=level.gap_accuracy, max_iterations=level.gap_max_iterations
    )
    assert result.band_edges == edges
    assert atoms.calc is None  # the input is not modified


def test_limited_threads_restores_torch_threads():
    before = torch.get_num_threads()
    with limited_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
