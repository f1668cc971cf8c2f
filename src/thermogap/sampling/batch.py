"""One batch of displaced configurations: a supercell, a scheme, a temperature, a seed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from phonopy import Phonopy
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.phonons.harmonic import SupercellMatrix, phonopy_atoms_to_structure
from thermogap.sampling.amplitudes import (
    DEFAULT_FREQUENCY_CUTOFF_THZ,
    thermal_amplitude_analysis,
    thermal_mode_basis,
)
from thermogap.sampling.displacements import (
    gaussian_displacements,
    map_to_parent_sites,
    mixed_site_amplitudes,
    phonon_displacements,
    random_displacements,
)

__all__ = ["SCHEMES", "DisplacementBatch", "sample_displacements"]

SCHEMES = ("phonon", "gaussian", "random", "equilibrium")


@dataclass
class DisplacementBatch:
    """Displacements of one batch and how they were obtained.

    Attributes
    ----------
    displacements_ang : numpy.ndarray
        shape=(n_configurations, n_atoms, 3), Cartesian, Å.
    amplitudes_ang : numpy.ndarray or None
        ζ of every supercell atom (phonon scheme), shape=(n_atoms, 3), Å.
    n_imaginary_excluded, n_near_zero_excluded : int
        Modes left out of the amplitudes or the covariance (summed over parents).
    parent_index : int or None
        Which parent phonon the gaussian scheme used.
    """

    displacements_ang: np.ndarray
    amplitudes_ang: np.ndarray | None = None
    n_imaginary_excluded: int = 0
    n_near_zero_excluded: int = 0
    parent_index: int | None = None


def sample_displacements(
    supercell: Structure,
    scheme: str,
    n_configurations: int,
    rng: np.random.Generator,
    *,
    parents: Sequence[Phonopy] = (),
    temperature_k: float | None = None,
    amplitude_ang: float | None = None,
    mesh: Sequence[int] = (8, 8, 8),
    frequency_cutoff_thz: float = DEFAULT_FREQUENCY_CUTOFF_THZ,
    supercell_matrix: SupercellMatrix | None = None,
) -> DisplacementBatch:
    """Draw the displacements of ``n_configurations`` configurations of ``supercell``.

    Parameters
    ----------
    supercell : Structure
        Undisplaced (possibly disordered) supercell of the parents' unit cell.
    scheme : str
        One of ``"phonon"``, ``"gaussian"``, ``"random"``, ``"equilibrium"``
        (see :mod:`thermogap.sampling.displacements`).
    n_configurations : int
    rng : numpy.random.Generator
        E.g. :func:`thermogap.sampling.displacements.batch_rng`.
    parents : sequence of phonopy.Phonopy
        Parent phonons with force constants (phonon and gaussian schemes).  Several parents
        (the end members of a solid solution) are mixed site by site for the phonon scheme
        (:func:`mixed_site_amplitudes`); the gaussian scheme uses the parent that matches the
        most atoms' species.
    temperature_k : float
        Temperature of the phonon and gaussian schemes, K.
    amplitude_ang : float
        Length a of the random scheme, Å.
    mesh : three ints
        q mesh of the phonon-scheme amplitudes.
    frequency_cutoff_thz : float
        Modes at or below this frequency (imaginary, acoustic at Γ) are left out, THz.
    """
    if scheme not in SCHEMES:
        raise InputError(f"{scheme=} is not a displacement scheme; allowed: {', '.join(SCHEMES)}")
    n_atoms = len(supercell)
    if scheme == "equilibrium":
        return DisplacementBatch(np.zeros((int(n_configurations), n_atoms, 3)))
    if scheme == "random":
        if amplitude_ang is None:
            raise InputError("the random scheme needs amplitude_ang (Å), e.g. 0.1 to 0.8")
        return DisplacementBatch(
            random_displacements(n_atoms, amplitude_ang, n_configurations, rng)
        )
    if not parents:
        raise InputError(f"the {scheme!r} scheme needs at least one parent phonon calculation")
    if temperature_k is None:
        raise InputError(f"the {scheme!r} scheme needs temperature_k (K)")
    cells = [phonopy_atoms_to_structure(p.primitive) for p in parents]
    if scheme == "phonon":
        analyses = [
            thermal_amplitude_analysis(
                p, [temperature_k], mesh=mesh, frequency_cutoff_thz=frequency_cutoff_thz
            )
            for p in parents
        ]
        zeta = mixed_site_amplitudes(
            supercell,
            [(c, a.amplitudes_ang[0]) for c, a in zip(cells, analyses, strict=True)],
            supercell_matrix=supercell_matrix,
        )
        return DisplacementBatch(
            phonon_displacements(zeta, n_configurations, rng),
            amplitudes_ang=zeta,
            n_imaginary_excluded=sum(a.n_imaginary_excluded for a in analyses),
            n_near_zero_excluded=sum(a.n_near_zero_excluded for a in analyses),
        )
    index = _best_matching_parent(supercell, cells, supercell_matrix)
    site_map = map_to_parent_sites(supercell, cells[index], supercell_matrix=supercell_matrix)
    basis, n_imag, n_zero = thermal_mode_basis(
        parents[index],
        temperature_k,
        site_map.supercell_matrix,
        site_map.site_index,
        site_map.frac_positions,
        frequency_cutoff_thz=frequency_cutoff_thz,
    )
    # The basis is built in the parent's Cartesian frame; a uniformly scaled (Vegard)
    # supercell has the same orientation, so displacements carry over unchanged.
    return DisplacementBatch(
        gaussian_displacements(basis, n_configurations, rng),
        n_imaginary_excluded=n_imag,
        n_near_zero_excluded=n_zero,
        parent_index=index,
    )


def _best_matching_parent(
    supercell: Structure,
    cells: Sequence[Structure],
    supercell_matrix: SupercellMatrix | None,
) -> int:
    species = np.array([s.specie.symbol for s in supercell])
    scores = []
    for cell in cells:
        site_map = map_to_parent_sites(supercell, cell, supercell_matrix=supercell_matrix)
        parent_species = np.array([s.specie.symbol for s in cell])[site_map.site_index]
        scores.append(int(np.count_nonzero(parent_species == species)))
    return int(np.argmax(scores))
