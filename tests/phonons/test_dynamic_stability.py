"""A stability verdict that can say "unstable": a double-well crystal below and above ordering.

The toy crystal (tests/phonons/double_well.py) has imaginary Γ optical modes at 0 K. At 20 K
the MD stays in one well: the soft mode oscillates about the displaced minimum, so its NMD
peak is a positive frequency (what the peak-only verdict took as "stabilised"), but the order
parameter ⟨Q⟩ is far from zero, so the lattice is unstable (it has condensed). At 1500 K the
atoms cross the barrier freely; ⟨Q⟩ is zero within its error and the quartic wall gives a
real equipartition frequency: dynamically stabilised.
"""

from __future__ import annotations

import numpy as np
import pytest
from double_well import A_ANG, K2, K4, run_md, toy_phonon
from pymatgen.core import Lattice, Structure

from thermogap.phonons.normal_modes import (
    dynamic_stability,
    normal_mode_decomposition,
    stable_modes_at_temperature,
)

THRESHOLD_THZ = 0.2


@pytest.fixture(scope="module")
def toy():
    return toy_phonon()


def _nmd(toy, temperature_k, seed):
    phonon, reference = toy
    positions, velocities, frame_fs = run_md(reference, temperature_k, 3000, seed=seed)
    keep = slice(len(positions) // 4, None)  # equilibration from the symmetric saddle
    structure = Structure(
        Lattice(reference.cell.array),
        reference.get_chemical_symbols(),
        reference.positions,
        coords_are_cartesian=True,
    )
    return normal_mode_decomposition(
        phonon,
        structure,
        velocities[keep],
        frame_fs,
        positions_ang=positions[keep],
        temperature_k=temperature_k,
    )


def test_condensed_double_well_is_unstable(toy):
    nmd = _nmd(toy, 20.0, seed=1)
    verdict = dynamic_stability(nmd, THRESHOLD_THZ)
    soft = verdict.soft_at_0k
    assert soft.sum() == 3  # the x, y, z polar Γ modes, imaginary at 0 K
    # the old, peak-only verdict calls the trapped mode stable: that is the bug
    assert stable_modes_at_temperature(nmd, THRESHOLD_THZ)[soft].all()
    # the order parameter ⟨Q⟩ = sqrt(N μ) w0 per axis is far from zero
    mu = 1 / (1 / 39.0983 + 1 / 35.453)
    well = np.sqrt(8 * mu) * np.sqrt(K2 / K4)
    # (the basis of the degenerate triplet is arbitrary: compare its norm, all 3 axes condensed)
    order = np.linalg.norm(nmd.amplitudes.mean[soft])
    assert order == pytest.approx(np.sqrt(3) * well, rel=0.1)
    assert np.linalg.norm(nmd.amplitudes.significance[soft]) > 10
    assert not verdict.order_parameter_zero[soft].any()
    assert not verdict.dynamically_stable
    assert not verdict.stabilised.any()


def test_disordered_double_well_is_stabilised(toy):
    nmd = _nmd(toy, 1500.0, seed=2)
    verdict = dynamic_stability(nmd, THRESHOLD_THZ)
    soft = verdict.soft_at_0k
    assert verdict.order_parameter_zero.all()
    # equipartition frequency of a quartic-dominated well: a real, finite frequency, and the
    # stable modes' ω_eq match their harmonic frequencies (anharmonicity aside, ±20 %)
    assert np.all(nmd.amplitudes.equipartition_frequencies_thz[soft] > 1.0)
    stiff = ~nmd.acoustic & ~soft
    ratio = (
        nmd.amplitudes.equipartition_frequencies_thz[stiff] / nmd.harmonic_frequencies_thz[stiff]
    )
    assert np.median(ratio) == pytest.approx(1.0, abs=0.2)
    assert verdict.dynamically_stable
    assert verdict.stabilised.sum() == 3
    assert A_ANG == 3.0
