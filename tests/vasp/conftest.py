"""Fake VASP for tests: atomate2's reference-directory pattern (inputs checked, outputs copied)."""

from __future__ import annotations

from pathlib import Path

import pytest
from atomate2.utils.testing.vasp import monkeypatch_vasp
from pymatgen.core import Lattice, Structure

VASP_TEST_DIR = Path(__file__).parents[1] / "test_data" / "vasp"


@pytest.fixture
def mock_vasp(monkeypatch):
    """Replace ``atomate2.vasp.run.run_vasp`` by a copy of reference outputs; POTCAR.spec only."""
    yield from monkeypatch_vasp(monkeypatch, VASP_TEST_DIR, nelect=46)


@pytest.fixture
def ag3sbr_cell() -> Structure:
    """The 5-atom cubic Ag3SBr cell of the reference directories (one Ag displaced)."""
    return Structure(
        Lattice.cubic(4.85),
        ["Br", "S", "Ag", "Ag", "Ag"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.52, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )
