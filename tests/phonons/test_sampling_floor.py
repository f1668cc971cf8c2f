"""The floor under the sampling frequencies of the renormalisation (``min_sampling_frequency_thz``).

References: phonopy's own thermal sampling (no floor, or a floor below every mode, must give
exactly phonopy's displacements) and the closed-form width of a harmonic oscillator,
``⟨u²⟩ = ħ (1 + 2n) / (2 m ω)`` per Cartesian component and mode, when the floor lifts every
mode of a crystal to one frequency.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.phonons.anharmonic import _thermal_displacements
from thermogap.phonons.harmonic import compute_force_constants

HBAR_J_S = 1.054571817e-34
KB_J_K = 1.380649e-23
AMU_KG = 1.66053906660e-27


@pytest.fixture(scope="module")
def cu_phonon():
    cu = AseAtomsAdaptor.get_structure(bulk("Cu", "fcc", a=3.61))
    return compute_force_constants(cu, EMT(), supercell_matrix=(2, 2, 2))


def test_without_floor_it_is_phonopys_sampling(cu_phonon) -> None:
    reference = cu_phonon.replicate()
    reference.force_constants = cu_phonon.force_constants
    reference.generate_displacements(
        number_of_snapshots=5, temperature=300.0, is_plusminus=True, random_seed=7
    )
    expected = np.asarray(reference.displacements)
    for floor in (None, 0.5):  # 0.5 THz is below every non-acoustic commensurate mode of Cu
        sampler = cu_phonon.replicate()
        sampler.force_constants = cu_phonon.force_constants
        u = _thermal_displacements(sampler, 300.0, 5, True, 7, None, floor)
        np.testing.assert_allclose(u, expected, atol=1e-12)
        assert len(sampler.supercells_with_displacements) == 10


def test_floor_above_every_mode_gives_the_oscillator_width(cu_phonon) -> None:
    floor_thz, temperature = 12.0, 300.0  # EMT Cu tops out near 7.5 THz
    sampler = cu_phonon.replicate()
    sampler.force_constants = cu_phonon.force_constants
    u = _thermal_displacements(sampler, temperature, 400, False, 3, None, floor_thz)
    n_atoms = u.shape[1]
    omega = 2 * np.pi * floor_thz * 1e12
    occupation = 1 / np.expm1(HBAR_J_S * omega / (KB_J_K * temperature))
    per_mode = HBAR_J_S * (1 + 2 * occupation) / (2 * 63.546 * AMU_KG * omega) * 1e20  # Å²
    # 3N modes minus the three acoustic ones at Γ, spread over 3N Cartesian components
    expected = per_mode * (3 * n_atoms - 3) / (3 * n_atoms)
    assert np.mean(u**2) == pytest.approx(expected, rel=0.06)
    # the same draws without the floor are wider: Cu's modes are all below 12 THz
    plain = cu_phonon.replicate()
    plain.force_constants = cu_phonon.force_constants
    assert np.mean(_thermal_displacements(plain, temperature, 400, False, 3, None, None) ** 2) > (
        1.5 * expected
    )
