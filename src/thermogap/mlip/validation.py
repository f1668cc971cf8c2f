"""Validate an MLIP on harmonic phonons of a parent compound against a reference level."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from thermogap.errors import InputError
from thermogap.mlip.metrics import regression_metrics

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

__all__ = [
    "commensurate_qpoints",
    "compare_phonon_frequencies",
    "phonon_frequencies_thz",
    "validate_phonons",
]


def commensurate_qpoints(supercell_matrix: Sequence[int] | Sequence[Sequence[int]]) -> np.ndarray:
    """q-points (reduced coordinates) commensurate with the supercell, shape=(n_q, 3).

    At these q-points finite-displacement phonons are exact (no Fourier interpolation).
    """
    from phonopy.harmonic.dynmat_to_fc import get_commensurate_points

    from thermogap.phonons.harmonic import supercell_matrix_array

    return np.asarray(get_commensurate_points(supercell_matrix_array(supercell_matrix)), float)


def phonon_frequencies_thz(
    structure: Structure,
    calculator: Calculator,
    qpoints: np.ndarray,
    supercell_matrix: Sequence[int] | Sequence[Sequence[int]] = (2, 2, 2),
    displacement_ang: float = 0.01,
) -> np.ndarray:
    """Harmonic phonon frequencies of ``structure`` with ``calculator`` at ``qpoints``.

    Parameters
    ----------
    structure
        Unit cell (phonopy's primitive cell).
    calculator
        Any ASE calculator (forces eV/Å).
    qpoints
        Reduced coordinates, shape=(n_q, 3).
    supercell_matrix
        Supercell of the finite displacements.
    displacement_ang
        Displacement amplitude, Å.

    Returns
    -------
    numpy.ndarray
        Frequencies, THz, shape=(n_q, 3 * n_atoms); imaginary ones as negative numbers.
    """
    from thermogap.phonons.harmonic import compute_force_constants

    phonon = compute_force_constants(
        structure, calculator, supercell_matrix=supercell_matrix, displacement_ang=displacement_ang
    )
    phonon.run_qpoints(np.asarray(qpoints, dtype=float))
    return np.asarray(phonon.get_qpoints_dict()["frequencies"], dtype=float)


def compare_phonon_frequencies(
    frequencies_mlip_thz: np.ndarray,
    frequencies_reference_thz: np.ndarray,
    qpoints: np.ndarray,
    imaginary_tolerance_thz: float = 0.1,
) -> dict[str, Any]:
    """Compare MLIP and reference phonon frequencies band by band.

    Parameters
    ----------
    frequencies_mlip_thz, frequencies_reference_thz
        THz, shape=(n_q, n_bands), bands sorted by frequency at each q (phonopy's order);
        imaginary frequencies as negative numbers.
    qpoints
        Reduced coordinates, shape=(n_q, 3).
    imaginary_tolerance_thz
        A mode is imaginary if its frequency is below ``-imaginary_tolerance_thz``.

    Returns
    -------
    dict
        The fields of :class:`thermogap.schemas.mlip.PhononValidationDoc` that describe the
        comparison (frequency MAE/RMSE in THz, R², imaginary q-points of each, agreement).
    """
    mlip = np.asarray(frequencies_mlip_thz, dtype=float)
    ref = np.asarray(frequencies_reference_thz, dtype=float)
    if mlip.shape != ref.shape or mlip.ndim != 2:
        raise InputError(
            f"frequency arrays must have the same (n_q, n_bands) shape; got {mlip.shape} "
            f"and {ref.shape}"
        )
    if imaginary_tolerance_thz < 0:
        raise InputError(f"{imaginary_tolerance_thz=} must be >= 0 THz")
    metrics = regression_metrics(mlip, ref)
    imag_mlip = mlip < -imaginary_tolerance_thz
    imag_ref = ref < -imaginary_tolerance_thz
    q_mlip = [int(i) for i in np.flatnonzero(imag_mlip.any(axis=1))]
    q_ref = [int(i) for i in np.flatnonzero(imag_ref.any(axis=1))]
    return {
        "qpoints": np.asarray(qpoints, dtype=float).tolist(),
        "frequencies_mlip_thz": mlip.tolist(),
        "frequencies_reference_thz": ref.tolist(),
        "frequency_mae_thz": metrics.mae,
        "frequency_rmse_thz": metrics.rmse,
        "frequency_r2": metrics.r2,
        "imaginary_tolerance_thz": imaginary_tolerance_thz,
        "imaginary_qpoints_mlip": q_mlip,
        "imaginary_qpoints_reference": q_ref,
        "n_imaginary_mlip": int(imag_mlip.sum()),
        "n_imaginary_reference": int(imag_ref.sum()),
        "imaginary_agree": q_mlip == q_ref,
    }


def validate_phonons(
    structure: Structure,
    mlip_calculator: Calculator,
    reference_calculator: Calculator | None = None,
    *,
    reference_frequencies_thz: np.ndarray | None = None,
    qpoints: np.ndarray | None = None,
    supercell_matrix: Sequence[int] | Sequence[Sequence[int]] = (2, 2, 2),
    displacement_ang: float = 0.01,
    imaginary_tolerance_thz: float = 0.1,
) -> dict[str, Any]:
    """Phonons of a parent compound from an MLIP against a reference calculator or data.

    Parameters
    ----------
    structure
        Parent unit cell.
    mlip_calculator
        The MLIP's ASE calculator.
    reference_calculator
        Reference-level calculator; or give ``reference_frequencies_thz`` instead.
    reference_frequencies_thz
        Precomputed reference frequencies, THz, shape=(n_q, n_bands), at ``qpoints``.
    qpoints
        Reduced coordinates, shape=(n_q, 3); default: the commensurate q-points of the
        supercell, where finite-displacement phonons are exact.
    supercell_matrix, displacement_ang
        Finite-displacement settings (Å).
    imaginary_tolerance_thz
        Threshold below which (negative) a mode counts as imaginary, THz.

    Returns
    -------
    dict
        See :func:`compare_phonon_frequencies`, plus ``"formula"``.
    """
    if (reference_calculator is None) == (reference_frequencies_thz is None):
        raise InputError("give exactly one of reference_calculator and reference_frequencies_thz")
    if qpoints is None:
        if reference_frequencies_thz is not None:
            raise InputError("reference_frequencies_thz needs the qpoints they were computed at")
        qpoints = commensurate_qpoints(supercell_matrix)
    mlip = phonon_frequencies_thz(
        structure, mlip_calculator, qpoints, supercell_matrix, displacement_ang
    )
    if reference_calculator is not None:
        reference = phonon_frequencies_thz(
            structure, reference_calculator, qpoints, supercell_matrix, displacement_ang
        )
    else:
        reference = np.asarray(reference_frequencies_thz, dtype=float)
    result = compare_phonon_frequencies(mlip, reference, qpoints, imaginary_tolerance_thz)
    result["formula"] = structure.composition.reduced_formula
    return result
