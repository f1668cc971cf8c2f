"""Thermal snapshots open the phonon-assisted (indirect) absorption below the direct gap."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from thermogap.optics import EnergyGrid, optical_spectrum, snapshot_spectra
from thermogap.optics.experiment import si_absorption_300k, si_band_gap_temperature
from thermogap.optics.sampling import md_snapshots, quantum_snapshots, stillinger_weber_si
from thermogap.tb import SI_VOGL, Sp3sStarModel

GRID = EnergyGrid(max_energy_ev=20.0, step_ev=0.01)


@pytest.fixture(scope="module")
def cell():
    return bulk("Si", "diamond", a=SI_VOGL.lattice_constant_ang, cubic=True).repeat((2, 1, 1))


def _alpha(cell, positions):
    snaps = []
    for p in positions:
        s = cell.copy()
        s.positions = p
        snaps.append(s)
    spectra = snapshot_spectra(Sp3sStarModel(), snaps, (2, 2, 2), 0.03, GRID)
    return optical_spectrum(GRID.energies_ev, [s.epsilon2 for s in spectra])


def test_tail_appears_with_md_snapshots_and_not_for_the_clamped_cell(cell):
    clamped = _alpha(cell, [cell.positions])
    thermal = _alpha(
        cell,
        md_snapshots(
            cell, stillinger_weber_si(), 300.0, 2, interval_steps=20, equilibration_steps=60, seed=4
        ),
    )
    below = (GRID.energies_ev > 1.6) & (GRID.energies_ev < 2.9)  # between Eg and the direct gap
    assert clamped.absorption_cm[below].max() < 1.0  # no momentum-conserving transition here
    assert np.median(thermal.absorption_cm[below]) > 10.0
    # above the direct gap (3.4 eV) both absorb strongly, within a factor of a few
    above = (GRID.energies_ev > 3.6) & (GRID.energies_ev < 4.2)
    ratio = thermal.absorption_cm[above].mean() / clamped.absorption_cm[above].mean()
    assert 0.3 < ratio < 3.0
    # clamped has no snapshot spread; the thermal average has one
    assert np.all(clamped.epsilon2_std == 0) and thermal.epsilon2_std[below].max() > 0


def test_quantum_displacements_include_zero_point_and_become_classical(cell):
    calc = stillinger_weber_si()
    rms2 = {}
    for t in (0.0, 1500.0, 3000.0):
        pos = quantum_snapshots(cell, calc, t, 20, seed=1)
        rms2[t] = np.mean(np.sum((pos - cell.positions) ** 2, axis=-1))
    assert rms2[0.0] > 1e-3  # zero-point motion: Å² scale of Si (~0.005 Å² per direction)
    # high-T (classical) limit: <u²> ∝ T, so doubling T doubles it (within sampling noise)
    assert rms2[3000.0] / rms2[1500.0] == pytest.approx(2.0, rel=0.2)


def test_shipped_experiment_is_consistent():
    gap = si_band_gap_temperature()
    varshni = gap.eg0_ev - gap.alpha_ev_per_k * gap.temperature_k**2 / (
        gap.temperature_k + gap.beta_k
    )
    np.testing.assert_allclose(varshni, gap.band_gap_ev, atol=0.006)
    absorption = si_absorption_300k()
    assert np.all(np.diff(absorption.energy_ev) > 0)
    assert np.all(np.diff(np.log(absorption.absorption_cm)) > 0)  # rises with energy
    assert absorption.energy_ev[0] == pytest.approx(1.127, abs=0.001)  # 1100 nm
