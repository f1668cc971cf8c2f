"""Helpers for tests that need labelled Ag3SBr cells or a tiny MACE model (no fixtures)."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from thermogap.engines import get_calculator
from thermogap.labels.export import ENERGY_KEY, FORCES_KEY, STRESS_KEY

TINY_SETTINGS = dict(
    num_channels=8,
    max_l=0,
    max_ell=1,
    correlation=2,
    r_max_ang=4.0,
    num_interactions=1,
    num_radial_basis=4,
    radial_mlp=[8],
    mlp_irreps="8x0e",
    max_num_epochs=10,
    batch_size=4,
    lr=0.01,
    valid_fraction=0.1,
    test_fraction=0.1,
    seed=1,
    num_threads=1,
)


def ag3sbr_cell(lattice_parameter_ang: float = 4.9) -> Atoms:
    """Cubic Pm-3m Ag3SBr: Ag on face centres, S at the body centre, Br at the corner."""
    positions = [[0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5], [0.5, 0.5, 0.5], [0, 0, 0]]
    return Atoms("Ag3SBr", scaled_positions=positions, cell=[lattice_parameter_ang] * 3, pbc=True)


def rattled_ag3sbr_labels(n_configurations: int, seed: int = 0) -> list:
    """Rattled, strained 5-atom Ag3SBr cells labelled with CHGNet (eV, eV/Å, eV/Å^3)."""
    calc = get_calculator("chgnet")
    base = ag3sbr_cell()
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_configurations):
        atoms = base.copy()
        atoms.set_cell(atoms.cell * (1 + rng.normal(0, 0.01)), scale_atoms=True)
        atoms.positions += rng.normal(0, 0.08, atoms.positions.shape)
        atoms.calc = calc
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        stress = atoms.get_stress(voigt=False)
        atoms.calc = None
        atoms.info.update({ENERGY_KEY: energy, STRESS_KEY: stress, "config_id": f"c{i}"})
        atoms.info["level"] = "chgnet"
        atoms.arrays[FORCES_KEY] = forces
        frames.append(atoms)
    return frames
