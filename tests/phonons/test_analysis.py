"""Band path, DOS, imaginary modes and the stability flag against analytic lattice dynamics."""

from __future__ import annotations

import numpy as np
import pytest
from morse_reference import (
    A_FCC_ANG,
    analytic_fcc_frequencies,
    analytic_frequencies,
    fcc_morse_phonon,
    simple_cubic_morse,
)

from thermogap.errors import InputError
from thermogap.phonons.analysis import (
    analyse_phonons,
    band_structure,
    density_of_states,
    is_dynamically_stable,
    standard_band_path,
)


def _cartesian(phonon, q_frac):
    return 2 * np.pi * np.linalg.inv(np.array(phonon.primitive.cell)) @ np.asarray(q_frac)


def test_cubic_path_is_the_standard_one(cu3au_phonon):
    branches, labels = standard_band_path(cu3au_phonon)
    assert labels == [["Γ", "X", "M", "Γ", "R", "X"], ["M", "R"]]
    expected = {"Γ": [0, 0, 0], "X": [0, 0.5, 0], "M": [0.5, 0.5, 0], "R": [0.5, 0.5, 0.5]}
    for points, names in zip(branches, labels, strict=True):
        for q, name in zip(points, names, strict=True):
            np.testing.assert_allclose(q, expected[name], atol=1e-12)


@pytest.fixture(scope="module")
def fcc():
    return fcc_morse_phonon()


def test_fcc_path_points_have_the_textbook_lengths_and_frequencies(fcc):
    """In a non-cubic (primitive FCC) setting, X and L sit at 2π/a and √3π/a from Γ."""
    bands = band_structure(fcc, npoints=11)
    branches, labels = standard_band_path(fcc)
    lengths = {
        name: np.linalg.norm(_cartesian(fcc, q))
        for points, names in zip(branches, labels, strict=True)
        for q, name in zip(points, names, strict=True)
    }
    assert lengths["X"] == pytest.approx(2 * np.pi / A_FCC_ANG)
    assert lengths["L"] == pytest.approx(np.sqrt(3) * np.pi / A_FCC_ANG)
    assert lengths["Γ"] == pytest.approx(0.0)
    mass = float(fcc.primitive.masses[0])
    for q, freqs in zip(bands.qpoints[::7], bands.frequencies_thz[::7], strict=True):
        np.testing.assert_allclose(
            np.sort(freqs), analytic_fcc_frequencies(_cartesian(fcc, q), mass), rtol=2e-3, atol=2e-3
        )
    start, end = bands.segment_ends[0]
    assert end - start + 1 == 11


def test_dos_integrates_to_three_modes_per_atom(cu3au_phonon):
    dos = density_of_states(cu3au_phonon, mesh=(8, 8, 8), freq_pitch_thz=0.02)
    total = np.trapezoid(dos.dos, dos.frequencies_thz)
    assert total == pytest.approx(3 * 4, rel=0.02)


def test_compressed_simple_cubic_is_unstable_with_the_analytic_imaginary_modes():
    a = 2.3
    phonon = simple_cubic_morse(a)
    analysis = analyse_phonons(phonon, band_npoints=9, dos_mesh=(6, 6, 6), max_imaginary_modes=None)
    assert not analysis.dynamically_stable
    neighbours = [a * v for v in np.vstack([np.eye(3), -np.eye(3)])]
    mass = float(phonon.primitive.masses[0])
    modes = analysis.imaginary_modes
    assert modes and all(m.frequency_thz < -analysis.stability_tolerance_thz for m in modes)
    for mode in modes[:: max(1, len(modes) // 15)]:
        expected = analytic_frequencies(2 * np.pi * np.asarray(mode.qpoint) / a, mass, neighbours)
        assert np.min(np.abs(expected - mode.frequency_thz)) < 2e-3
        # transverse: the eigenvector is perpendicular to the bond of a q along an axis
        q = np.asarray(mode.qpoint)
        if np.count_nonzero(np.abs(q) > 1e-9) == 1:
            axis = int(np.argmax(np.abs(q)))
            assert abs(mode.eigenvector[0, axis]) < 1e-6
    frequencies = sorted(m.frequency_thz for m in modes)
    assert frequencies == [m.frequency_thz for m in modes]  # most unstable first
    assert analysis.min_frequency_thz == pytest.approx(modes[0].frequency_thz)


def test_stretched_simple_cubic_is_stable():
    analysis = analyse_phonons(simple_cubic_morse(2.7), band_npoints=9, dos_mesh=(6, 6, 6))
    assert analysis.dynamically_stable
    assert analysis.imaginary_modes == []
    assert analysis.min_frequency_thz == pytest.approx(0.0, abs=1e-3)  # acoustic at Γ


def test_tolerance_decides_what_counts_as_imaginary():
    assert is_dynamically_stable(np.array([-0.03, 0.0, 2.0]), tolerance_thz=0.05)
    assert not is_dynamically_stable(np.array([-0.06, 0.0, 2.0]), tolerance_thz=0.05)
    with pytest.raises(InputError, match="npoints"):
        band_structure(simple_cubic_morse(2.7), npoints=1)
