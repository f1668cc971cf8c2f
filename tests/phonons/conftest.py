"""Small real phonon calculations shared by the phonon tests."""

from __future__ import annotations

import pytest
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure

from thermogap.phonons.harmonic import compute_force_constants


def l12_cu3au(a_ang: float = 3.75) -> Structure:
    """L1_2 Cu3Au, a 4-atom cubic cell that is dynamically stable with EMT."""
    return Structure(
        Lattice.cubic(a_ang),
        ["Au", "Cu", "Cu", "Cu"],
        [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )


@pytest.fixture
def cu3au_structure() -> Structure:
    return l12_cu3au()


@pytest.fixture(scope="session")
def cu3au_phonon():
    """EMT phonons of L1_2 Cu3Au in a 2x2x2 supercell (stable, two masses)."""
    return compute_force_constants(l12_cu3au(), EMT(), supercell_matrix=(2, 2, 2))
