"""Cost of Eg(T) for one composition and temperature: MLIP + GNN against the reference engine.

The method replaces, for every MD step, a reference force evaluation by the MLIP, and for
every snapshot a reference band-gap calculation by the GNN. This script measures both on
the same 40-atom Ag3SBr0.5I0.5 cell and prints the cost of the seed paper's protocol
(40,000 steps of 1 fs, one snapshot every 100 fs after 4 ps) either way.

The models are taken from a store where the quick preset ran (``make demo`` writes
./thermogap-data).

Usage: python benchmarks/bench_speedup.py [--store thermogap-data] [--steps 100]
       [--reference-steps 20] [--reference-gaps 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from ase import units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.engines.embedded import cached_calculator, xtb_band_edges
from thermogap.gnn.bundle import load_gnn
from thermogap.gnn.inference import predict
from thermogap.mlip.calculator import calculator_from_model_id
from thermogap.store import ResultsDB
from thermogap.structures import load_structure, solid_solution_supercell
from thermogap.threads import limited_threads


def seconds_per_step(atoms, calculator, n_steps: int) -> float:
    atoms = atoms.copy()
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dyn = Langevin(atoms, 1 * units.fs, temperature_K=300, friction=5e-3 / units.fs)
    dyn.run(2)
    start = time.perf_counter()
    dyn.run(n_steps)
    return (time.perf_counter() - start) / n_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="thermogap-data")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--reference-steps", type=int, default=20)
    parser.add_argument("--reference-gaps", type=int, default=3)
    args = parser.parse_args()
    db = ResultsDB.from_spec(args.store)
    result = db.query_one("band_gaps", {"mlip_model_id": {"$ne": None}})
    if result is None:
        raise SystemExit(f"no band-gap results with models in {args.store}; run `make demo` first")
    cell = solid_solution_supercell(
        load_structure("Ag3SBr"), site="Br", species=("Br", "I"), supercell=(2, 2, 2), x=0.5
    )
    atoms = AseAtomsAdaptor.get_atoms(cell)
    n_steps, n_snapshots = 40_000, 360  # 40 ps; a snapshot every 100 fs after 4 ps
    with limited_threads(2):
        mlip_step = seconds_per_step(
            atoms, calculator_from_model_id(db, result["mlip_model_id"]), args.steps
        )
        bundle = load_gnn(db, result["gnn_model_id"])
        frames = [cell.copy() for _ in range(1000)]
        start = time.perf_counter()
        predict(bundle, frames)
        gnn_gap = (time.perf_counter() - start) / len(frames)
        ref_step = seconds_per_step(atoms, cached_calculator("chgnet"), args.reference_steps)
        start = time.perf_counter()
        for _ in range(args.reference_gaps):
            xtb_band_edges(atoms, method="IPEA1-xTB")
        ref_gap = (time.perf_counter() - start) / args.reference_gaps
    method = n_steps * mlip_step + n_snapshots * gnn_gap
    reference = n_steps * ref_step + n_snapshots * ref_gap
    print(f"per MD step:   MLIP {mlip_step * 1e3:8.2f} ms   CHGNet {ref_step * 1e3:8.2f} ms")
    print(f"per band gap:  GNN  {gnn_gap * 1e6:8.1f} us   reference (IPEA1-xTB) {ref_gap:8.2f} s")
    print(f"Eg(T) for one x and T ({n_steps} steps, {n_snapshots} snapshots):")
    print(
        f"  MLIP + GNN {method / 60:8.1f} min   reference engine {reference / 60:8.1f} min   "
        f"speed-up x{reference / method:.1f}"
    )


if __name__ == "__main__":
    main()
