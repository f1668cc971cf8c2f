"""Temperature-dependent (anharmonically renormalised) phonons by one-shot SSCHA.

The self-consistent harmonic approximation replaces the potential ``V`` by the harmonic
model whose force constants are the thermal average of the Hessian (Eq. 1 of seed 003),

    Φ(T) = ⟨∂²V/∂u∂u⟩_T ,

where the average runs over the Gaussian distribution of displacements of the harmonic
oscillators (quantum covariance, Eq. 2). The one-shot variant of the paper takes that
distribution from the harmonic force constants at 0 K instead of iterating Eq. 1 and Eq. 2 to
self-consistency. Here:

* phonopy draws the displacements (``generate_displacements(number_of_snapshots=...,
  temperature=...)``, Bose-Einstein occupations, imaginary modes with ``|ω|``);
* any ASE calculator gives the forces;
* the force constants follow from one of two estimators of ``⟨∂²V⟩``:

  ``"force_fit"`` (default)
      a least-squares fit of harmonic, space-group-symmetrised force constants to the
      (displacement, force) pairs with symfc. For Gaussian ``u`` with covariance ``Σ``,
      Stein's lemma gives ``⟨F uᵀ⟩ = -⟨∂²V⟩ Σ``, so the regression coefficient
      ``-⟨F uᵀ⟩⟨u uᵀ⟩⁻¹`` is exactly ``⟨∂²V⟩``: both estimators target the same quantity;
      the fit needs one force call per supercell instead of ``6 N``.
  ``"hessian_average"``
      the paper's literal recipe: the instantaneous Hessian of every sampled supercell by
      central finite differences (``6 N`` force calls each), averaged and symmetrised with
      the space group and the acoustic sum rule.

``iterations=1`` is the paper's one shot. More iterations resample from the force constants
of the previous one and mix linearly, ``Φₙ₊₁ = Φₙ + α (Φ_fit − Φₙ)``, which converges to the
self-consistent SSCHA force constants (without the free-energy gradient refinements of the
full SSCHA code).
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
from phonopy import Phonopy

from thermogap.errors import CalculationError, InputError
from thermogap.phonons.analysis import DEFAULT_STABILITY_TOLERANCE_THZ
from thermogap.phonons.harmonic import phonopy_atoms_to_ase, supercell_forces
from thermogap.phonons.normal_modes import commensurate_qpoints

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator
    from phonopy.structure.atoms import PhonopyAtoms

__all__ = [
    "ESTIMATORS",
    "IterationRecord",
    "ModeFrequency",
    "RenormalisationResult",
    "commensurate_frequencies",
    "imaginary_commensurate_modes",
    "renormalised_phonons",
]

Estimator = Literal["force_fit", "hessian_average"]
ESTIMATORS: tuple[str, ...] = ("force_fit", "hessian_average")
_SEED_STRIDE = 7919  # iteration n draws with seed + n * stride (phonopy seeds are < 2**32)


@dataclass(frozen=True)
class ModeFrequency:
    """One phonon mode at a commensurate q-point of the supercell.

    Attributes
    ----------
    qpoint : tuple of float
        shape=(3,), fractional coordinates of the primitive cell's reciprocal lattice.
    band_index : int
        0 = lowest band at that q.
    frequency_thz : float
        THz; negative means imaginary ``i |f|``.
    """

    qpoint: tuple[float, float, float]
    band_index: int
    frequency_thz: float


@dataclass
class IterationRecord:
    """What one sampling iteration did.

    Attributes
    ----------
    iteration : int
        1 = the one shot.
    n_supercells : int
        Displaced supercells drawn.
    n_calculator_calls : int
        Force evaluations made in this iteration (including the reference supercell).
    rms_displacement_ang : float
        Root-mean-square Cartesian displacement of the sampled atoms, Å.
    max_displacement_ang : float
        Largest atomic displacement length, Å.
    min_frequency_thz : float
        Lowest commensurate frequency of the force constants after this iteration, THz
        (negative: imaginary).
    relative_fc_change : float
        ``‖Φₙ − Φₙ₋₁‖_F / ‖Φₙ₋₁‖_F`` (dimensionless).
    wall_time_s : float
        Seconds spent in this iteration.
    """

    iteration: int
    n_supercells: int
    n_calculator_calls: int
    rms_displacement_ang: float
    max_displacement_ang: float
    min_frequency_thz: float
    relative_fc_change: float
    wall_time_s: float


@dataclass
class RenormalisationResult:
    """Renormalised phonons at one temperature.

    Attributes
    ----------
    phonon : phonopy.Phonopy
        Same cells as the harmonic input; ``force_constants`` (n_super, n_super, 3, 3), eV/Å²,
        are the renormalised ones.
    temperature_k : float
    estimator : str
    iterations : list of IterationRecord
    imaginary_before : list of ModeFrequency
        Imaginary commensurate modes of the harmonic force constants.
    imaginary_after : list of ModeFrequency
        Imaginary commensurate modes of the renormalised force constants.
    stability_tolerance_thz : float
        A mode is imaginary when its frequency is below minus this, THz.
    force_constants_history : list of numpy.ndarray
        Force constants after each iteration (the first is the one shot), eV/Å².
    """

    phonon: Phonopy
    temperature_k: float
    estimator: str
    iterations: list[IterationRecord] = field(default_factory=list)
    imaginary_before: list[ModeFrequency] = field(default_factory=list)
    imaginary_after: list[ModeFrequency] = field(default_factory=list)
    stability_tolerance_thz: float = DEFAULT_STABILITY_TOLERANCE_THZ
    force_constants_history: list[np.ndarray] = field(default_factory=list)

    def phonon_after(self, iteration: int) -> Phonopy:
        """Phonopy object with the force constants after ``iteration`` (1 = the one shot)."""
        if not 1 <= iteration <= len(self.force_constants_history):
            raise InputError(
                f"{iteration=} is not available; allowed: 1..{len(self.force_constants_history)}"
            )
        return _with_force_constants(self.phonon, self.force_constants_history[iteration - 1])

    @property
    def n_calculator_calls(self) -> int:
        """Force evaluations over all iterations."""
        return sum(r.n_calculator_calls for r in self.iterations)

    @property
    def stable(self) -> bool:
        """No imaginary commensurate mode remains after renormalisation."""
        return not self.imaginary_after


def commensurate_frequencies(phonon: Phonopy) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies at the q-points commensurate with the supercell (exact for its FCs).

    Returns
    -------
    qpoints : numpy.ndarray
        shape=(n_q, 3), fractional.
    frequencies_thz : numpy.ndarray
        shape=(n_q, 3 n_atoms), THz, imaginary as negative.
    """
    smat = np.rint(
        np.linalg.inv(np.asarray(phonon.primitive_matrix, dtype=float))
        @ np.asarray(phonon.supercell_matrix, dtype=float)
    ).astype(int)
    qpoints = commensurate_qpoints(smat)
    result = phonon.run_qpoints(qpoints, with_eigenvectors=False)
    return qpoints, np.asarray(result.frequencies)


def imaginary_commensurate_modes(
    phonon: Phonopy, tolerance_thz: float = DEFAULT_STABILITY_TOLERANCE_THZ
) -> list[ModeFrequency]:
    """Commensurate modes with frequency below ``-tolerance_thz``, most unstable first."""
    qpoints, freqs = commensurate_frequencies(phonon)
    modes = [
        ModeFrequency((float(q[0]), float(q[1]), float(q[2])), int(band), float(freqs[iq, band]))
        for iq, q in enumerate(qpoints)
        for band in np.flatnonzero(freqs[iq] < -tolerance_thz)
    ]
    return sorted(modes, key=lambda m: m.frequency_thz)


def _with_force_constants(phonon: Phonopy, force_constants: np.ndarray) -> Phonopy:
    fresh = phonon.replicate()
    fresh.masses = np.asarray(phonon.masses)
    fresh.force_constants = np.array(force_constants, dtype="double", order="C")
    return fresh


def _quiet() -> contextlib.AbstractContextManager[object]:
    return contextlib.redirect_stdout(io.StringIO())


def _fit_force_constants(
    sampler: Phonopy, displacements: np.ndarray, forces: np.ndarray
) -> np.ndarray:
    sampler.dataset = {"displacements": displacements, "forces": forces}
    with _quiet():
        try:
            sampler.produce_force_constants(fc_calculator="symfc", show_drift=False)
        except Exception as exc:  # symfc raises plain exceptions on rank problems
            raise CalculationError(
                f"symfc could not fit force constants to {len(displacements)} supercells: "
                f"{type(exc).__name__}: {exc}; draw more samples (n_samples)"
            ) from exc
    return np.array(sampler.force_constants)


def _average_hessian(
    sampler: Phonopy,
    supercell: PhonopyAtoms,
    displacements: np.ndarray,
    calculator: Calculator,
    step_ang: float,
) -> np.ndarray:
    n_atoms = len(supercell)
    base = phonopy_atoms_to_ase(supercell)
    positions = base.get_positions()
    hessian = np.zeros((n_atoms, 3, n_atoms, 3))
    for u in displacements:
        for atom in range(n_atoms):
            for axis in range(3):
                pair = []
                for sign in (1.0, -1.0):
                    atoms = base.copy()
                    shifted = positions + u
                    shifted[atom, axis] += sign * step_ang
                    atoms.set_positions(shifted)
                    atoms.calc = calculator
                    try:
                        pair.append(np.asarray(atoms.get_forces(), dtype=float))
                    except Exception as exc:  # calculators raise anything; say where
                        raise CalculationError(
                            f"calculator {type(calculator).__name__} failed on a Hessian step "
                            f"(atom {atom}, axis {axis}): {type(exc).__name__}: {exc}"
                        ) from exc
                hessian[atom, axis] -= (pair[0] - pair[1]) / (2 * step_ang)
    hessian /= len(displacements)
    fc = np.ascontiguousarray(hessian.transpose(0, 2, 1, 3))  # (i, j, alpha, beta)
    sampler.force_constants = fc
    with _quiet():
        sampler.symmetrize_force_constants(show_drift=False)
        sampler.symmetrize_force_constants_by_space_group(show_drift=False)
    return np.array(sampler.force_constants)


def _thermal_displacements(
    sampler: Phonopy,
    temperature_k: float,
    n_draws: int,
    plus_minus: bool,
    seed: int,
    cutoff_thz: float | None,
    floor_thz: float | None,
) -> np.ndarray:
    """Draw harmonic thermal displacements (phonopy), optionally with a frequency floor.

    Sets ``sampler.dataset`` so that ``sampler.supercells_with_displacements`` follows;
    returns the displacements, shape (n_draws [x 2], n_atoms, 3), Å.
    """
    sampler.init_random_displacements(cutoff_frequency=cutoff_thz)
    sampling = sampler.random_displacements
    if floor_thz is not None and sampling is not None:
        cutoff = 0.01 if cutoff_thz is None or cutoff_thz < 0 else cutoff_thz
        absolute = np.abs(sampling.frequencies)
        lifted = (absolute > cutoff) & (absolute < floor_thz)
        sampling.frequencies = np.where(lifted, floor_thz, absolute)
    u = sampler.get_random_displacements_at_temperature(
        temperature_k, n_draws, is_plusminus=plus_minus, random_seed=seed
    )
    displacements = np.array(u, dtype=float)
    sampler.dataset = {"displacements": displacements}
    return displacements


def _check_inputs(
    phonon: Phonopy,
    temperature_k: float,
    n_samples: int,
    iterations: int,
    mixing: float,
    estimator: str,
    plus_minus: bool,
) -> None:
    if phonon.force_constants is None:
        raise InputError("the harmonic phonopy object has no force constants; compute them first")
    if not np.isfinite(temperature_k) or temperature_k < 0:
        raise InputError(f"{temperature_k=} K must be a finite number >= 0")
    if n_samples < 1 or (plus_minus and n_samples % 2):
        allowed = "an even number >= 2 (±u pairs)" if plus_minus else "an integer >= 1"
        raise InputError(f"{n_samples=} is not allowed; with {plus_minus=} it must be {allowed}")
    if iterations < 1:
        raise InputError(f"{iterations=} must be >= 1 (1 = the paper's one shot)")
    if not 0 < mixing <= 1:
        raise InputError(f"{mixing=} must be in (0, 1]")
    if estimator not in ESTIMATORS:
        raise InputError(f"{estimator=} is not known; allowed: {', '.join(ESTIMATORS)}")


def renormalised_phonons(
    phonon: Phonopy,
    calculator: Calculator,
    temperature_k: float,
    *,
    n_samples: int = 4,
    iterations: int = 1,
    mixing: float = 0.5,
    seed: int = 0,
    estimator: Estimator = "force_fit",
    plus_minus: bool = True,
    cutoff_frequency_thz: float | None = None,
    min_sampling_frequency_thz: float | None = None,
    hessian_step_ang: float = 0.01,
    stability_tolerance_thz: float = DEFAULT_STABILITY_TOLERANCE_THZ,
) -> RenormalisationResult:
    """Anharmonically renormalised force constants at ``temperature_k`` (one-shot SSCHA).

    Parameters
    ----------
    phonon : phonopy.Phonopy
        Harmonic phonons with force constants (eV/Å²) of the supercell in which to sample;
        not modified.
    calculator : ase.calculators.calculator.Calculator
        Any ASE calculator (CHGNet, MACE, a model potential); forces in eV/Å.
    temperature_k : float
        Temperature of the quantum (Bose-Einstein) displacement distribution, K.
    n_samples : int
        Displaced supercells per iteration (paper: one 2x2x2 supercell). With ``plus_minus``
        they come as ``n_samples / 2`` pairs ``±u``, which removes the odd (cubic) part of
        the forces from the fit exactly.
    iterations : int
        1 = one shot (paper). More iterations resample from the previous force constants.
    mixing : float
        Linear mixing ``α`` of iterations 2, 3, ...; the first iteration takes the fit as is.
    seed : int
        Random seed; iteration ``n`` draws with ``seed + 7919 (n - 1)``.
    estimator : {"force_fit", "hessian_average"}
        How ``⟨∂²V⟩`` is estimated from the samples (see the module docstring).
    plus_minus : bool
        Sample ``±u`` pairs.
    cutoff_frequency_thz : float or None
        Modes with ``|ω|`` below this are not displaced (phonopy's default, 0.01 THz, when
        None); the acoustic modes at Γ always fall below it.
    min_sampling_frequency_thz : float or None
        Floor under the sampling frequencies: a mode with ``cutoff < |ω| <`` this floor
        (an imaginary or nearly unstable mode) is displaced as if its frequency were the
        floor, THz. None: phonopy's convention alone (``|ω|``). A shallow imaginary mode's
        ``|ω|`` says nothing about its thermal width; sampled at ``|ω| ≈ 1`` THz it spreads
        the atoms far into the repulsive region (see docs/tdph.md, SrTiO3).
    hessian_step_ang : float
        Finite-difference step of ``"hessian_average"``, Å.
    stability_tolerance_thz : float
        A commensurate mode counts as imaginary below ``-stability_tolerance_thz``, THz.

    Returns
    -------
    RenormalisationResult
        The renormalised phonopy object, one :class:`IterationRecord` per iteration and the
        imaginary modes before and after. Imaginary harmonic modes are sampled with their
        absolute frequency (phonopy's convention).

    Raises
    ------
    InputError
        For bad settings (echoed).
    CalculationError
        If the calculator fails or symfc cannot fit the samples.

    Examples
    --------
    >>> result = renormalised_phonons(phonon, calc, 300.0)        # doctest: +SKIP
    >>> result.phonon.run_qpoints([[0, 0, 0]]).frequencies         # doctest: +SKIP
    """
    _check_inputs(phonon, temperature_k, n_samples, iterations, mixing, estimator, plus_minus)
    harmonic_fc = np.array(phonon.force_constants)
    if harmonic_fc.shape[0] != harmonic_fc.shape[1]:  # compact (n_prim, n_super, 3, 3)
        from phonopy.harmonic.force_constants import compact_fc_to_full_fc

        harmonic_fc = np.array(compact_fc_to_full_fc(phonon.primitive, harmonic_fc))
    current = _with_force_constants(phonon, harmonic_fc)
    result = RenormalisationResult(
        phonon=current,
        temperature_k=float(temperature_k),
        estimator=estimator,
        imaginary_before=imaginary_commensurate_modes(current, stability_tolerance_thz),
        stability_tolerance_thz=stability_tolerance_thz,
    )
    supercell = phonon.supercell
    reference = supercell_forces([supercell], calculator)[0]
    for iteration in range(1, iterations + 1):
        start = time.perf_counter()
        sampler = _with_force_constants(phonon, np.asarray(current.force_constants))
        displacements = _thermal_displacements(
            sampler,
            float(temperature_k),
            n_samples // 2 if plus_minus else n_samples,
            plus_minus,
            (seed + _SEED_STRIDE * (iteration - 1)) % 2**32,
            cutoff_frequency_thz,
            min_sampling_frequency_thz,
        )
        if estimator == "force_fit":
            forces = supercell_forces(sampler.supercells_with_displacements or [], calculator)
            fitted = _fit_force_constants(sampler, displacements, forces - reference)
            calls = len(displacements)
        else:
            fitted = _average_hessian(
                sampler, supercell, displacements, calculator, hessian_step_ang
            )
            calls = 6 * len(supercell) * len(displacements)
        previous = np.array(current.force_constants)
        alpha = 1.0 if iteration == 1 else mixing
        current = _with_force_constants(phonon, previous + alpha * (fitted - previous))
        result.force_constants_history.append(np.array(current.force_constants))
        _, freqs = commensurate_frequencies(current)
        lengths = np.linalg.norm(displacements, axis=-1)
        result.iterations.append(
            IterationRecord(
                iteration=iteration,
                n_supercells=len(displacements),
                n_calculator_calls=calls + (1 if iteration == 1 else 0),
                rms_displacement_ang=float(np.sqrt(np.mean(displacements**2))),
                max_displacement_ang=float(lengths.max()),
                min_frequency_thz=float(freqs.min()),
                relative_fc_change=float(
                    np.linalg.norm(current.force_constants - previous) / np.linalg.norm(previous)
                ),
                wall_time_s=time.perf_counter() - start,
            )
        )
    result.phonon = current
    result.imaginary_after = imaginary_commensurate_modes(current, stability_tolerance_thz)
    return result
