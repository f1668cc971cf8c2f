"""Analytic lattice dynamics of Morse pair potentials: the reference the phonon tests use."""

from __future__ import annotations

import numpy as np
from ase.calculators.morse import MorsePotential
from pymatgen.core import Lattice, Structure

from thermogap.phonons.harmonic import compute_force_constants

EPS_EV, RHO, R0_ANG = 0.4, 4.0, 2.5
A_FCC_ANG = 3.6
# eV / (Å² amu) -> (rad/s)²; frequency in THz = sqrt(.)/(2π 1e12)
EV_PER_ANG2_AMU = 1.602176634e-19 / 1e-20 / 1.66053906660e-27


def morse_derivatives(r: float) -> tuple[float, float]:
    """φ'(r) (eV/Å) and φ''(r) (eV/Å²) of ASE's Morse pair potential."""
    e = np.exp(-RHO * (r / R0_ANG - 1.0))
    d1 = EPS_EV * (-2 * RHO / R0_ANG * e**2 + 2 * RHO / R0_ANG * e)
    d2 = EPS_EV * (4 * RHO**2 / R0_ANG**2 * e**2 - 2 * RHO**2 / R0_ANG**2 * e)
    return d1, d2


def analytic_frequencies(
    q_cart: np.ndarray, mass_amu: float, neighbours: list[np.ndarray]
) -> np.ndarray:
    """Central-force nearest-neighbour dispersion of a Bravais lattice, THz (sorted, i|f| < 0).

    D(q) = (1/m) Σ_R (1 - cos q·R) [φ''(R) R̂R̂ + φ'(R)/R (1 - R̂R̂)]
    """
    dyn = np.zeros((3, 3))
    for vec in neighbours:
        r = np.linalg.norm(vec)
        d1, d2 = morse_derivatives(r)
        rr = np.outer(vec, vec) / r**2
        dyn += (1 - np.cos(q_cart @ vec)) * (d2 * rr + d1 / r * (np.eye(3) - rr))
    w2 = np.linalg.eigvalsh(dyn / mass_amu) * EV_PER_ANG2_AMU
    return np.sort(np.sign(w2) * np.sqrt(np.abs(w2)) / (2 * np.pi * 1e12))


def fcc_neighbours(a: float) -> list[np.ndarray]:
    half = [
        np.array(v) * a / 2
        for v in [(1, 1, 0), (1, -1, 0), (1, 0, 1), (1, 0, -1), (0, 1, 1), (0, 1, -1)]
    ]
    return half + [-v for v in half]


def analytic_fcc_frequencies(q_cart: np.ndarray, mass_amu: float) -> np.ndarray:
    return analytic_frequencies(q_cart, mass_amu, fcc_neighbours(A_FCC_ANG))


def simple_cubic_morse(a_ang: float):
    """Simple cubic Cu with nearest-neighbour Morse bonds (second shell cut off).

    Its transverse stiffness is φ'(a)/a alone: compressed below r0 the transverse modes are
    imaginary everywhere off Γ, stretched above r0 they are real.
    """
    structure = Structure(Lattice.cubic(a_ang), ["Cu"], [[0, 0, 0]])
    calc = MorsePotential(epsilon=EPS_EV, rho0=RHO, r0=R0_ANG, rcut1=1.12, rcut2=1.25)
    assert np.sqrt(2) * a_ang > 1.25 * R0_ANG and a_ang < 1.12 * R0_ANG
    return compute_force_constants(structure, calc, supercell_matrix=(3, 3, 3))


def fcc_morse_phonon():
    """Nearest-neighbour Morse FCC Cu (primitive cell, 3x3x3 supercell)."""
    a = A_FCC_ANG
    lattice = Lattice([[0, a / 2, a / 2], [a / 2, 0, a / 2], [a / 2, a / 2, 0]])
    structure = Structure(lattice, ["Cu"], [[0, 0, 0]])
    # cutoff between the first (2.55 Å) and second (3.6 Å) neighbour shells
    calc = MorsePotential(epsilon=EPS_EV, rho0=RHO, r0=R0_ANG, rcut1=1.1, rcut2=1.3)
    return compute_force_constants(structure, calc, supercell_matrix=(3, 3, 3))
