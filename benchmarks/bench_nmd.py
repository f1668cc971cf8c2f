"""Time of a normal-mode decomposition at the seed paper's MD length (40 ps, frames every 10 fs).

Velocities are random (the cost does not depend on them); the phonons are EMT Cu3Au.
Run: PYTHONPATH=src python benchmarks/bench_nmd.py
"""

from __future__ import annotations

import time

import numpy as np
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure

from thermogap.phonons.harmonic import compute_force_constants
from thermogap.phonons.normal_modes import normal_mode_decomposition, renormalised_phonopy


def main() -> None:
    unit = Structure(
        Lattice.cubic(3.75),
        ["Au", "Cu", "Cu", "Cu"],
        [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )
    phonon = compute_force_constants(unit, EMT(), supercell_matrix=(2, 2, 2))
    rng = np.random.default_rng(0)
    frame_fs, n_frames = 10.0, 4000  # 40 ps saved every 10 fs
    for reps in (2, 3, 4):
        cell = unit * (reps, reps, reps)
        v = rng.normal(size=(n_frames, len(cell), 3)) * 1e-2
        start = time.perf_counter()
        nmd = normal_mode_decomposition(phonon, cell, v, frame_fs, segment_frames=1000)
        mid = time.perf_counter()
        renormalised_phonopy(phonon, nmd)
        end = time.perf_counter()
        n_modes = nmd.frequencies_thz.size
        print(
            f"{reps}x{reps}x{reps} ({len(cell)} atoms, {n_modes} modes, {n_frames} frames): "
            f"NMD {mid - start:.2f} s, renormalised FCs {end - mid:.2f} s"
        )


if __name__ == "__main__":
    main()
