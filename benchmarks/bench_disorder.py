"""Benchmark: exact disorder counts on antiperovskite supercells.

Target (issue 3): exact counts of inequivalent configurations for every n on a 3x3x3
antiperovskite supercell (27 halide sites) in under 5 s, symmetry search included.

Run:  PYTHONPATH=src python benchmarks/bench_disorder.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from thermogap.disorder.counting import count_inequivalent, sublattice_symmetry
from thermogap.disorder.enumeration import enumerate_disorder
from thermogap.structures.prototypes import antiperovskite
from thermogap.structures.solid_solution import make_supercell

TARGET_S = 5.0


def _counts(size: int) -> tuple[float, list[int], int]:
    start = time.perf_counter()
    supercell = make_supercell(antiperovskite(4.9), (size, size, size))
    symmetry = sublattice_symmetry(supercell, "Br")
    counts = count_inequivalent(symmetry.permutations)
    return time.perf_counter() - start, counts, symmetry.group_order


def _full(size: int) -> float:
    start = time.perf_counter()
    enumerate_disorder(antiperovskite(4.9), site="Br", species=("Br", "I"), supercell=(size,) * 3)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    for size in (2, 3, 4):
        times, counts, order = [], [], 0
        for _ in range(args.repeats):
            elapsed, counts, order = _counts(size)
            times.append(elapsed)
        n_sites = size**3
        print(
            f"{size}x{size}x{size}: N={n_sites:3d} sites, |G|={order:5d}, "
            f"sum of counts={sum(counts)}, max count={max(counts)}; "
            f"symmetry + exact counts for all n: median {statistics.median(times):.3f} s "
            f"(min {min(times):.3f} s)"
        )
        if size == 3:
            verdict = "PASS" if statistics.median(times) < TARGET_S else "FAIL"
            print(f"  target: 3x3x3 all-n exact counts < {TARGET_S} s -> {verdict}")

    for size in (2, 3):
        times = [_full(size) for _ in range(args.repeats)]
        print(
            f"{size}x{size}x{size}: counts + list (<=100) or sample 100 for every n "
            f"(default settings): median {statistics.median(times):.3f} s"
        )


if __name__ == "__main__":
    main()
