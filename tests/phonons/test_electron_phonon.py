"""Frozen Γ-mode distortions checked against the force constants themselves.

References used here are independent of the code under test: the harmonic energy
``½ uᵀ Φ_Γ u`` of each distortion from phonopy's real-space force constants (equipartition
at high T, ħω/4 at T = 0), a Γ dynamical matrix assembled and diagonalised in this file, and
gap functions that are analytic in the atomic positions.
"""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Structure

from thermogap.errors import CalculationError, InputError
from thermogap.phonons.electron_phonon import (
    gamma_mode_distortions,
    gamma_modes,
    mode_resolved_gap_changes,
    thermal_mode_amplitude,
)
from thermogap.phonons.harmonic import phonopy_atoms_to_structure

HBAR = 1.054571817e-34  # J s
KB = 1.380649e-23  # J/K
AMU = 1.66053906660e-27  # kg
EV = 1.602176634e-19  # J


def gamma_force_constants(phonon) -> np.ndarray:
    """Φ_Γ(i, j) = Σ over images j' of j of Φ(i, j'), shape=(3 n, 3 n), eV/Å²."""
    fc = np.asarray(phonon.force_constants)
    p2s = phonon.primitive.p2s_map
    owner = np.array([phonon.primitive.p2p_map[s] for s in phonon.primitive.s2p_map])
    n = len(p2s)
    out = np.zeros((n, 3, n, 3))
    for i, si in enumerate(p2s):
        for sj in range(fc.shape[1]):
            out[i, :, owner[sj], :] += fc[si, sj]
    return out.reshape(3 * n, 3 * n)


def harmonic_energy_ev(phonon, displacements: np.ndarray) -> float:
    u = displacements.reshape(-1)
    return 0.5 * float(u @ gamma_force_constants(phonon) @ u)


def test_frequencies_and_excluded_acoustic_modes(cu3au_phonon):
    modes = gamma_modes(cu3au_phonon)
    reference = cu3au_phonon.run_qpoints([[0, 0, 0]]).frequencies[0]
    np.testing.assert_allclose(modes.frequencies_thz, reference, atol=1e-6)
    assert modes.acoustic.sum() == 3
    assert np.all(np.abs(modes.frequencies_thz[modes.acoustic]) < 1e-3)
    # L1_2 Cu3Au at Γ: three optical triplets
    assert len(set(modes.degenerate_set[~modes.acoustic])) == 3
    # Pm-3m L1_2, 4 atoms: Γ = 3 T1u + T2u (one T1u acoustic); ascending: T1u T1u T2u T1u
    assert modes.irreps == ["T1u"] * 6 + ["T2u"] * 3 + ["T1u"] * 3

    distortions = gamma_mode_distortions(cu3au_phonon, None, 300.0)
    assert len(distortions) == 2 * 9
    assert {d.mode_index for d in distortions} == set(range(3, 12))
    assert [d.sign for d in distortions[:2]] == [1, -1]
    np.testing.assert_allclose(distortions[0].displacements_ang, -distortions[1].displacements_ang)


@pytest.mark.parametrize("sign", [(1,), (-1, 1)])
def test_harmonic_energy_is_equipartition_at_high_t_and_zero_point_at_0k(cu3au_phonon, sign):
    hot = gamma_mode_distortions(cu3au_phonon, None, 5000.0, sign=sign)
    for d in hot:
        # quantum correction to k_B T / 2 is (ħω / 2 k_B T)² / 3 < 1e-3 here
        assert harmonic_energy_ev(cu3au_phonon, d.displacements_ang) == pytest.approx(
            0.5 * KB * 5000.0 / EV, rel=2e-3
        )
    cold = gamma_mode_distortions(cu3au_phonon, None, 0.0, sign=sign)
    for d in cold:
        omega = 2 * np.pi * 1e12 * d.frequency_thz
        assert harmonic_energy_ev(cu3au_phonon, d.displacements_ang) == pytest.approx(
            HBAR * omega / 4 / EV, rel=1e-6
        )


def test_distortion_is_an_eigen_displacement(cu3au_phonon):
    masses = np.repeat(np.asarray(cu3au_phonon.primitive.masses), 3)
    phi = gamma_force_constants(cu3au_phonon)
    for d in gamma_mode_distortions(cu3au_phonon, None, 300.0, sign=(1,)):
        u = d.displacements_ang.reshape(-1)
        omega2 = (2 * np.pi * 1e12 * d.frequency_thz) ** 2 * AMU / EV * 1e-20  # eV/(Å² amu)
        # phonopy's THz conversion factor differs from CODATA in the 7th digit
        np.testing.assert_allclose(phi @ u, omega2 * masses * u, rtol=1e-6, atol=1e-9)


def test_amplitude_limits():
    freqs = np.array([0.5, 2.0, 7.0])
    omega = 2 * np.pi * 1e12 * freqs
    to_amu_ang2 = 1e20 / AMU
    zero_point = np.sqrt(HBAR / (2 * omega) * to_amu_ang2)
    np.testing.assert_allclose(thermal_mode_amplitude(freqs, 0.0), zero_point, rtol=1e-12)
    classical = np.sqrt(KB * 20_000.0 / omega**2 * to_amu_ang2)
    np.testing.assert_allclose(thermal_mode_amplitude(freqs, 20_000.0), classical, rtol=1e-3)
    # Bose–Einstein at 300 K, from n directly
    n = 1.0 / np.expm1(HBAR * omega / (KB * 300.0))
    np.testing.assert_allclose(
        thermal_mode_amplitude(freqs, 300.0), zero_point * np.sqrt(1 + 2 * n), rtol=1e-12
    )


def test_supercell_gets_the_primitive_displacement_on_every_image(cu3au_phonon):
    primitive = phonopy_atoms_to_structure(cu3au_phonon.primitive)
    supercell = primitive * (2, 1, 1)
    order = np.random.default_rng(0).permutation(len(supercell))
    supercell = Structure.from_sites([supercell[i] for i in order])
    prim = gamma_mode_distortions(cu3au_phonon, None, 300.0, sign=(1,))
    sup = gamma_mode_distortions(cu3au_phonon, supercell, 300.0, sign=(1,))
    for p, s in zip(prim, sup, strict=True):
        for k, site in enumerate(supercell):
            frac = primitive.lattice.get_fractional_coords(site.coords)
            image = int(
                np.argmin(
                    np.linalg.norm(
                        (frac - primitive.frac_coords) - np.rint(frac - primitive.frac_coords),
                        axis=1,
                    )
                )
            )
            np.testing.assert_allclose(s.displacements_ang[k], p.displacements_ang[image])
        np.testing.assert_allclose(
            s.structure.cart_coords - supercell.cart_coords, s.displacements_ang, atol=1e-10
        )

    bad = primitive * (2, 1, 1)
    bad.replace(0, "Ag")
    with pytest.raises(InputError, match="species"):
        gamma_mode_distortions(cu3au_phonon, bad, 300.0)
    strained = Structure(primitive.lattice.matrix * 1.1, primitive.species, primitive.frac_coords)
    with pytest.raises(InputError, match="not an integer multiple"):
        gamma_mode_distortions(cu3au_phonon, strained, 300.0)


def _own_gamma_modes(phonon) -> tuple[np.ndarray, np.ndarray]:
    """Second implementation: diagonalise Φ_Γ / sqrt(m m) assembled above."""
    m = np.repeat(np.asarray(phonon.primitive.masses), 3)
    eigenvalues, vectors = np.linalg.eigh(gamma_force_constants(phonon) / np.sqrt(np.outer(m, m)))
    # eV/(Å² amu) -> THz
    freqs = np.sqrt(np.abs(eigenvalues) * EV / AMU * 1e20) / (2 * np.pi * 1e12)
    return freqs * np.sign(eigenvalues), vectors


def test_analytic_gap_function_gives_exact_mode_changes(cu3au_phonon):
    primitive = phonopy_atoms_to_structure(cu3au_phonon.primitive)
    rng = np.random.default_rng(4)
    w = rng.normal(size=(len(primitive), 3))  # direction coupling to each atom
    b = rng.normal(size=(len(primitive), 3))  # linear coupling (cancels in ± average)
    g0, c, T = 1.3, 0.7, 600.0

    def gap_fn(structures):
        out = []
        for s in structures:
            diff = s.frac_coords - primitive.frac_coords
            u = (diff - np.rint(diff)) @ primitive.lattice.matrix
            out.append(g0 + np.sum(b * u) + c * np.sum(np.sum(w * u, axis=1) ** 2))
        return np.array(out)

    distortions = gamma_mode_distortions(cu3au_phonon, None, T)
    changes = mode_resolved_gap_changes(distortions, gap_fn, g0)
    assert changes.signs == (1, -1)
    assert changes.gaps_ev.shape == (9, 2)

    freqs, vectors = _own_gamma_modes(cu3au_phonon)
    masses = np.asarray(cu3au_phonon.primitive.masses)
    expected = []
    for nu in range(3, 12):
        amp = thermal_mode_amplitude(freqs[nu], T)
        u = amp * vectors[:, nu].reshape(-1, 3) / np.sqrt(masses)[:, None]
        expected.append(c * np.sum(np.sum(w * u, axis=1) ** 2) / g0)
    expected = np.array(expected)
    np.testing.assert_allclose(changes.frequency_thz, freqs[3:], rtol=1e-6)
    # the basis inside a degenerate triplet is arbitrary: compare sums per triplet (1e-6:
    # phonopy's THz factor and CODATA, used for the reference frequencies, differ at 1e-7)
    for group in np.unique(changes.degenerate_set):
        members = changes.degenerate_set == group
        np.testing.assert_allclose(
            changes.relative_gap_change[members].sum(), expected[members].sum(), rtol=1e-6
        )
    # with one sign the linear term remains: gap(+) - gap(-) = 2 b·u
    plus = mode_resolved_gap_changes(
        [d for d in distortions if d.sign == 1], gap_fn, g0
    ).relative_gap_change
    linear = np.array([np.sum(b * d.displacements_ang) / g0 for d in distortions if d.sign == 1])
    np.testing.assert_allclose(plus - changes.relative_gap_change, linear, atol=1e-12)


def test_errors(cu3au_phonon):
    distortions = gamma_mode_distortions(cu3au_phonon, None, 300.0)
    with pytest.raises(InputError, match="reference_gap_ev=0"):
        mode_resolved_gap_changes(distortions, lambda s: np.ones(len(s)), 0.0)
    with pytest.raises(CalculationError, match="gaps for 18"):
        mode_resolved_gap_changes(distortions, lambda s: np.ones(3), 1.0)
    with pytest.raises(CalculationError, match="non-finite"):
        mode_resolved_gap_changes(distortions, lambda s: np.full(len(s), np.nan), 1.0)
    with pytest.raises(InputError, match="same signs"):
        mode_resolved_gap_changes(distortions[:-1], lambda s: np.ones(len(s)), 1.0)
    with pytest.raises(InputError, match="temperature_k=-1"):
        gamma_mode_distortions(cu3au_phonon, None, -1.0)
    with pytest.raises(InputError, match="sign"):
        gamma_mode_distortions(cu3au_phonon, None, 300.0, sign=(2,))


# --------------------------------------------------------------------------- issue 10, point 5


def _intensive_gap_fn(ideal: Structure):
    """A gap that depends on the atoms' displacements per atom (the same for any supercell
    of a periodic distortion): Eg = 1 − 0.4 ⟨|u|²⟩ + 3 ⟨|u|⁴⟩ (Å), averaged over atoms."""

    def gaps(structures):
        out = []
        for s in structures:
            diff = s.frac_coords - ideal.frac_coords
            u2 = np.sum(((diff - np.rint(diff)) @ ideal.lattice.matrix) ** 2, axis=1)
            out.append(1.0 - 0.4 * u2.mean() + 3.0 * (u2**2).mean())
        return np.array(out)

    return gaps


@pytest.fixture(scope="module")
def cu3au_32_atom_phonon():
    """The same EMT crystal with phonons computed in the 2x2x2 supercell as the unit cell."""
    from ase.calculators.emt import EMT

    from fixtures.crystals import l12_cu3au
    from thermogap.phonons.harmonic import compute_force_constants

    return compute_force_constants(l12_cu3au() * (2, 2, 2), EMT(), supercell_matrix=(1, 1, 1))


@pytest.mark.parametrize("amplitude", ["quantum", "classical"])
def test_gamma_mode_gap_change_does_not_depend_on_the_phonon_cell(
    cu3au_phonon, cu3au_32_atom_phonon, amplitude
):
    """A Γ mode of the 4-atom cell is also a Γ mode of its 2x2x2 supercell (32 atoms).

    Normalised per cell, the supercell's eigenvector spreads over 8× more atoms and moves
    each √8 less; normalised per formula unit the two give the same ΔEg.
    """
    from thermogap.phonons.electron_phonon import frozen_phonon_gap_changes

    small_cell = phonopy_atoms_to_structure(cu3au_phonon.primitive)
    large_cell = phonopy_atoms_to_structure(cu3au_32_atom_phonon.primitive)
    small = frozen_phonon_gap_changes(
        cu3au_phonon, None, 300.0, _intensive_gap_fn(small_cell), amplitude=amplitude
    )
    large = frozen_phonon_gap_changes(
        cu3au_32_atom_phonon, None, 300.0, _intensive_gap_fn(large_cell), amplitude=amplitude
    )
    assert large.formula_units == 8 and small.formula_units == 1
    for group in np.unique(small.degenerate_set):
        members = small.degenerate_set == group
        frequency = small.frequency_thz[members][0]
        mean_small = small.relative_gap_change[members].mean()
        # the same triplet in the large cell: Γ-periodic in the small cell, equal frequency
        same = np.abs(large.frequency_thz - frequency) < 2e-3
        assert same.sum() >= 3
        mean_large = large.relative_gap_change[same].mean()
        assert mean_large == pytest.approx(mean_small, rel=0.01)
        assert abs(mean_small) > 1e-4  # a change that the comparison can see


def test_classical_amplitude_is_equipartition_at_any_temperature(cu3au_phonon):
    for d in gamma_mode_distortions(cu3au_phonon, None, 50.0, sign=(1,), amplitude="classical"):
        assert harmonic_energy_ev(cu3au_phonon, d.displacements_ang) == pytest.approx(
            0.5 * KB * 50.0 / EV, rel=1e-5
        )
        assert d.amplitude_kind == "classical"
    quantum = gamma_mode_distortions(cu3au_phonon, None, 50.0, sign=(1,))
    assert quantum[0].amplitude_kind == "quantum"  # Eq. 1 is the default
    with pytest.raises(InputError, match="amplitude"):
        gamma_mode_distortions(cu3au_phonon, None, 50.0, amplitude="bose")


def test_modes_imaginary_at_0k_enter_with_their_finite_temperature_frequency(cu3au_phonon):
    """Soften the crystal until Γ modes are imaginary; with finite-T frequencies they count."""
    from harmonic_md import shifted_force_constants

    soft = cu3au_phonon.copy() if hasattr(cu3au_phonon, "copy") else None
    if soft is None:  # pragma: no cover - phonopy without copy()
        import copy

        soft = copy.deepcopy(cu3au_phonon)
    modes0 = gamma_modes(cu3au_phonon)
    lowest_optical = float(np.min(modes0.frequencies_thz[~modes0.acoustic]))
    soft.force_constants = shifted_force_constants(cu3au_phonon, lowest_optical**2 + 1.0)
    modes = gamma_modes(soft)
    imaginary = ~modes.acoustic & (modes.frequencies_thz < 0)
    assert imaginary.sum() >= 3
    # today's behaviour, kept when no finite-T frequencies are known: left out
    harmonic_only = gamma_mode_distortions(soft, None, 300.0, sign=(1,))
    assert not {d.mode_index for d in harmonic_only} & set(np.flatnonzero(imaginary))
    # with renormalised frequencies (here |f0| + 0.5 THz) every optical mode is included
    at_t = np.abs(modes.frequencies_thz) + 0.5
    included = gamma_mode_distortions(soft, None, 300.0, sign=(1,), frequencies_at_t_thz=at_t)
    assert {d.mode_index for d in included} == set(np.flatnonzero(~modes.acoustic))
    for d in included:
        assert d.frequency_thz == pytest.approx(at_t[d.mode_index])
        assert d.amplitude == pytest.approx(float(thermal_mode_amplitude(at_t[d.mode_index], 300)))
        assert d.frequency_source == "finite_temperature"
    with pytest.raises(InputError, match="frequencies_at_t_thz"):
        gamma_mode_distortions(soft, None, 300.0, frequencies_at_t_thz=at_t[:5])
