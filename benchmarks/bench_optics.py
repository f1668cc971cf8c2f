"""Cost of the tight-binding optics: seconds per k-point for 64/216/512-atom Si cells.

Per k-point the work is: assemble H(k) and ∂H/∂k (bincount over bonds), dense diagonalisation
(scipy eigh, O(n³)), velocity matrix elements U_c† ∂H/∂k_α U_v (three O(n³) products) and
binning the transitions. The cost of one α(E, T) point adds the MD that makes the snapshots
(Stillinger–Weber) and the Kramers–Kronig sum.

Times are CPU seconds of one thread (process time), not wall time.
Run: PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/bench_optics.py [--with-512]
(512 atoms: a 2560x2560 eigenproblem, about a minute per k-point on one core.)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.linalg
from ase.build import bulk

from thermogap.optics.dielectric import EnergyGrid, _deposit, kramers_kronig_epsilon1
from thermogap.optics.sampling import md_snapshots, stillinger_weber_si
from thermogap.tb import SI_VOGL, Sp3sStarModel


def _timed(fn, *args):  # type: ignore[no-untyped-def]
    # CPU time of this (single-threaded) process: the 2 cores are shared, wall time is noisy
    start = time.process_time()
    out = fn(*args)
    return out, time.process_time() - start


def per_kpoint(reps: int) -> dict[str, float]:
    atoms = bulk("Si", "diamond", a=SI_VOGL.lattice_constant_ang, cubic=True).repeat(reps)
    atoms.rattle(0.08, seed=0)
    ham, t_build = _timed(Sp3sStarModel().hamiltonian, atoms)
    k = np.array([0.11, 0.23, 0.31]) @ (2 * np.pi * np.linalg.inv(atoms.cell[:]).T)
    h, t_h = _timed(ham.h_k, k)
    dh, t_dh = _timed(ham.dh_dk, k)
    (energies, vectors), t_eigh = _timed(lambda m: scipy.linalg.eigh(m, driver="evd"), h)
    n_occ = ham.n_occupied
    start = time.process_time()
    uc, uv = vectors[:, n_occ:].conj().T, vectors[:, :n_occ]
    strength = sum(np.abs(uc @ dh[a] @ uv) ** 2 for a in range(3))
    t_velocity = time.process_time() - start
    delta = (energies[n_occ:, None] - energies[None, :n_occ]).ravel()
    grid = EnergyGrid().energies_ev
    _, t_bin = _timed(_deposit, grid, delta, strength.ravel() / delta**2)
    return {
        "atoms": len(atoms), "n_orbitals": ham.n_orbitals, "neighbour list + blocks": t_build,
        "H(k)": t_h, "dH/dk": t_dh, "eigh": t_eigh, "velocity matrix": t_velocity,
        "binning": t_bin, "total per k": t_h + t_dh + t_eigh + t_velocity + t_bin,
    }  # fmt: skip


def md_cost(reps: int, steps: int = 200) -> float:
    atoms = bulk("Si", "diamond", a=SI_VOGL.lattice_constant_ang, cubic=True).repeat(reps)
    start = time.process_time()
    md_snapshots(
        atoms, stillinger_weber_si(), 300.0, 1, interval_steps=steps, equilibration_steps=0
    )
    return (time.process_time() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-512", action="store_true", help="also time the 512-atom cell")
    args = parser.parse_args()
    sizes = [2, 3] + ([4] if args.with_512 else [])
    _, t_kk = _timed(kramers_kronig_epsilon1, EnergyGrid().energies_ev, np.ones(2501))
    print(f"Kramers–Kronig on the default 2501-point grid: {t_kk:.2f} s")
    for reps in sizes:
        row = per_kpoint(reps)
        md_step = md_cost(reps, steps=100 if reps < 4 else 20)
        parts = ", ".join(
            f"{k} {v:.3f} s" for k, v in row.items() if k not in ("atoms", "n_orbitals")
        )
        print(f"{row['atoms']} atoms (H {row['n_orbitals']}x{row['n_orbitals']}): {parts}")
        dominant = max(("eigh", "velocity matrix", "H(k)", "dH/dk", "binning"), key=row.__getitem__)
        print(f"  dominant per k-point: {dominant}; SW MD {md_step * 1e3:.1f} ms/step")
        # one α(E, T) point as the presets run it: snapshots x k-points (time-reversal reduced)
        for mesh, n_k, n_snap, md_steps in (("4x4x4", 36, 4, 900), ("2x2x2", 8, 5, 10000)):
            cost = n_snap * n_k * row["total per k"] + md_steps * md_step + t_kk
            print(
                f"  one α(E,T) point, mesh {mesh} ({n_k} k), {n_snap} snapshots, {md_steps} MD "
                f"steps: {cost:.1f} s (TB {n_snap * n_k * row['total per k']:.1f} s, "
                f"MD {md_steps * md_step:.1f} s)"
            )


if __name__ == "__main__":
    main()
