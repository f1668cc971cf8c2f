"""Bloch Hamiltonians H(k) and their k-derivatives for periodic cells.

A :class:`BlochHamiltonian` holds the real-space hopping blocks of one configuration (onsite
energies and one ``(n_orb_i, n_orb_j)`` block per ordered bond with its bond vector D, Å) and
builds, for a Cartesian wave vector k (1/Å, including the 2π),

    H_ab(k) = Σ_bonds t_ab(D) exp(i k·D),      ∂H_ab/∂k_α = Σ_bonds i D_α t_ab(D) exp(i k·D).

The phase uses the bond vector (atomic positions, not cell origins), the "atomic gauge" of
tight binding, so that ∂H/∂k is the velocity operator ħ v = ∂H/∂k of the model without
intra-atomic dipoles. Any model (Slater–Koster or learned) that can produce these blocks uses
the same optics code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from thermogap.errors import InputError

__all__ = ["BlochHamiltonian", "cartesian_kpoints"]


def cartesian_kpoints(cell_ang: np.ndarray, kpoints_frac: np.ndarray) -> np.ndarray:
    """Convert fractional (reciprocal-lattice) k-points to Cartesian 1/Å (with the 2π).

    Parameters
    ----------
    cell_ang
        Lattice vectors as rows, shape=(3, 3), Å.
    kpoints_frac
        shape=(n_k, 3) or (3,), in units of the reciprocal lattice vectors.

    Returns
    -------
    numpy.ndarray
        Same shape as ``kpoints_frac``, 1/Å.
    """
    reciprocal = 2.0 * np.pi * np.linalg.inv(np.asarray(cell_ang, dtype=float)).T
    return np.asarray(kpoints_frac, dtype=float) @ reciprocal


@dataclass
class BlochHamiltonian:
    """Real-space tight-binding data of one periodic configuration.

    Parameters
    ----------
    cell_ang
        Lattice vectors as rows, shape=(3, 3), Å.
    onsite_ev
        Diagonal onsite energies, shape=(n_orbitals,), eV.
    orbital_offsets
        Index of the first orbital of each atom, shape=(n_atoms + 1,) (last entry n_orbitals).
    bond_i, bond_j
        Atom indices of each ordered bond, shape=(n_bonds,); both directions are listed.
    bond_vectors_ang
        r_j + R − r_i of each bond, shape=(n_bonds, 3), Å.
    bond_blocks_ev
        Hopping blocks t(D), shape=(n_bonds, n_orb, n_orb) (same orbital count per atom), eV.
    n_electrons
        Valence electrons per cell (spin included); bands are doubly occupied.
    """

    cell_ang: np.ndarray
    onsite_ev: np.ndarray
    orbital_offsets: np.ndarray
    bond_i: np.ndarray
    bond_j: np.ndarray
    bond_vectors_ang: np.ndarray
    bond_blocks_ev: np.ndarray
    n_electrons: int

    def __post_init__(self) -> None:
        n_orb = self.bond_blocks_ev.shape[1] if len(self.bond_blocks_ev) else 0
        self._n = int(self.orbital_offsets[-1])
        if self.n_electrons % 2:
            raise InputError(
                f"n_electrons={self.n_electrons} is odd; the spin-degenerate model needs an even "
                "number of valence electrons per cell"
            )
        rows = self.orbital_offsets[self.bond_i][:, None, None] + np.arange(n_orb)[None, :, None]
        cols = self.orbital_offsets[self.bond_j][:, None, None] + np.arange(n_orb)[None, None, :]
        self._flat = (rows * self._n + cols).ravel()

    @property
    def n_orbitals(self) -> int:
        """Size of H(k)."""
        return self._n

    @property
    def n_occupied(self) -> int:
        """Number of doubly occupied (valence) bands."""
        return self.n_electrons // 2

    @property
    def volume_ang3(self) -> float:
        """Cell volume, Å^3."""
        return float(abs(np.linalg.det(self.cell_ang)))

    def _assemble(self, weights: np.ndarray) -> np.ndarray:
        size = self._n * self._n
        flat = weights.ravel()
        real = np.bincount(self._flat, weights=flat.real, minlength=size)
        imag = np.bincount(self._flat, weights=flat.imag, minlength=size)
        return (real + 1j * imag).reshape(self._n, self._n)

    def _phases(self, k_cart: np.ndarray) -> np.ndarray:
        k = np.asarray(k_cart, dtype=float).reshape(3)
        return np.exp(1j * (self.bond_vectors_ang @ k))

    def h_k(self, k_cart: np.ndarray) -> np.ndarray:
        """H(k), shape=(n_orbitals, n_orbitals), complex, eV; k Cartesian in 1/Å."""
        phases = self._phases(k_cart)
        h = self._assemble(self.bond_blocks_ev * phases[:, None, None])
        h[np.diag_indices(self._n)] += self.onsite_ev
        return h

    def dh_dk(self, k_cart: np.ndarray) -> np.ndarray:
        """∂H/∂k_α (analytic), shape=(3, n_orbitals, n_orbitals), complex, eV·Å."""
        phases = self._phases(k_cart)
        out = np.empty((3, self._n, self._n), dtype=complex)
        for axis in range(3):
            factor = 1j * self.bond_vectors_ang[:, axis] * phases
            out[axis] = self._assemble(self.bond_blocks_ev * factor[:, None, None])
        return out

    def eigenvalues(self, k_cart: np.ndarray) -> np.ndarray:
        """Band energies at one k, ascending, shape=(n_orbitals,), eV."""
        return np.asarray(scipy.linalg.eigh(self.h_k(k_cart), eigvals_only=True, driver="evd"))

    def eigh(self, k_cart: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Band energies (eV, ascending) and eigenvectors (columns) at one k."""
        energies, vectors = scipy.linalg.eigh(self.h_k(k_cart), driver="evd")
        return energies, vectors

    def band_edges(self, kpoints_cart: np.ndarray) -> tuple[float, float]:
        """(valence-band maximum, conduction-band minimum) over the given k-points, eV."""
        vbm, cbm = -np.inf, np.inf
        for k in np.atleast_2d(kpoints_cart):
            energies = self.eigenvalues(k)
            vbm = max(vbm, float(energies[self.n_occupied - 1]))
            cbm = min(cbm, float(energies[self.n_occupied]))
        return vbm, cbm
