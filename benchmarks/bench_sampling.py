"""Benchmark: displaced 40-atom configurations per second (target: 10,000 in under 10 s).

Run with ``python benchmarks/bench_sampling.py [--n 10000] [--store]``.  Parent phonons of
Ag3SBr and Ag3SI come from CHGNet (weights in its wheel) and are not timed; everything after
them is: amplitudes (or the covariance basis), drawing the displacements, building the
``Structure.as_dict()`` of every configuration and the full configuration documents.
``--store`` also times the bulk upsert into an embedded results database.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from thermogap.engines import get_calculator
from thermogap.jobs.sampling import configuration_documents
from thermogap.phonons.harmonic import compute_force_constants
from thermogap.sampling.batch import sample_displacements
from thermogap.sampling.displacements import batch_rng
from thermogap.structures import load_structure, solid_solution_supercell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="configurations per scheme")
    parser.add_argument("--store", action="store_true", help="also time the database upsert")
    args = parser.parse_args()
    torch.set_num_threads(2)

    calc = get_calculator("chgnet")
    parents = [
        compute_force_constants(load_structure(name), calc, supercell_matrix=(2, 2, 2))
        for name in ("Ag3SBr", "Ag3SI")
    ]
    supercell = solid_solution_supercell(
        load_structure("Ag3SBr"),
        site="Br",
        species=("Br", "I"),
        x=0.5,
        substituted_sites=[1, 2, 4, 7],
    )
    print(
        f"supercell {supercell.composition.reduced_formula}, {len(supercell)} atoms, n = {args.n}"
    )
    print(f"{'scheme':<12}{'sample s':>10}{'dicts+docs s':>14}{'total s':>10}{'configs/s':>12}")
    for scheme, extra in [
        # the unrelaxed cubic parents are unstable: treat imaginary modes with |omega|
        ("phonon", {"temperature_k": 300.0, "mesh": (8, 8, 8), "soft_mode_treatment": "absolute"}),
        ("gaussian", {"temperature_k": 300.0, "soft_mode_treatment": "absolute"}),
        ("random", {"amplitude_ang": 0.3}),
    ]:
        start = time.perf_counter()
        batch = sample_displacements(
            supercell, scheme, args.n, batch_rng(0, scheme), parents=parents, **extra
        )
        sampled = time.perf_counter()
        docs = configuration_documents(
            supercell,
            batch,
            scheme=scheme,
            x=0.5,
            seed=0,
            temperature_k=extra.get("temperature_k"),
            amplitude_ang=extra.get("amplitude_ang"),
            parent_phonon_ids=["a", "b"] if scheme != "random" else [],
        )
        done = time.perf_counter()
        total = done - start
        print(
            f"{scheme:<12}{sampled - start:>10.3f}{done - sampled:>14.3f}{total:>10.3f}"
            f"{args.n / total:>12.0f}"
        )
        if args.store:
            from thermogap.store import ResultsDB

            with (
                tempfile.TemporaryDirectory() as tmp,
                ResultsDB.from_spec(Path(tmp) / "store") as db,
            ):
                t0 = time.perf_counter()
                db.upsert("configurations", docs, key="config_id")
                print(
                    f"{'':<12}upsert of {len(docs)} documents into the embedded store: "
                    f"{time.perf_counter() - t0:.2f} s"
                )


if __name__ == "__main__":
    main()
