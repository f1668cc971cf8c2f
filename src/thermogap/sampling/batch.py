"""One batch of displaced configurations: a supercell, a scheme, a temperature, a seed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from phonopy import Phonopy
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.phonons.harmonic import SupercellMatrix, phonopy_atoms_to_structure
from thermogap.sampling.amplitudes import (
    DEFAULT_FREQUENCY_CUTOFF_THZ,
    DEFAULT_FREQUENCY_FLOOR_THZ,
    SOFT_MODE_TREATMENTS,
    SoftModeAnalysis,
    soft_mode_analysis,
    thermal_amplitude_analysis,
    thermal_mode_basis,
)

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

from thermogap.sampling.displacements import (
    gaussian_displacements,
    map_to_parent_sites,
    mixed_site_amplitudes,
    phonon_displacements,
    random_displacements,
)

__all__ = [
    "DEFAULT_SOFT_MODE_THRESHOLD",
    "SCHEMES",
    "DisplacementBatch",
    "dense_mesh",
    "resolve_soft_mode_treatment",
    "sample_displacements",
]

SCHEMES = ("phonon", "gaussian", "random", "equilibrium")

#: Above this fraction of imaginary / soft modes a treatment must be chosen explicitly.
DEFAULT_SOFT_MODE_THRESHOLD = 0.10


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
    soft_modes : list of SoftModeAnalysis
        Imaginary / soft modes of each parent on the batch's mesh.
    soft_mode_treatment : str or None
        Treatment used (``"exclude"``, ``"absolute"``, ``"floor"`` or ``"md"``).
    amplitude_mesh_change : float or None
        Phonon scheme: largest relative change of ζ from ``mesh`` to :func:`dense_mesh`.
    dense_mesh : tuple of int or None
        The denser mesh of that check.
    """

    displacements_ang: np.ndarray
    amplitudes_ang: np.ndarray | None = None
    n_imaginary_excluded: int = 0
    n_near_zero_excluded: int = 0
    parent_index: int | None = None
    soft_modes: list[SoftModeAnalysis] = field(default_factory=list)
    soft_mode_treatment: str | None = None
    amplitude_mesh_change: float | None = None
    dense_mesh: tuple[int, int, int] | None = None


def dense_mesh(mesh: Sequence[int]) -> tuple[int, int, int]:
    """Return the denser mesh of the q-mesh check: every dimension +50 % (at least +2)."""
    values = [max(int(m) + 2, int(np.ceil(1.5 * int(m)))) for m in mesh]
    return values[0], values[1], values[2]


def resolve_soft_mode_treatment(
    treatment: str | None, soft_modes: Sequence[SoftModeAnalysis], threshold: float
) -> str:
    """Return the treatment to use; refuse to ignore too many soft modes silently.

    Raises
    ------
    InputError
        When no treatment was chosen and a parent has more than ``threshold`` of its modes
        imaginary or below the cutoff; the message names the options.
    """
    if treatment is not None:
        if treatment not in SOFT_MODE_TREATMENTS:
            raise InputError(
                f"soft_mode_treatment={treatment!r} is unknown; allowed: "
                f"{', '.join(SOFT_MODE_TREATMENTS)}"
            )
        return treatment
    worst = max(soft_modes, key=lambda s: s.fraction_of_modes, default=None)
    if worst is not None and worst.fraction_of_modes > threshold:
        raise InputError(
            f"{worst.fraction_of_modes:.0%} of the parent's modes on the {worst.mesh} mesh are "
            f"imaginary or below {worst.frequency_cutoff_thz} THz ({worst.n_imaginary} "
            f"imaginary, {worst.variance_fraction:.0%} of the displacement variance), above "
            f"the threshold {threshold:.0%}; choose soft_mode_treatment: 'absolute' (|ω|, "
            "phonopy's choice), 'floor' (frequencies raised to frequency_floor_thz), 'md' "
            "(configurations from short MD with the parent's engine) or 'exclude' (leave them "
            "out)"
        )
    return "exclude"


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
    soft_mode_treatment: str | None = None,
    frequency_floor_thz: float = DEFAULT_FREQUENCY_FLOOR_THZ,
    soft_mode_threshold: float = DEFAULT_SOFT_MODE_THRESHOLD,
    calculator: Calculator | None = None,
    md_settings: dict[str, Any] | None = None,
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
    supercell_matrix : three ints or 3x3 ints, optional
        Supercell of ``supercell`` in units of the parents' unit cell (inferred if omitted).
    soft_mode_treatment : str or None
        ``"exclude"``, ``"absolute"``, ``"floor"`` or ``"md"``
        (:data:`thermogap.sampling.amplitudes.SOFT_MODE_TREATMENTS`).  None: ``"exclude"``
        while at most ``soft_mode_threshold`` of a parent's modes are soft, else an error.
    frequency_floor_thz : float
        Floor of the ``"floor"`` treatment, THz.
    soft_mode_threshold : float
        Fraction of soft modes above which a treatment must be chosen (default 10 %).
    calculator : ase.calculators.calculator.Calculator, optional
        Engine of the parent phonons, needed by the ``"md"`` treatment.
    md_settings : dict, optional
        Keyword arguments of :func:`thermogap.sampling.molecular_dynamics.md_displacements`.
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
    soft = [
        soft_mode_analysis(p, temperature_k, mesh=mesh, frequency_cutoff_thz=frequency_cutoff_thz)
        for p in parents
    ]
    treatment = resolve_soft_mode_treatment(soft_mode_treatment, soft, soft_mode_threshold)
    if treatment == "md":
        from thermogap.sampling.molecular_dynamics import md_displacements

        if calculator is None:
            raise InputError("the 'md' soft-mode treatment needs the parent's engine (calculator)")
        displacements = md_displacements(
            supercell, calculator, temperature_k, n_configurations, rng, **(md_settings or {})
        )
        return DisplacementBatch(displacements, soft_modes=soft, soft_mode_treatment=treatment)
    treat: dict[str, Any] = {
        "frequency_cutoff_thz": frequency_cutoff_thz,
        "soft_mode_treatment": treatment,
        "frequency_floor_thz": frequency_floor_thz,
    }
    cells = [phonopy_atoms_to_structure(p.primitive) for p in parents]
    if scheme == "phonon":
        analyses = [
            thermal_amplitude_analysis(p, [temperature_k], mesh=mesh, **treat) for p in parents
        ]
        dense = dense_mesh(mesh)
        denser = [
            thermal_amplitude_analysis(p, [temperature_k], mesh=dense, **treat) for p in parents
        ]
        zeta = mixed_site_amplitudes(
            supercell,
            [(c, a.amplitudes_ang[0]) for c, a in zip(cells, analyses, strict=True)],
            supercell_matrix=supercell_matrix,
        )
        change = max(
            float(
                np.max(
                    np.abs(b.amplitudes_ang - a.amplitudes_ang)
                    / np.maximum(b.amplitudes_ang, 1e-12)
                )
            )
            for a, b in zip(analyses, denser, strict=True)
        )
        return DisplacementBatch(
            phonon_displacements(zeta, n_configurations, rng),
            amplitudes_ang=zeta,
            n_imaginary_excluded=sum(a.n_imaginary_excluded for a in analyses),
            n_near_zero_excluded=sum(a.n_near_zero_excluded for a in analyses),
            soft_modes=soft,
            soft_mode_treatment=treatment,
            amplitude_mesh_change=change,
            dense_mesh=dense,
        )
    index = _best_matching_parent(supercell, cells, supercell_matrix)
    site_map = map_to_parent_sites(supercell, cells[index], supercell_matrix=supercell_matrix)
    basis, n_imag, n_zero = thermal_mode_basis(
        parents[index],
        temperature_k,
        site_map.supercell_matrix,
        site_map.site_index,
        site_map.frac_positions,
        **treat,
    )
    # The basis is built in the parent's Cartesian frame; a uniformly scaled (Vegard)
    # supercell has the same orientation, so displacements carry over unchanged.
    return DisplacementBatch(
        gaussian_displacements(basis, n_configurations, rng),
        n_imaginary_excluded=n_imag,
        n_near_zero_excluded=n_zero,
        parent_index=index,
        soft_modes=soft,
        soft_mode_treatment=treatment,
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
