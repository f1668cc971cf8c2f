"""An exactly solvable anharmonic crystal for validating renormalised phonons.

Simple-cubic lattice, one atom per cell, nearest-neighbour bonds along x, y and z. Each bond
``b`` from atom ``i`` to atom ``j`` along the unit vector ``ê_b`` carries

    V_b = k/2 Δ_b² + λ/24 Δ_b⁴ + k_t/2 |t_b|² ,

with the axial stretch ``Δ_b = (u_j − u_i)·ê_b`` and the transverse part
``t_b = (u_j − u_i) − Δ_b ê_b`` of the relative displacement. ``V`` depends on differences of
displacements only (translation invariant) and has the cubic point group, so symfc can
represent its force constants. The Hessian of a bond is ``(k + λ/2 Δ_b²) ê êᵀ`` plus the
constant transverse part, hence

    ⟨∂²V⟩ = Φ_harmonic(k → k + λ/2 ⟨Δ²⟩, k_t) ,

and for the Gaussian (harmonic, quantum) distribution of the supercell the variance follows
from a mode sum over the commensurate q-points (polarisations are Cartesian):

    ω_x(q)² = 4/m [k sin²(q_x a/2) + k_t (sin²(q_y a/2) + sin²(q_z a/2))]
    ⟨Δ_x²⟩ = 1/N Σ_q 4 sin²(q_x a/2) ħ/(2 m |ω_x|) coth(ħ|ω_x| / 2 k_B T) .

A negative ``k`` with positive ``λ`` makes a double well: the harmonic modes are imaginary,
and the one-shot renormalisation (sampled with ``|ω|``) stabilises them only when
``⟨Δ²⟩ > −2k/λ``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from scipy import constants

from thermogap.errors import InputError

__all__ = [
    "AxialSpringCalculator",
    "axial_mean_square_stretch",
    "axial_spring_force_constants",
    "simple_cubic_supercell",
]

_AMU_KG = constants.atomic_mass
_EV_J = constants.electron_volt
_ANG_M = 1e-10


def simple_cubic_supercell(lattice_ang: float, repeats: int, symbol: str = "Ar") -> Atoms:
    """``repeats³`` atoms of a simple-cubic lattice (the model's reference positions)."""
    if repeats < 2:
        raise InputError(f"{repeats=} must be >= 2 for the bonds to be well defined")
    grid = np.array(np.meshgrid(*[np.arange(repeats)] * 3, indexing="ij")).reshape(3, -1).T
    return Atoms(
        symbols=[symbol] * len(grid),
        positions=grid * lattice_ang,
        cell=np.eye(3) * lattice_ang * repeats,
        pbc=True,
    )


def _bonds(reference: Atoms, lattice_ang: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, axis) of every +x, +y, +z nearest-neighbour bond of the reference cell."""
    frac = reference.get_scaled_positions()
    cell = np.asarray(reference.cell)
    first: list[int] = []
    second: list[int] = []
    axes: list[int] = []
    for axis in range(3):
        step = np.zeros(3)
        step[axis] = lattice_ang
        target = np.linalg.solve(cell.T, (reference.positions + step).T).T % 1.0
        diff = (frac[None, :, :] - target[:, None, :] + 0.5) % 1.0 - 0.5
        match = np.argmin(np.linalg.norm(diff @ cell, axis=-1), axis=1)
        first.extend(range(len(reference)))
        second.extend(match.tolist())
        axes.extend([axis] * len(reference))
    return np.array(first), np.array(second), np.array(axes)


class AxialSpringCalculator(Calculator):
    """ASE calculator of the axial-spring crystal (energy in eV, forces in eV/Å).

    Parameters
    ----------
    reference : ase.Atoms
        Undisplaced simple-cubic supercell; atoms are matched by index, so the displaced
        supercells must keep its atom order (phonopy's do).
    lattice_ang : float
        Nearest-neighbour distance, Å.
    k : float
        Axial harmonic stiffness, eV/Å² (negative for a double well).
    k_t : float
        Transverse harmonic stiffness, eV/Å² (> 0).
    lam : float
        Quartic coefficient λ, eV/Å⁴ (≥ 0).
    """

    implemented_properties = ["energy", "forces"]  # noqa: RUF012 (ASE declares it so)

    def __init__(
        self, reference: Atoms, lattice_ang: float, k: float, k_t: float, lam: float, **kw: Any
    ) -> None:
        super().__init__(**kw)
        if k_t <= 0 or lam < 0:
            raise InputError(f"{k_t=} eV/Å² must be > 0 and {lam=} eV/Å⁴ >= 0")
        self.reference_positions = reference.get_positions().copy()
        self.k, self.k_t, self.lam = float(k), float(k_t), float(lam)
        self.first, self.second, self.axes = _bonds(reference, lattice_ang)
        self.n_calls = 0

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        """Energy and forces of the displaced supercell."""
        super().calculate(atoms, properties or ["energy"], system_changes)
        assert self.atoms is not None
        self.n_calls += 1
        u = self.atoms.get_positions() - self.reference_positions
        rel = u[self.second] - u[self.first]  # (n_bonds, 3)
        unit = np.eye(3)[self.axes]
        stretch = np.einsum("bi,bi->b", rel, unit)
        transverse = rel - stretch[:, None] * unit
        energy = np.sum(
            0.5 * self.k * stretch**2
            + self.lam / 24 * stretch**4
            + 0.5 * self.k_t * np.einsum("bi,bi->b", transverse, transverse)
        )
        grad = (self.k * stretch + self.lam / 6 * stretch**3)[:, None] * unit
        grad += self.k_t * transverse  # dV/d(u_j - u_i)
        forces = np.zeros_like(u)
        np.add.at(forces, self.first, grad)
        np.add.at(forces, self.second, -grad)
        self.results = {"energy": float(energy), "forces": forces}


def axial_spring_force_constants(
    reference: Atoms, lattice_ang: float, k: float, k_t: float
) -> np.ndarray:
    """Exact harmonic force constants of the model with axial stiffness ``k``.

    Returns
    -------
    numpy.ndarray
        shape=(n_atoms, n_atoms, 3, 3), eV/Å² (phonopy's layout).
    """
    first, second, axes = _bonds(reference, lattice_ang)
    n = len(reference)
    fc = np.zeros((n, n, 3, 3))
    for i, j, axis in zip(first, second, axes, strict=True):
        e = np.eye(3)[axis]
        block = k * np.outer(e, e) + k_t * (np.eye(3) - np.outer(e, e))
        fc[i, i] += block
        fc[j, j] += block
        fc[i, j] -= block
        fc[j, i] -= block
    return fc


def axial_mean_square_stretch(
    lattice_ang: float,
    repeats: int,
    k: float,
    k_t: float,
    mass_amu: float,
    temperature_k: float,
    cutoff_frequency_thz: float = 0.01,
) -> float:
    """Closed-form ``⟨Δ²⟩`` (Å²) of an axial bond in the harmonic quantum ensemble.

    The ensemble is the one phonopy samples from the harmonic force constants of a
    ``repeats³`` supercell: each mode with its absolute frequency (imaginary ones too) and
    modes below ``cutoff_frequency_thz`` left out.
    """
    q = 2 * np.pi * np.arange(repeats) / repeats
    qx, qy, qz = np.meshgrid(q, q, q, indexing="ij")
    sx, sy, sz = (np.sin(v / 2) ** 2 for v in (qx, qy, qz))
    omega2 = 4.0 / mass_amu * (k * sx + k_t * (sy + sz))  # eV/Å²/amu
    omega = np.sqrt(np.abs(omega2) * _EV_J / _ANG_M**2 / _AMU_KG)  # rad/s
    keep = omega / (2 * np.pi * 1e12) > cutoff_frequency_thz
    omega = np.where(keep, omega, 1.0)
    hbar_omega = constants.hbar * omega
    if temperature_k > 0:
        occupation_factor = 1 / np.tanh(hbar_omega / (2 * constants.k * temperature_k))
    else:
        occupation_factor = np.ones_like(omega)
    variance = constants.hbar / (2 * mass_amu * _AMU_KG * omega) * occupation_factor / _ANG_M**2
    return float(np.sum(np.where(keep, 4 * sx * variance, 0.0)) / repeats**3)
