"""Williams–Lax average over snapshots (Eq. 3) and the optical constants of the average.

ε2(E, T) = (1/N_X) Σ_X ε2(E; X): each snapshot is a clamped configuration, its spectrum from
:func:`thermogap.optics.dielectric.epsilon2`; the spread of the single-snapshot spectra around
the mean is the paper's Fig. 3 measure of convergence with cell size. ε1 of the average follows
by Kramers–Kronig (a linear map, so averaging before or after is the same), then n, κ and α.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from thermogap.errors import InputError
from thermogap.optics.dielectric import (
    EnergyGrid,
    Epsilon2,
    absorption_coefficient_cm,
    epsilon2,
    kpoint_mesh,
    kramers_kronig_epsilon1,
    refractive_index,
)

if TYPE_CHECKING:
    from ase import Atoms

    from thermogap.tb.registry import HamiltonianModel

__all__ = ["OpticalSpectrum", "optical_spectrum", "snapshot_spectra", "williams_lax_average"]


@dataclass
class OpticalSpectrum:
    """Optical constants on one energy grid (all arrays shape=(n_energies,)).

    Attributes
    ----------
    energies_ev
        Photon energies, eV.
    epsilon1, epsilon2
        Real and imaginary dielectric function (dimensionless).
    epsilon2_std
        Standard deviation of ε2 over snapshots (zeros for one configuration).
    refractive_index, extinction
        n and κ.
    absorption_cm
        Absorption coefficient α, 1/cm.
    n_snapshots
        Configurations averaged.
    """

    energies_ev: np.ndarray
    epsilon1: np.ndarray
    epsilon2: np.ndarray
    epsilon2_std: np.ndarray
    refractive_index: np.ndarray
    extinction: np.ndarray
    absorption_cm: np.ndarray
    n_snapshots: int


def williams_lax_average(spectra: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (ddof=1; zeros for one) of ε2 over snapshots (Eq. 3)."""
    stack = np.asarray(spectra, dtype=float)
    if stack.ndim != 2 or len(stack) == 0:
        raise InputError(f"spectra of shape {stack.shape} must be (n_snapshots, n_energies)")
    std = stack.std(axis=0, ddof=1) if len(stack) > 1 else np.zeros(stack.shape[1])
    return stack.mean(axis=0), std


def optical_spectrum(energies_ev: np.ndarray, spectra: Sequence[np.ndarray]) -> OpticalSpectrum:
    """Average ε2 over snapshots and derive ε1, n, κ and α(E) in 1/cm."""
    mean, std = williams_lax_average(spectra)
    eps1 = kramers_kronig_epsilon1(energies_ev, mean)
    n, kappa = refractive_index(eps1, mean)
    return OpticalSpectrum(
        energies_ev=np.asarray(energies_ev),
        epsilon1=eps1,
        epsilon2=mean,
        epsilon2_std=std,
        refractive_index=n,
        extinction=kappa,
        absorption_cm=absorption_coefficient_cm(energies_ev, kappa),
        n_snapshots=len(spectra),
    )


def snapshot_spectra(
    model: HamiltonianModel,
    snapshots: Sequence[Atoms],
    mesh: tuple[int, int, int] = (1, 1, 1),
    broadening_ev: float = 0.03,
    grid: EnergyGrid | None = None,
) -> list[Epsilon2]:
    """ε2 of each snapshot on a Γ-centred k-mesh of its (super)cell.

    Parameters
    ----------
    model
        Hamiltonian model (see :mod:`thermogap.tb.registry`).
    snapshots
        Periodic configurations (positions Å).
    mesh
        k-point mesh of the supercell; time-reversal pairs are merged.
    broadening_ev
        Gaussian σ, eV.
    grid
        Photon-energy grid.
    """
    kpoints, weights = kpoint_mesh(mesh)
    return [
        epsilon2(model.hamiltonian(atoms), kpoints, weights, broadening_ev, grid)
        for atoms in snapshots
    ]
