"""Benchmark the embedded labelling engine on 40-atom Ag3SBr_xI_(1-x) cells.

Prints, for each embedded level, the per-configuration cost (CHGNet energy/forces/stress
and xTB band gap separately, 1 thread) and the throughput in labels per minute with one
process and with one process per core.

Usage: ``python benchmarks/bench_labels.py [--n 8] [--workers 2] [--x 0.5]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time

import numpy as np


def ag3sbr_x_i_cell(x: float, displacement_ang: float, seed: int):
    """2x2x2 supercell (40 atoms) of cubic Ag3SBr_xI_(1-x), halide sites drawn at random."""
    from pymatgen.core import Lattice, Structure

    a = 4.85 * x + 4.97 * (1 - x)  # Å, linear in x between the parents' lattice parameters
    cell = Structure(
        Lattice.cubic(a),
        ["I", "S", "Ag", "Ag", "Ag"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )
    supercell = cell * (2, 2, 2)
    rng = np.random.default_rng(seed)
    halides = [i for i, site in enumerate(supercell) if site.specie.symbol == "I"]
    for i in rng.choice(halides, size=round(x * len(halides)), replace=False):
        supercell.replace(int(i), "Br")
    for i in range(len(supercell)):
        supercell.translate_sites([i], rng.normal(0, displacement_ang, 3), frac_coords=False)
    return supercell


def _configs(n: int, x: float) -> list[dict]:
    return [
        {"config_id": f"bench-{i}", "structure": ag3sbr_x_i_cell(x, 0.08, i).as_dict()}
        for i in range(n)
    ]


def _label_many(args: tuple[list[dict], str]) -> list[str]:
    from thermogap.labels.labeling import embedded_label_doc
    from thermogap.levels import load_level

    configs, level_name = args
    level = load_level(level_name)
    return [embedded_label_doc(c, level).status for c in configs]


def _warm_worker() -> None:
    from thermogap.engines.embedded import cached_calculator

    cached_calculator("chgnet", model_name="0.3.0")


def per_configuration_cost(configs: list[dict], level_name: str) -> None:
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    from thermogap.engines.embedded import cached_calculator, xtb_band_edges
    from thermogap.levels import load_level
    from thermogap.threads import limited_threads

    settings = load_level(level_name).embedded
    calc = cached_calculator(settings.forces_engine, **settings.forces_engine_kwargs)
    t_forces, t_gap, gaps = [], [], []
    with limited_threads(1):
        for config in configs:
            atoms = AseAtomsAdaptor.get_atoms(Structure.from_dict(config["structure"]))
            atoms.calc = calc
            start = time.perf_counter()
            atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
            t_forces.append(time.perf_counter() - start)
            start = time.perf_counter()
            gaps.append(
                xtb_band_edges(
                    atoms,
                    settings.gap_method,
                    settings.gap_accuracy,
                    settings.gap_max_iterations,
                    settings.electronic_temperature_k,
                ).band_gap_ev
            )
            t_gap.append(time.perf_counter() - start)
    total = [a + b for a, b in zip(t_forces, t_gap, strict=True)]
    print(
        f"{level_name:18s} n_atoms={len(atoms):3d}"
        f"  CHGNet E/F/σ median {statistics.median(t_forces):.3f} s"
        f"  {settings.gap_method} gap median {statistics.median(t_gap):.3f} s"
        f"  total median {statistics.median(total):.3f} s (max {max(total):.3f} s)"
        f"  gaps {min(gaps):.2f}-{max(gaps):.2f} eV"
    )


def throughput(configs: list[dict], level_name: str, workers: int) -> None:
    chunks = [configs[i::workers] for i in range(workers)]
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_warm_worker) as pool:
        pool.map(_label_many, [([], level_name)] * workers)  # wait for model loading
        start = time.perf_counter()
        statuses = [
            s for part in pool.map(_label_many, [(c, level_name) for c in chunks]) for s in part
        ]
        wall = time.perf_counter() - start
    print(
        f"{level_name:18s} {workers} process(es): {len(configs)} labels in {wall:.1f} s = "
        f"{60 * len(configs) / wall:.1f} labels/min ({statuses.count('ok')} ok)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8, help="configurations per measurement")
    parser.add_argument("--workers", type=int, default=2, help="processes for the parallel run")
    parser.add_argument("--x", type=float, default=0.5, help="Br fraction x")
    parser.add_argument("--levels", nargs="+", default=["chgnet-gfn1-xtb", "chgnet-ipea1-xtb"])
    args = parser.parse_args()
    print(f"cpu cores visible: {os.cpu_count()}, load average: {os.getloadavg()}")
    configs = _configs(args.n, args.x)
    for level_name in args.levels:
        per_configuration_cost(configs, level_name)
    for level_name in args.levels:
        for workers in sorted({1, args.workers}):
            throughput(configs, level_name, workers)


if __name__ == "__main__":
    main()
