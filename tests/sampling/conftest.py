"""CHGNet phonons of Ag3SBr for the sampling tests (Cu3Au EMT phonons are in tests/conftest.py)."""

from __future__ import annotations

import pytest
import torch

from thermogap.phonons.harmonic import compute_force_constants

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def chgnet_calculator():
    from thermogap.engines import get_calculator

    return get_calculator("chgnet")


@pytest.fixture(scope="session")
def ag3sbr_phonon(chgnet_calculator):
    """CHGNet phonons of cubic Ag3SBr (2x2x2): unstable at 0 K, as in the seed paper."""
    from thermogap.structures import antiperovskite

    return compute_force_constants(
        antiperovskite(4.9), chgnet_calculator, supercell_matrix=(2, 2, 2)
    )
