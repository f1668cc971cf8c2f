"""Mode-resolved electron–phonon coupling from frozen Γ-phonon distortions.

Each optical Γ mode ν of the 0 K harmonic phonons is frozen into the cell at its thermal
root-mean-square amplitude at temperature ``T`` (both signs), the band gap of every distorted
cell is computed with any gap model, and the relative change ``ΔE_g/E_g`` is reported against
the mode frequency (seed paper 000, Fig. 8; Benítez et al., JACS 147, 37506 (2025)).

Units and conventions
---------------------
The mass-weighted normal coordinate ``Q_ν`` of a Γ mode of the phonon (primitive) cell has
the harmonic (quantum) mean square

    ⟨Q_ν²⟩ = ħ / (2 ω_ν) · (1 + 2 n_BE(ω_ν, T)) = ħ / (2 ω_ν) · coth(ħ ω_ν / 2 k_B T),

in amu·Å²; the *amplitude* is ``A_ν = sqrt(⟨Q_ν²⟩)`` in Å·sqrt(amu).  With the real,
unit-norm eigenvector ``e_ν`` of the Γ dynamical matrix the displacement of atom ``j`` is

    u_j = ± sqrt(Z) A_ν e_ν(j) / sqrt(m_j)   (Å),

with ``Z`` the number of formula units in the phonon cell (``normalisation="formula_unit"``,
the default).  The eigenvector of a cell of ``Z`` formula units is normalised over all its
atoms, so without the ``sqrt(Z)`` the same physical Γ mode would move every atom ``sqrt(Z)``
less when the phonons come from a ``Z``-times larger cell, and ``ΔE_g`` would depend on the
cell; with it, the mode carries ``⟨Q²⟩`` per formula unit (harmonic energy ``k_B T / 2`` per
formula unit at high T), whatever the cell.  ``normalisation="cell"`` keeps the per-cell
amplitude (a Γ mode of a larger cell then moves atoms less), for comparison.  Summed over
the ``3 n`` modes of a cell, ``Σ_ν ΔE_g,ν / Z`` is the quadratic-order renormalisation that
this cell's Γ modes give.

``amplitude="quantum"`` (default, Eq. 1 of the seed paper) uses the Bose–Einstein
``⟨Q²⟩`` above; ``amplitude="classical"`` uses ``k_B T / ω²`` (what classical MD samples).

At high ``T`` this gives ``⟨Q²⟩ → k_B T / ω²`` (equipartition: harmonic energy ``k_B T / 2``
per mode); at ``T = 0`` the zero-point ``ħ / (2 ω)``.  A supercell receives the *same*
displacement on every periodic image (a Γ distortion is periodic in the primitive cell), so
the physics does not change with the cell the gap model is evaluated on.

The three acoustic modes (largest overlap with a rigid translation) are left out.  Modes
imaginary (or below ``frequency_cutoff_thz``) at 0 K have no harmonic amplitude: given the
renormalised frequencies at ``T`` (``frequencies_at_t_thz``, e.g. from NMD), every optical
mode enters with its finite-temperature frequency; without them such modes are left out.
Within a degenerate set the basis chosen by the eigensolver is arbitrary; each mode carries
the index of its degenerate set so results can be summed per set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from phonopy import Phonopy
from pymatgen.core import Structure

from thermogap.errors import CalculationError, InputError
from thermogap.phonons.harmonic import phonopy_atoms_to_structure
from thermogap.phonons.thermal import (
    AMU_KG,
    ANG2_PER_M2,
    DEFAULT_FREQUENCY_CUTOFF_THZ,
    KB_J_PER_K,
    mode_variances,
)

__all__ = [
    "GammaModes",
    "ModeDistortion",
    "ModeGapChanges",
    "gamma_mode_distortions",
    "count_formula_units",
    "frozen_phonon_gap_changes",
    "gamma_modes",
    "map_to_primitive",
    "mode_resolved_gap_changes",
    "thermal_mode_amplitude",
]

logger = logging.getLogger(__name__)

#: Frequencies closer than this (THz) belong to one degenerate set.
DEGENERACY_TOLERANCE_THZ = 1e-3

AmplitudeKind = Literal["quantum", "classical"]
Normalisation = Literal["formula_unit", "cell"]
_AMPLITUDES = ("quantum", "classical")
_NORMALISATIONS = ("formula_unit", "cell")


@dataclass(frozen=True)
class GammaModes:
    """Γ-point normal modes of a phonon (primitive) cell with real eigenvectors.

    Attributes
    ----------
    frequencies_thz : numpy.ndarray
        shape=(3 n_atoms,), THz, ascending, imaginary as negative.
    eigenvectors : numpy.ndarray
        shape=(3 n_atoms, 3 n_atoms), real, mass-weighted, unit-norm modes in *columns*
        (row ``3 j + α`` is atom ``j``, direction ``α``).
    masses_amu : numpy.ndarray
        shape=(n_atoms,), amu.
    acoustic : numpy.ndarray
        shape=(3 n_atoms,), bool; the three modes closest to rigid translations.
    degenerate_set : numpy.ndarray
        shape=(3 n_atoms,), int; modes with equal frequencies share a number.
    irreps : list of (str or None)
        Irreducible-representation label of each mode from phonopy (``None`` if not found).
    """

    frequencies_thz: np.ndarray
    eigenvectors: np.ndarray
    masses_amu: np.ndarray
    acoustic: np.ndarray
    degenerate_set: np.ndarray
    irreps: list[str | None]


@dataclass(frozen=True)
class ModeDistortion:
    """One Γ mode frozen into a cell at its thermal amplitude, with one sign.

    Attributes
    ----------
    mode_index : int
        Band index at Γ of the phonon cell (0 = lowest frequency).
    frequency_thz : float
        THz.
    temperature_k : float
        K.
    amplitude : float
        ``A = sqrt(⟨Q²⟩)`` of the mass-weighted normal coordinate, Å·sqrt(amu).
    sign : int
        +1 or -1.
    eigenvector : numpy.ndarray
        shape=(n_atoms_primitive, 3), real, mass-weighted, unit norm over all atoms.
    displacements_ang : numpy.ndarray
        shape=(n_atoms_cell, 3), Cartesian Å, applied to ``structure``'s ideal positions.
    structure : pymatgen.core.Structure
        The distorted cell (primitive cell or the supercell given).
    degenerate_set : int
        Modes of equal frequency share this number.
    irrep : str or None
        Irreducible representation (phonopy), if found.
    amplitude_kind : str
        ``"quantum"`` (Bose–Einstein, Eq. 1) or ``"classical"`` (``k_B T / ω²``).
    frequency_source : str
        ``"harmonic"`` (0 K) or ``"finite_temperature"`` (renormalised at T).
    formula_units : int
        ``Z``: the displacement is ``sqrt(Z)`` times the per-cell one (1 for ``"cell"``).
    """

    mode_index: int
    frequency_thz: float
    temperature_k: float
    amplitude: float
    sign: int
    eigenvector: np.ndarray
    displacements_ang: np.ndarray
    structure: Structure
    degenerate_set: int = 0
    irrep: str | None = None
    amplitude_kind: str = "quantum"
    frequency_source: str = "harmonic"
    formula_units: int = 1


@dataclass(frozen=True)
class ModeGapChanges:
    """Band-gap changes of frozen Γ distortions, one row per mode.

    Attributes
    ----------
    mode_index : numpy.ndarray
        shape=(n_modes,), int, band index at Γ.
    frequency_thz : numpy.ndarray
        shape=(n_modes,), THz.
    amplitude : numpy.ndarray
        shape=(n_modes,), Å·sqrt(amu).
    signs : tuple of int
        Signs of the distortions, order of the columns of ``gaps_ev``.
    gaps_ev : numpy.ndarray
        shape=(n_modes, n_signs), band gap of each distorted cell, eV.
    relative_gap_change : numpy.ndarray
        shape=(n_modes,), ``(mean over signs of the gap − E_g⁰) / E_g⁰`` (fraction, not %).
    degenerate_set : numpy.ndarray
        shape=(n_modes,), int.
    irreps : list of (str or None)
    reference_gap_ev : float
        ``E_g⁰`` of the undistorted cell, eV.
    temperature_k : float
    amplitude_kind : str
        ``"quantum"`` or ``"classical"``.
    frequency_source : numpy.ndarray
        shape=(n_modes,), str: ``"harmonic"`` or ``"finite_temperature"``.
    formula_units : int
        ``Z`` of the amplitude normalisation (1: per cell).
    """

    mode_index: np.ndarray
    frequency_thz: np.ndarray
    amplitude: np.ndarray
    signs: tuple[int, ...]
    gaps_ev: np.ndarray
    relative_gap_change: np.ndarray
    degenerate_set: np.ndarray
    irreps: list[str | None] = field(default_factory=list)
    reference_gap_ev: float = float("nan")
    temperature_k: float = float("nan")
    amplitude_kind: str = "quantum"
    frequency_source: list[str] = field(default_factory=list)
    formula_units: int = 1


def thermal_mode_amplitude(
    frequency_thz: float | np.ndarray, temperature_k: float, kind: str = "quantum"
) -> np.ndarray:
    """Root-mean-square mass-weighted normal coordinate of a harmonic mode.

    Parameters
    ----------
    frequency_thz : float or numpy.ndarray
        Positive frequencies (THz, not angular), any shape ``S``.
    temperature_k : float
        K, >= 0.
    kind : str
        ``"quantum"``: ``sqrt(ħ/(2ω) coth(ħω / 2 k_B T))`` (Eq. 1); ``"classical"``:
        ``sqrt(k_B T) / ω`` (equipartition, zero at 0 K).

    Returns
    -------
    numpy.ndarray
        shape=S, Å·sqrt(amu).
    """
    freqs = np.asarray(frequency_thz, dtype=float)
    if not np.all(np.isfinite(freqs)) or np.any(freqs <= 0):
        raise InputError(f"frequency_thz={frequency_thz!r} must be positive and finite")
    if not (np.isfinite(temperature_k) and temperature_k >= 0):
        raise InputError(f"{temperature_k=} K must be finite and >= 0")
    if kind not in _AMPLITUDES:
        raise InputError(f"amplitude kind {kind!r} is not known; allowed: {_AMPLITUDES}")
    if kind == "classical":
        omega = 2.0 * np.pi * 1e12 * freqs
        return np.sqrt(KB_J_PER_K * temperature_k / omega**2 / AMU_KG * ANG2_PER_M2)
    return np.sqrt(mode_variances(freqs, np.array([temperature_k]))[0])


def count_formula_units(structure: Structure, equivalent_species: Sequence[str] = ()) -> int:
    """Count the formula units ``Z`` in a cell, treating ``equivalent_species`` as one.

    A solid solution's cell (Ag24S8Br7I1) has one formula unit of its own composition; with
    the mixed species made equivalent (``("Br", "I")``) it has the 8 of its parent lattice,
    like the ordered end members, so their modes are normalised alike.

    Parameters
    ----------
    structure : pymatgen.core.Structure
    equivalent_species : sequence of str
        Element symbols counted as the first of them.
    """
    counts: dict[str, float] = {}
    merged = list(equivalent_species)
    for element, amount in structure.composition.get_el_amt_dict().items():
        key = merged[0] if element in merged else element
        counts[key] = counts.get(key, 0.0) + amount
    values = [round(v) for v in counts.values()]
    return int(np.gcd.reduce(np.array(values, dtype=int))) if values else 1


def gamma_modes(
    phonon: Phonopy, *, degeneracy_tolerance_thz: float = DEGENERACY_TOLERANCE_THZ
) -> GammaModes:
    """Γ-point frequencies and real eigenvectors of ``phonon.primitive``.

    The Γ dynamical matrix is real symmetric; diagonalising its real part gives real
    eigenvectors (phonopy's complex ones carry an arbitrary phase per mode).

    Parameters
    ----------
    phonon : phonopy.Phonopy
        With force constants.
    degeneracy_tolerance_thz : float
        Frequencies closer than this (THz) form one degenerate set.

    Returns
    -------
    GammaModes
    """
    if phonon.force_constants is None:
        raise InputError("the Phonopy object has no force constants; produce or set them first")
    matrices = phonon.run_qpoints([[0.0, 0.0, 0.0]], with_dynamical_matrices=True)
    if matrices.dynamical_matrices is None:
        raise CalculationError("phonopy returned no dynamical matrix at Γ")
    matrix = np.asarray(matrices.dynamical_matrices[0])
    eigenvalues, eigenvectors = np.linalg.eigh(0.5 * (matrix.real + matrix.real.T))
    frequencies = np.sign(eigenvalues) * np.sqrt(np.abs(eigenvalues))
    frequencies = frequencies * phonon.unit_conversion_factor
    masses = np.asarray(phonon.primitive.masses, dtype=float)
    translations = np.zeros((3 * len(masses), 3))
    for alpha in range(3):
        translations[alpha::3, alpha] = np.sqrt(masses)
    translations /= np.linalg.norm(translations, axis=0)
    overlap = np.sum((translations.T @ eigenvectors) ** 2, axis=0)
    acoustic = np.zeros(len(frequencies), dtype=bool)
    acoustic[np.argsort(-overlap, kind="stable")[:3]] = True
    gaps = np.diff(frequencies) > degeneracy_tolerance_thz
    degenerate_set = np.concatenate([[0], np.cumsum(gaps)]).astype(int)
    return GammaModes(
        frequencies_thz=frequencies,
        eigenvectors=eigenvectors,
        masses_amu=masses,
        acoustic=acoustic,
        degenerate_set=degenerate_set,
        irreps=_irrep_labels(phonon, len(frequencies), degeneracy_tolerance_thz),
    )


def _irrep_labels(phonon: Phonopy, n_bands: int, tolerance_thz: float) -> list[str | None]:
    labels: list[str | None] = [None] * n_bands
    try:
        irreps = phonon.run_irreps([0.0, 0.0, 0.0], degeneracy_tolerance=tolerance_thz)
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:  # symmetry search failed
        logger.info("no irreducible representations at Γ: %s", exc)
        return labels
    # phonopy exposes the labels only through its printout; the attribute is read defensively
    ir_labels = getattr(irreps, "_ir_labels", None)
    if not ir_labels:
        return labels
    for bands, label in zip(irreps.band_indices, ir_labels, strict=False):
        for band in bands:
            labels[band] = None if label is None else str(label)
    return labels


def map_to_primitive(
    primitive: Structure, supercell: Structure, *, tolerance_ang: float = 0.05
) -> np.ndarray:
    """Index of the primitive-cell atom that each supercell site is an image of.

    Parameters
    ----------
    primitive : pymatgen.core.Structure
        The phonon (primitive) cell.
    supercell : pymatgen.core.Structure
        A cell whose lattice vectors are integer combinations of the primitive's and whose
        sites sit on periodic images of the primitive sites (any order).
    tolerance_ang : float
        Largest allowed distance between a site and its image, Å.

    Returns
    -------
    numpy.ndarray
        shape=(n_supercell,), int.

    Raises
    ------
    InputError
        If the lattices are incommensurate, a site has no (or more than one) image within
        ``tolerance_ang``, or the species differ.
    """
    prim_lattice = primitive.lattice.matrix
    multiples = supercell.lattice.matrix @ np.linalg.inv(prim_lattice)
    if not np.allclose(multiples, np.rint(multiples), atol=1e-4):
        raise InputError(
            f"supercell lattice {supercell.lattice.abc} Å is not an integer multiple of the "
            f"phonon cell {primitive.lattice.abc} Å; matrix {np.round(multiples, 4).tolist()}"
        )
    frac = supercell.cart_coords @ np.linalg.inv(prim_lattice)
    diff = frac[:, None, :] - primitive.frac_coords[None, :, :]
    diff -= np.rint(diff)
    distance = np.linalg.norm(diff @ prim_lattice, axis=-1)  # (n_super, n_prim)
    matches = distance < tolerance_ang
    bad = np.flatnonzero(matches.sum(axis=1) != 1)
    if len(bad):
        raise InputError(
            f"supercell sites {bad[:10].tolist()} are not on one image of a phonon-cell site "
            f"within {tolerance_ang=} Å (nearest: {np.round(distance[bad[:10]].min(1), 3)})"
        )
    index = np.argmax(matches, axis=1)
    prim_species = [site.specie.symbol for site in primitive]
    wrong = [i for i, site in enumerate(supercell) if site.specie.symbol != prim_species[index[i]]]
    if wrong:
        raise InputError(
            f"supercell sites {wrong[:10]} have species different from their phonon-cell images"
        )
    return index


def gamma_mode_distortions(
    phonon: Phonopy,
    supercell: Structure | None,
    temperature_k: float,
    *,
    sign: Sequence[int] = (+1, -1),
    frequency_cutoff_thz: float = DEFAULT_FREQUENCY_CUTOFF_THZ,
    amplitude: str = "quantum",
    normalisation: str = "formula_unit",
    formula_units: int | None = None,
    equivalent_species: Sequence[str] = (),
    frequencies_at_t_thz: np.ndarray | None = None,
) -> list[ModeDistortion]:
    """Cells distorted along each optical Γ mode at its thermal amplitude at ``temperature_k``.

    Parameters
    ----------
    phonon : phonopy.Phonopy
        0 K harmonic phonons with force constants; the Γ modes are those of
        ``phonon.primitive``.
    supercell : pymatgen.core.Structure or None
        Cell to distort (e.g. one large enough for the gap model); ``None`` distorts the
        phonon's primitive cell.  Every periodic image gets the same displacement.
    temperature_k : float
        K, >= 0 (0 K: zero-point amplitudes).
    sign : sequence of int
        Signs of the distortion, each +1 or -1; averaging the ± gaps removes the linear term.
    frequency_cutoff_thz : float
        Modes at or below this frequency (THz) are left out, as are the three acoustic
        modes; with ``frequencies_at_t_thz`` the cutoff applies to those frequencies.
    amplitude : str
        ``"quantum"`` (default, Eq. 1) or ``"classical"`` (``⟨Q²⟩ = k_B T / ω²``).
    normalisation : str
        ``"formula_unit"`` (default): displacements ``sqrt(Z)`` times the per-cell ones, so a
        mode's ``ΔE_g`` does not depend on the cell the phonons came from; ``"cell"``: the
        per-cell amplitude.
    formula_units : int, optional
        ``Z``; default :func:`count_formula_units` of the phonon cell.
    equivalent_species : sequence of str
        Species counted as one when ``Z`` is counted (the mixed species of a solid solution).
    frequencies_at_t_thz : numpy.ndarray, optional
        shape=(3 n_atoms,), renormalised Γ frequencies at ``temperature_k`` (THz) in the order
        of :func:`gamma_modes` (ascending 0 K frequency); their amplitudes replace the
        harmonic ones, so modes imaginary at 0 K enter with their finite-T frequency.

    Returns
    -------
    list of ModeDistortion
        Modes in ascending (0 K) frequency, the signs of one mode consecutive.

    Examples
    --------
    L1_2 Cu3Au with the EMT potential and a toy gap model that closes with the squared
    displacement: the softer a mode, the larger its thermal amplitude and its gap change.

    >>> from ase.calculators.emt import EMT
    >>> from pymatgen.core import Lattice, Structure
    >>> from thermogap.phonons.harmonic import compute_force_constants
    >>> cu3au = Structure(Lattice.cubic(3.75), ["Au", "Cu", "Cu", "Cu"],
    ...                   [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    >>> phonon = compute_force_constants(cu3au, EMT(), supercell_matrix=(2, 2, 2))
    >>> distortions = gamma_mode_distortions(phonon, None, 300.0)
    >>> len(distortions)  # 9 optical Γ modes, each with both signs
    18
    >>> def gaps_of(cells):  # eV
    ...     shifts = [c.frac_coords - cu3au.frac_coords for c in cells]
    ...     return np.array([1.2 - 2.0 * np.sum(((d - np.round(d)) @ cu3au.lattice.matrix) ** 2)
    ...                      for d in shifts])
    >>> changes = mode_resolved_gap_changes(distortions, gaps_of, 1.2)
    >>> changes.degenerate_set.tolist(), changes.irreps[:3]
    ([1, 1, 1, 2, 2, 2, 3, 3, 3], ['T1u', 'T1u', 'T1u'])
    >>> bool(np.all(changes.relative_gap_change < 0))
    True
    >>> bool(np.all(np.diff(changes.relative_gap_change) >= -1e-12))
    True
    """
    signs = _check_signs(sign)
    if not (np.isfinite(temperature_k) and temperature_k >= 0):
        raise InputError(f"{temperature_k=} K must be finite and >= 0")
    if not frequency_cutoff_thz >= 0:
        raise InputError(f"{frequency_cutoff_thz=} THz must be non-negative")
    if amplitude not in _AMPLITUDES:
        raise InputError(f"{amplitude=} is not known; allowed: {_AMPLITUDES}")
    if normalisation not in _NORMALISATIONS:
        raise InputError(f"{normalisation=} is not known; allowed: {_NORMALISATIONS}")
    modes = gamma_modes(phonon)
    primitive = phonopy_atoms_to_structure(phonon.primitive)
    z = _formula_units(primitive, normalisation, formula_units, equivalent_species)
    frequencies, source = _mode_frequencies(modes, frequencies_at_t_thz)
    cell = primitive if supercell is None else supercell
    site_index = (
        np.arange(len(primitive)) if supercell is None else map_to_primitive(primitive, supercell)
    )
    keep = ~modes.acoustic & (frequencies > frequency_cutoff_thz)
    n_left_out = int(np.count_nonzero(~modes.acoustic & ~keep))
    if n_left_out:
        logger.warning(
            "%d optical Γ modes at or below %g THz (imaginary at 0 K without finite-T "
            "frequencies) have no harmonic amplitude and are left out",
            n_left_out,
            frequency_cutoff_thz,
        )
    distortions = []
    for band in np.flatnonzero(keep):
        frequency = float(frequencies[band])
        rms = float(thermal_mode_amplitude(frequency, temperature_k, amplitude))
        vector = modes.eigenvectors[:, band].reshape(-1, 3)
        per_atom = np.sqrt(z) * rms * vector / np.sqrt(modes.masses_amu)[:, None]
        for s in signs:
            displacements = s * per_atom[site_index]
            distorted = Structure(
                cell.lattice,
                cell.species,
                cell.cart_coords + displacements,
                coords_are_cartesian=True,
            )
            distortions.append(
                ModeDistortion(
                    mode_index=int(band),
                    frequency_thz=frequency,
                    temperature_k=float(temperature_k),
                    amplitude=rms,
                    sign=s,
                    eigenvector=vector.copy(),
                    displacements_ang=displacements,
                    structure=distorted,
                    degenerate_set=int(modes.degenerate_set[band]),
                    irrep=modes.irreps[band],
                    amplitude_kind=amplitude,
                    frequency_source=source,
                    formula_units=z,
                )
            )
    return distortions


def _formula_units(
    primitive: Structure,
    normalisation: str,
    formula_units: int | None,
    equivalent_species: Sequence[str],
) -> int:
    if normalisation == "cell":
        return 1
    if formula_units is None:
        return count_formula_units(primitive, equivalent_species)
    if int(formula_units) != formula_units or formula_units < 1:
        raise InputError(f"{formula_units=} must be a positive integer")
    return int(formula_units)


def _mode_frequencies(
    modes: GammaModes, frequencies_at_t_thz: np.ndarray | None
) -> tuple[np.ndarray, str]:
    if frequencies_at_t_thz is None:
        return modes.frequencies_thz, "harmonic"
    at_t = np.asarray(frequencies_at_t_thz, dtype=float)
    if at_t.shape != modes.frequencies_thz.shape or not np.all(np.isfinite(at_t)):
        raise InputError(
            f"frequencies_at_t_thz has shape {at_t.shape}; expected finite values of shape "
            f"{modes.frequencies_thz.shape} (one per Γ mode, ascending 0 K order)"
        )
    return at_t, "finite_temperature"


def mode_resolved_gap_changes(
    distortions: Sequence[ModeDistortion],
    gap_fn: Callable[[list[Structure]], np.ndarray],
    reference_gap_ev: float,
) -> ModeGapChanges:
    """Relative band-gap change of every frozen mode, averaged over its signs.

    Parameters
    ----------
    distortions : sequence of ModeDistortion
        From :func:`gamma_mode_distortions` (every mode with the same signs).
    gap_fn : callable
        ``gap_fn(structures) -> gaps``: band gaps in eV, ``shape=(len(structures),)``;
        called once with all distorted cells (a GNN predicts them in one batch).
    reference_gap_ev : float
        Band gap of the undistorted cell with the same gap model, eV (non-zero).

    Returns
    -------
    ModeGapChanges
        ``relative_gap_change = (mean_± E_g − reference) / reference`` per mode.

    Raises
    ------
    InputError
        On an empty list, a zero or non-finite reference gap, or modes with different signs.
    CalculationError
        If ``gap_fn`` returns the wrong number of gaps or non-finite values.
    """
    if not distortions:
        raise InputError("no distortions given (did every mode fall below the cutoff?)")
    if not (np.isfinite(reference_gap_ev) and reference_gap_ev != 0):
        raise InputError(f"{reference_gap_ev=} eV must be finite and non-zero")
    order: dict[int, list[int]] = {}
    for k, d in enumerate(distortions):
        order.setdefault(d.mode_index, []).append(k)
    signs = tuple(distortions[k].sign for k in next(iter(order.values())))
    for mode, members in order.items():
        if tuple(distortions[k].sign for k in members) != signs:
            raise InputError(
                f"mode {mode} has signs {[distortions[k].sign for k in members]}; every mode "
                f"must have the same signs as the first, {list(signs)}"
            )
    gaps = np.asarray(gap_fn([d.structure for d in distortions]), dtype=float).reshape(-1)
    if gaps.shape != (len(distortions),):
        raise CalculationError(
            f"gap_fn returned {gaps.shape[0]} gaps for {len(distortions)} distorted cells"
        )
    if not np.all(np.isfinite(gaps)):
        raise CalculationError(f"gap_fn returned non-finite gaps: {gaps[~np.isfinite(gaps)]}")
    rows = [members for members in order.values()]
    first = [distortions[m[0]] for m in rows]
    table = np.array([[gaps[k] for k in members] for members in rows])
    return ModeGapChanges(
        mode_index=np.array([d.mode_index for d in first], dtype=int),
        frequency_thz=np.array([d.frequency_thz for d in first]),
        amplitude=np.array([d.amplitude for d in first]),
        signs=signs,
        gaps_ev=table,
        relative_gap_change=(table.mean(axis=1) - reference_gap_ev) / reference_gap_ev,
        degenerate_set=np.array([d.degenerate_set for d in first], dtype=int),
        irreps=[d.irrep for d in first],
        reference_gap_ev=float(reference_gap_ev),
        temperature_k=first[0].temperature_k,
        amplitude_kind=first[0].amplitude_kind,
        frequency_source=[d.frequency_source for d in first],
        formula_units=first[0].formula_units,
    )


def frozen_phonon_gap_changes(
    phonon: Phonopy,
    supercell: Structure | None,
    temperature_k: float,
    gap_fn: Callable[[list[Structure]], np.ndarray],
    *,
    sign: Sequence[int] = (+1, -1),
    frequency_cutoff_thz: float = DEFAULT_FREQUENCY_CUTOFF_THZ,
    amplitude: str = "quantum",
    normalisation: str = "formula_unit",
    formula_units: int | None = None,
    equivalent_species: Sequence[str] = (),
    frequencies_at_t_thz: np.ndarray | None = None,
) -> ModeGapChanges:
    """Gap of the undistorted cell and of every frozen optical Γ mode at ``temperature_k``.

    :func:`gamma_mode_distortions` followed by :func:`mode_resolved_gap_changes`, with the
    reference gap from the same ``gap_fn`` on the undistorted cell (``supercell`` or the
    phonon's primitive cell).

    Parameters
    ----------
    phonon, supercell, temperature_k, sign, frequency_cutoff_thz
        As for :func:`gamma_mode_distortions`.
    gap_fn : callable
        ``gap_fn(structures) -> gaps`` in eV, ``shape=(len(structures),)``.
    amplitude, normalisation, formula_units, equivalent_species, frequencies_at_t_thz
        As for :func:`gamma_mode_distortions`.

    Returns
    -------
    ModeGapChanges
    """
    distortions = gamma_mode_distortions(
        phonon,
        supercell,
        temperature_k,
        sign=sign,
        frequency_cutoff_thz=frequency_cutoff_thz,
        amplitude=amplitude,
        normalisation=normalisation,
        formula_units=formula_units,
        equivalent_species=equivalent_species,
        frequencies_at_t_thz=frequencies_at_t_thz,
    )
    cell = phonopy_atoms_to_structure(phonon.primitive) if supercell is None else supercell
    reference = np.asarray(gap_fn([cell]), dtype=float).reshape(-1)
    if reference.shape != (1,) or not np.isfinite(reference[0]):
        raise CalculationError(f"gap_fn gave {reference!r} for the undistorted cell")
    return mode_resolved_gap_changes(distortions, gap_fn, float(reference[0]))


def _check_signs(sign: Sequence[int]) -> tuple[int, ...]:
    signs = tuple(int(s) for s in sign)
    if not signs or any(s not in (1, -1) for s in signs) or len(set(signs)) != len(signs):
        raise InputError(f"sign={tuple(sign)!r} must be distinct values from (+1, -1)")
    return signs
