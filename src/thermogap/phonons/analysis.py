"""Analysis of harmonic phonons: band structure, DOS, imaginary modes and stability.

Frequencies follow phonopy's convention: THz, and an imaginary frequency ``i|f|`` is
reported as the negative number ``-|f|``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from phonopy import Phonopy
from pymatgen.symmetry.bandstructure import HighSymmKpath

from thermogap.errors import InputError
from thermogap.phonons.harmonic import modes_at_qpoints, phonopy_atoms_to_structure

__all__ = [
    "DEFAULT_STABILITY_TOLERANCE_THZ",
    "BandStructure",
    "DensityOfStates",
    "ImaginaryMode",
    "PhononAnalysis",
    "analyse_phonons",
    "band_structure",
    "density_of_states",
    "find_imaginary_modes",
    "is_dynamically_stable",
    "standard_band_path",
]

#: A mode counts as imaginary when its frequency is below ``-tolerance`` (THz).  0.05 THz
#: (1.7 cm^-1) sits above the numerical noise of finite-displacement acoustic modes near Γ
#: and well below the soft modes of the antiperovskites (~1 THz).
DEFAULT_STABILITY_TOLERANCE_THZ = 0.05


@dataclass
class BandStructure:
    """Phonon frequencies along a path of straight segments in reciprocal space.

    Attributes
    ----------
    qpoints : numpy.ndarray
        shape=(n_points, 3), fractional coordinates of the unit cell's reciprocal lattice.
    distances : numpy.ndarray
        shape=(n_points,), cumulative path length in 1/Å (phonopy's convention, no 2π).
    frequencies_thz : numpy.ndarray
        shape=(n_points, n_bands), THz; imaginary as negative.
    labels : list of str
        Label of the start of every segment, plus the end label of each connected branch
        (phonopy's ``labels`` convention for ``run_band_structure``).
    segment_ends : list of tuple of int
        (first, last) point index of each segment in ``qpoints``.
    """

    qpoints: np.ndarray
    distances: np.ndarray
    frequencies_thz: np.ndarray
    labels: list[str]
    segment_ends: list[tuple[int, int]]


@dataclass
class DensityOfStates:
    """Total phonon density of states.

    Attributes
    ----------
    frequencies_thz : numpy.ndarray
        shape=(n_points,), THz.
    dos : numpy.ndarray
        shape=(n_points,), states/THz per unit cell (integrates to 3 n_atoms).
    mesh : tuple of int
    qpoints : numpy.ndarray
        Irreducible q-points of the mesh, shape=(n_irreducible, 3), fractional.
    mesh_frequencies_thz : numpy.ndarray
        Frequencies at those points, shape=(n_irreducible, n_bands), THz.
    """

    frequencies_thz: np.ndarray
    dos: np.ndarray
    mesh: tuple[int, int, int]
    qpoints: np.ndarray = field(repr=False)
    mesh_frequencies_thz: np.ndarray = field(repr=False)


@dataclass
class ImaginaryMode:
    """One imaginary phonon mode.

    Attributes
    ----------
    frequency_thz : float
        Negative: the mode's frequency is ``i * |frequency_thz|`` THz.
    qpoint : list of float
        shape=(3,), fractional reciprocal coordinates.
    band_index : int
    eigenvector : numpy.ndarray
        shape=(n_atoms, 3), complex, mass-weighted (phonopy's convention, unit norm).
    """

    frequency_thz: float
    qpoint: list[float]
    band_index: int
    eigenvector: np.ndarray = field(repr=False)


def standard_band_path(
    phonon: Phonopy, path_type: str = "setyawan_curtarolo"
) -> tuple[list[list[np.ndarray]], list[list[str]]]:
    """High-symmetry path of the phonon's unit cell (pymatgen ``HighSymmKpath``).

    The path is computed for pymatgen's standard primitive cell and converted to fractional
    coordinates of the reciprocal lattice of ``phonon.primitive``, so it is right even when the
    unit cell is not in the standard setting.

    Returns
    -------
    branches : list of list of numpy.ndarray
        Connected branches, each a list of q-points (shape=(3,)) in fractional coordinates.
    labels : list of list of str
        The labels of those q-points ("Γ" for the zone centre).
    """
    allowed = ("setyawan_curtarolo", "hinuma", "latimer_munro")
    if path_type not in allowed:
        raise InputError(f"{path_type=} is not a known path convention; allowed: {allowed}")
    structure = phonopy_atoms_to_structure(phonon.primitive)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns when the cell is not standard
        kpath = HighSymmKpath(structure, path_type=path_type)
    prim_reciprocal = kpath.prim.lattice.reciprocal_lattice
    own_reciprocal = structure.lattice.reciprocal_lattice
    branches: list[list[np.ndarray]] = []
    labels: list[list[str]] = []
    for branch in kpath.kpath["path"]:
        points = []
        for label in branch:
            cart = prim_reciprocal.get_cartesian_coords(kpath.kpath["kpoints"][label])
            points.append(own_reciprocal.get_fractional_coords(cart))
        branches.append(points)
        labels.append([lab.replace("\\Gamma", "Γ").replace("\\Sigma", "Σ") for lab in branch])
    return branches, labels


def band_structure(
    phonon: Phonopy, *, npoints: int = 31, path_type: str = "setyawan_curtarolo"
) -> BandStructure:
    """Phonon band structure on the standard high-symmetry path.

    Parameters
    ----------
    phonon : phonopy.Phonopy
        With force constants.
    npoints : int
        Points per straight segment, both ends included.
    path_type : str
        Path convention passed to pymatgen ``HighSymmKpath``.
    """
    if npoints < 2:
        raise InputError(f"{npoints=} must be at least 2 points per segment")
    branches, branch_labels = standard_band_path(phonon, path_type)
    segments: list[np.ndarray] = []
    labels: list[str] = []
    connections: list[bool] = []
    for points, names in zip(branches, branch_labels, strict=True):
        for k in range(len(points) - 1):
            segments.append(np.linspace(points[k], points[k + 1], npoints))
            connections.append(k < len(points) - 2)
            labels.append(names[k])
            if k == len(points) - 2:
                labels.append(names[k + 1])
    with contextlib.redirect_stdout(io.StringIO()):
        result = phonon.run_band_structure(segments, path_connections=connections, labels=labels)
    ends = []
    start = 0
    for seg in result.qpoints:
        ends.append((start, start + len(seg) - 1))
        start += len(seg)
    return BandStructure(
        qpoints=np.concatenate(result.qpoints),
        distances=np.concatenate(result.distances),
        frequencies_thz=np.concatenate(result.frequencies),
        labels=labels,
        segment_ends=ends,
    )


def density_of_states(
    phonon: Phonopy, *, mesh: Sequence[int] = (12, 12, 12), freq_pitch_thz: float = 0.05
) -> DensityOfStates:
    """Total phonon DOS by the tetrahedron method on a Γ-centred mesh.

    Parameters
    ----------
    mesh : three ints
        q-point mesh of the unit cell's Brillouin zone.
    freq_pitch_thz : float
        Spacing of the frequency grid in THz.
    """
    mesh_t = _mesh(mesh)
    grid = phonon.run_mesh(mesh_t, is_gamma_center=True)
    dos = phonon.run_total_dos(freq_pitch=freq_pitch_thz)
    return DensityOfStates(
        frequencies_thz=np.asarray(dos.frequency_points),
        dos=np.asarray(dos.dos),
        mesh=mesh_t,
        qpoints=np.asarray(grid.qpoints),
        mesh_frequencies_thz=np.asarray(grid.frequencies),
    )


def find_imaginary_modes(
    phonon: Phonopy,
    qpoints: np.ndarray,
    *,
    tolerance_thz: float = DEFAULT_STABILITY_TOLERANCE_THZ,
    max_modes: int | None = 20,
) -> list[ImaginaryMode]:
    """Imaginary modes (frequency < ``-tolerance_thz``) at the given q-points.

    Parameters
    ----------
    qpoints : numpy.ndarray
        shape=(n_q, 3), fractional reciprocal coordinates (e.g. a band path plus a mesh).
    tolerance_thz : float
        Modes with ``-tolerance_thz <= f`` are not counted as imaginary.
    max_modes : int or None
        Keep only the most unstable modes (most negative frequencies), after removing
        duplicates of the same (q, frequency); ``None`` keeps all.

    Returns
    -------
    list of ImaginaryMode
        Sorted from the most negative frequency.
    """
    if tolerance_thz < 0:
        raise InputError(f"{tolerance_thz=} THz must be non-negative")
    qpoints = np.atleast_2d(np.asarray(qpoints, dtype=float))
    freqs, vecs = modes_at_qpoints(phonon, qpoints)
    assert vecs is not None  # asked for with_eigenvectors
    iq, band = np.nonzero(freqs < -tolerance_thz)
    order = np.argsort(freqs[iq, band], kind="stable")
    modes: list[ImaginaryMode] = []
    seen: set[tuple[float, ...]] = set()
    n_atoms = len(phonon.primitive)
    for k in order:
        q, b = int(iq[k]), int(band[k])
        key = (*np.round(qpoints[q], 6), round(float(freqs[q, b]), 6))
        if key in seen:
            continue
        seen.add(key)
        modes.append(
            ImaginaryMode(
                frequency_thz=float(freqs[q, b]),
                qpoint=[float(c) for c in qpoints[q]],
                band_index=b,
                eigenvector=vecs[q][:, b].reshape(n_atoms, 3),
            )
        )
        if max_modes is not None and len(modes) >= max_modes:
            break
    return modes


def is_dynamically_stable(
    frequencies_thz: np.ndarray, tolerance_thz: float = DEFAULT_STABILITY_TOLERANCE_THZ
) -> bool:
    """Return True when no frequency lies below ``-tolerance_thz`` (THz)."""
    return bool(np.min(frequencies_thz) >= -tolerance_thz)


def _mesh(mesh: Sequence[int]) -> tuple[int, int, int]:
    values = tuple(int(m) for m in mesh)
    if len(values) != 3 or min(values) < 1 or any(float(m) != int(m) for m in mesh):
        raise InputError(f"mesh={tuple(mesh)!r} must be three positive integers")
    return values[0], values[1], values[2]


@dataclass
class PhononAnalysis:
    """Band structure, DOS, imaginary modes and the stability verdict of one phonon calculation.

    Attributes
    ----------
    band_structure : BandStructure
    dos : DensityOfStates
    imaginary_modes : list of ImaginaryMode
        On the band path and the DOS mesh, most unstable first.
    n_imaginary_qpoints : int
        Number of q-points (path + mesh) with at least one imaginary mode.
    min_frequency_thz : float
        Lowest frequency found on the path and mesh (negative: imaginary).
    dynamically_stable : bool
        No frequency below ``-stability_tolerance_thz`` on the path or the mesh.
    stability_tolerance_thz : float
    """

    band_structure: BandStructure
    dos: DensityOfStates
    imaginary_modes: list[ImaginaryMode]
    n_imaginary_qpoints: int
    min_frequency_thz: float
    dynamically_stable: bool
    stability_tolerance_thz: float


def analyse_phonons(
    phonon: Phonopy,
    *,
    band_npoints: int = 31,
    dos_mesh: Sequence[int] = (12, 12, 12),
    stability_tolerance_thz: float = DEFAULT_STABILITY_TOLERANCE_THZ,
    max_imaginary_modes: int | None = 20,
    path_type: str = "setyawan_curtarolo",
) -> PhononAnalysis:
    """Band structure on the standard path, DOS and imaginary modes of a phonopy calculation.

    The stability verdict looks at every q-point of the band path and of the DOS mesh: the
    structure is dynamically stable when no frequency is below ``-stability_tolerance_thz``.
    """
    bands = band_structure(phonon, npoints=band_npoints, path_type=path_type)
    dos = density_of_states(phonon, mesh=dos_mesh)
    all_q = np.concatenate([bands.qpoints, dos.qpoints])
    all_f = np.concatenate([bands.frequencies_thz, dos.mesh_frequencies_thz])
    unstable_q = np.nonzero(all_f.min(axis=1) < -stability_tolerance_thz)[0]
    modes = (
        find_imaginary_modes(
            phonon,
            all_q[unstable_q] if len(unstable_q) else np.zeros((0, 3)),
            tolerance_thz=stability_tolerance_thz,
            max_modes=max_imaginary_modes,
        )
        if len(unstable_q)
        else []
    )
    return PhononAnalysis(
        band_structure=bands,
        dos=dos,
        imaginary_modes=modes,
        n_imaginary_qpoints=len(unstable_q),
        min_frequency_thz=float(all_f.min()),
        dynamically_stable=is_dynamically_stable(all_f, stability_tolerance_thz),
        stability_tolerance_thz=float(stability_tolerance_thz),
    )
