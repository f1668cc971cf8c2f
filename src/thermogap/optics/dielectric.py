"""Dielectric function of one clamped configuration from a tight-binding Hamiltonian (Eq. 1, 4).

For a cell of volume V sampled at k-points with weights w_k (Σ w_k = 1), with the momentum
matrix elements P_cv = (m/ħ) ⟨c k|∂H/∂k|v k⟩ of the paper's Eq. 4,

    ε2(E) = (8π² e² / V) Σ_k w_k Σ_{v,c} |ê·v_cv|² / ΔE² · g_σ(ΔE − E),      ΔE = E_c − E_v,

in Gaussian units with e² = 14.3996 eV·Å, v_cv = ⟨c|∂H/∂k|v⟩ in eV·Å, the factor 2 of spin
included, the light polarisation averaged over x, y, z (|ê·v|² → |v|²/3) and g_σ a normalised
Gaussian of standard deviation σ (the stated broadening, eV). This is Eq. 1 with
ω_p²/(m_e N_e) written out and |P|²/(m²ω²) = |v|²/ΔE². Transitions are binned onto a uniform
energy grid (linear weights) and then convolved with g_σ, exact for grid steps well below σ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from thermogap.errors import InputError
from thermogap.tb.hamiltonian import BlochHamiltonian

__all__ = [
    "E2_EV_ANG",
    "HBAR_C_EV_CM",
    "EnergyGrid",
    "Epsilon2",
    "absorption_coefficient_cm",
    "epsilon2",
    "kpoint_mesh",
    "kramers_kronig_epsilon1",
    "refractive_index",
]

#: e²/(4πε0) in eV·Å (CODATA 2018).
E2_EV_ANG = 14.399645478
#: ħc in eV·cm (CODATA 2018).
HBAR_C_EV_CM = 1.973269804e-5
_KK_BLOCK = 256


@dataclass(frozen=True)
class EnergyGrid:
    """A uniform photon-energy grid starting at 0 eV (needed by the Kramers–Kronig sum).

    Parameters
    ----------
    max_energy_ev
        Last energy, eV; spectra are cut here, so it must cover every transition that
        matters for ε1 at low energy (the sp3s* bands span about 25 eV).
    step_ev
        Grid step, eV; keep it at or below a third of the broadening.
    """

    max_energy_ev: float = 25.0
    step_ev: float = 0.01

    def __post_init__(self) -> None:
        if not (self.step_ev > 0 and self.max_energy_ev > 10 * self.step_ev):
            raise InputError(
                f"energy grid step_ev={self.step_ev}, max_energy_ev={self.max_energy_ev}: "
                "need step > 0 and at least 10 steps"
            )

    @property
    def energies_ev(self) -> np.ndarray:
        """Grid energies, shape=(n_energies,), eV."""
        n = round(self.max_energy_ev / self.step_ev) + 1
        return np.arange(n) * self.step_ev


@dataclass
class Epsilon2:
    """ε2 of one configuration and what it was computed with.

    Attributes
    ----------
    energies_ev
        shape=(n_energies,), eV.
    epsilon2
        Imaginary dielectric function (polarisation average), shape=(n_energies,).
    vbm_ev, cbm_ev
        Highest occupied and lowest empty band energy over the k-points used, eV.
    n_kpoints
        k-points used (after the time-reversal reduction).
    """

    energies_ev: np.ndarray
    epsilon2: np.ndarray
    vbm_ev: float
    cbm_ev: float
    n_kpoints: int


def kpoint_mesh(
    mesh: tuple[int, int, int], time_reversal: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Γ-centred Monkhorst–Pack mesh in fractional coordinates, with weights summing to 1.

    With ``time_reversal`` k and −k are merged (ε2 is the same at both for a real-hopping,
    spin-degenerate Hamiltonian).

    Returns
    -------
    tuple
        (kpoints_frac shape=(n_k, 3), weights shape=(n_k,)).
    """
    if len(mesh) != 3 or min(mesh) < 1:
        raise InputError(f"k-point mesh={mesh} must be three positive integers")
    grid = np.stack(np.meshgrid(*(np.arange(n) for n in mesh), indexing="ij"), -1).reshape(-1, 3)
    sizes = np.asarray(mesh)
    if not time_reversal:
        return grid / sizes, np.full(len(grid), 1.0 / len(grid))
    kept: dict[tuple[int, ...], int] = {}
    for point in grid:
        partner = tuple(int(v) for v in (-point) % sizes)
        key = min(tuple(int(v) for v in point), partner)
        kept[key] = kept.get(key, 0) + 1
    points = np.array(sorted(kept), dtype=float) / sizes
    weights = np.array([kept[k] for k in sorted(kept)], dtype=float) / len(grid)
    return points, weights


def _deposit(grid: np.ndarray, positions: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Spread weights onto the uniform grid with linear (cloud-in-cell) interpolation."""
    step = grid[1] - grid[0]
    x = positions / step
    low = np.floor(x).astype(int)
    frac = x - low
    out = np.zeros(len(grid) + 1)
    inside = (low >= 0) & (low < len(grid) - 1)
    np.add.at(out, low[inside], weights[inside] * (1.0 - frac[inside]))
    np.add.at(out, low[inside] + 1, weights[inside] * frac[inside])
    return out[: len(grid)]


def _gaussian_convolve(grid: np.ndarray, binned: np.ndarray, sigma_ev: float) -> np.ndarray:
    step = grid[1] - grid[0]
    half = int(np.ceil(6 * sigma_ev / step))
    offsets = np.arange(-half, half + 1) * step
    kernel = np.exp(-0.5 * (offsets / sigma_ev) ** 2) / (sigma_ev * np.sqrt(2 * np.pi))
    return np.convolve(binned, kernel, mode="same")


def _transitions_at_k(
    ham: BlochHamiltonian, k_cart: np.ndarray, max_energy_ev: float
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(ΔE, Σ_α|v_cv,α|²/3, VBM, CBM) of the allowed v→c pairs at one k."""
    energies, vectors = scipy.linalg.eigh(ham.h_k(k_cart), driver="evd")
    n_occ = ham.n_occupied
    vbm, cbm = float(energies[n_occ - 1]), float(energies[n_occ])
    valence = np.flatnonzero(energies[:n_occ] > cbm - max_energy_ev)
    conduction = n_occ + np.flatnonzero(energies[n_occ:] < vbm + max_energy_ev)
    dh = ham.dh_dk(k_cart)
    uc = vectors[:, conduction].conj().T
    uv = vectors[:, valence]
    strength = np.zeros((len(conduction), len(valence)))
    for axis in range(3):
        strength += np.abs(uc @ dh[axis] @ uv) ** 2
    delta = energies[conduction][:, None] - energies[valence][None, :]
    return delta.ravel(), strength.ravel() / 3.0, vbm, cbm


def epsilon2(
    ham: BlochHamiltonian,
    kpoints_frac: np.ndarray,
    weights: np.ndarray | None = None,
    broadening_ev: float = 0.03,
    grid: EnergyGrid | None = None,
) -> Epsilon2:
    """Imaginary dielectric function of one clamped configuration (Eq. 1 with Eq. 4).

    Parameters
    ----------
    ham
        Bloch Hamiltonian of the cell (any :class:`~thermogap.tb.HamiltonianModel`'s output).
    kpoints_frac
        k-points in units of the cell's reciprocal vectors, shape=(n_k, 3).
    weights
        k-point weights, shape=(n_k,), normalised to sum 1 here; default equal.
    broadening_ev
        Standard deviation σ of the Gaussian that replaces δ(ΔE − E), eV.
    grid
        Photon-energy grid; default :class:`EnergyGrid` ().

    Returns
    -------
    Epsilon2
        ε2 on the grid (dimensionless) and the band edges seen on the k-points.
    """
    if broadening_ev <= 0:
        raise InputError(f"{broadening_ev=} eV must be > 0")
    grid = grid or EnergyGrid()
    if grid.step_ev > broadening_ev / 2:
        raise InputError(
            f"grid step {grid.step_ev} eV is too coarse for {broadening_ev=} eV; allowed: "
            f"step <= broadening/2"
        )
    kpoints_frac = np.atleast_2d(np.asarray(kpoints_frac, dtype=float))
    w = np.full(len(kpoints_frac), 1.0) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(kpoints_frac),) or np.any(w < 0) or w.sum() <= 0:
        raise InputError(f"weights of shape {w.shape} must be non-negative, one per k-point")
    w = w / w.sum()
    energies = grid.energies_ev
    reciprocal = 2.0 * np.pi * np.linalg.inv(ham.cell_ang).T
    binned = np.zeros(len(energies))
    vbm, cbm = -np.inf, np.inf
    window = grid.max_energy_ev + 6 * broadening_ev
    for k_frac, weight in zip(kpoints_frac, w, strict=True):
        delta, strength, k_vbm, k_cbm = _transitions_at_k(ham, k_frac @ reciprocal, window)
        vbm, cbm = max(vbm, k_vbm), min(cbm, k_cbm)
        keep = delta > 1e-6
        binned += weight * _deposit(energies, delta[keep], strength[keep] / delta[keep] ** 2)
    prefactor = 8.0 * np.pi**2 * E2_EV_ANG / ham.volume_ang3
    eps2 = prefactor * _gaussian_convolve(energies, binned, broadening_ev)
    return Epsilon2(energies, eps2, vbm, cbm, len(kpoints_frac))


def kramers_kronig_epsilon1(energies_ev: np.ndarray, epsilon2: np.ndarray) -> np.ndarray:
    """ε1 from ε2 by the Kramers–Kronig relation (Maclaurin's alternate-point rule).

    ε1(E_i) = 1 + (2/π) P∫ E' ε2(E') / (E'² − E_i²) dE' ≈ 1 + (4h/π) Σ_{j−i odd} E_j ε2_j /
    (E_j² − E_i²), which skips the singular point symmetrically (Ohta & Ishida, Appl.
    Spectrosc. 42, 952 (1988)). ε2 is taken as zero beyond the grid.

    Parameters
    ----------
    energies_ev
        Uniform grid starting at 0, shape=(n,), eV.
    epsilon2
        shape=(n,).

    Returns
    -------
    numpy.ndarray
        ε1, shape=(n,).
    """
    e = np.asarray(energies_ev, dtype=float)
    f = np.asarray(epsilon2, dtype=float)
    step = e[1] - e[0]
    if abs(e[0]) > 1e-12 or not np.allclose(np.diff(e), step, rtol=1e-6, atol=1e-12):
        raise InputError("Kramers–Kronig needs a uniform energy grid starting at 0 eV")
    index = np.arange(len(e))
    weighted = e * f
    eps1 = np.ones(len(e))
    for start in range(0, len(e), _KK_BLOCK):  # rows in blocks: memory O(block × n)
        rows = index[start : start + _KK_BLOCK]
        odd = (rows[:, None] - index[None, :]) % 2 == 1
        denominator = np.where(odd, e[None, :] ** 2 - e[rows, None] ** 2, 1.0)
        eps1[rows] += (4.0 * step / np.pi) * np.sum(
            np.where(odd, weighted[None, :] / denominator, 0.0), axis=1
        )
    return eps1


def refractive_index(epsilon1: np.ndarray, epsilon2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Refractive index n and extinction coefficient κ with (n + iκ)² = ε1 + iε2."""
    modulus = np.hypot(epsilon1, epsilon2)
    n = np.sqrt(np.maximum(0.5 * (modulus + epsilon1), 0.0))
    kappa = np.sqrt(np.maximum(0.5 * (modulus - epsilon1), 0.0))
    return n, kappa


def absorption_coefficient_cm(energies_ev: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """Absorption coefficient α = 2ωκ/c = 2Eκ/(ħc), 1/cm (equal to ωε2/(cn))."""
    return 2.0 * np.asarray(energies_ev) * np.asarray(kappa) / HBAR_C_EV_CM
