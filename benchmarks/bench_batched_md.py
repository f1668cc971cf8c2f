"""Replica-steps per second of batched Langevin MD against the ASE path, same MACE model.

Both paths run the same model in the same precision on the same number of threads, on the
40-atom Ag3SBr0.5I0.5 cell (2x2x2 supercell) of the quick preset's temperature study:

* ASE path: ``thermogap.md.langevin.run_langevin`` with mace-torch's ``MACECalculator``,
  one trajectory at a time (N trajectories cost N times one);
* batched path: ``thermogap.md.batched.run_batched_langevin`` with N replicas (each its own
  temperature and random stream) in one model call per step.

The model is the MLIP of a store where the quick preset ran (``--store``, e.g. after
``make demo``); without one, an untrained MACE with the quick preset's architecture
(16 channels, L=0, 2 interactions, r_max 5 Å, float32) is built in memory: the cost of a
step does not depend on the weights. Both paths write their frames to memory.

Prints a table, the breakdown of one profiled batched run (neighbour list, model,
integrator, I/O), the seed paper's MD grid (54 trajectories of 40 ps) and its Boltzmann
variant (3 configurations per x: 162 trajectories) projected from the measured rates, and
last ``speed-up at N=32: <ratio>x``.

Usage: python benchmarks/bench_batched_md.py [--store thermogap-data] [--threads 1]
       [--steps 20] [--ase-steps 20] [--sizes 1 8 32 64] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.md.batched import (
    MaceBatchEvaluator,
    MemoryTrajectorySink,
    Replica,
    run_batched_langevin,
)
from thermogap.md.langevin import run_langevin
from thermogap.mlip.calculator import contained_mace_import
from thermogap.schemas.md import LangevinSettings
from thermogap.structures import load_structure, solid_solution_supercell
from thermogap.threads import limited_threads

PAPER_STEPS = 40_000  # 40 ps of 1 fs
PAPER_TRAJECTORIES = 9 * 6  # 9 compositions x 6 temperatures above 0 K


def quick_architecture_mace(atoms) -> torch.nn.Module:
    """An untrained ScaleShiftMACE shaped like the quick preset's model (float32)."""
    with contained_mace_import():
        # mace first: it sets the variable under which e3nn's own torch.load works
        from mace import modules  # noqa: I001

        from e3nn import o3

    torch.manual_seed(0)
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    numbers = sorted({16, 35, 47, 53})
    distances = atoms.get_all_distances(mic=True)
    neighbours = float(((distances > 0) & (distances < 5.0)).sum(axis=1).mean())
    return modules.ScaleShiftMACE(
        r_max=5.0,
        num_bessel=8,
        num_polynomial_cutoff=5,
        max_ell=1,
        interaction_cls=block,
        interaction_cls_first=block,
        num_interactions=2,
        num_elements=len(numbers),
        hidden_irreps=o3.Irreps("16x0e"),
        MLP_irreps=o3.Irreps("16x0e"),
        atomic_energies=np.zeros(len(numbers)),
        avg_num_neighbors=neighbours,
        atomic_numbers=numbers,
        correlation=2,
        gate=torch.nn.functional.silu,
        radial_MLP=[16, 16],
        atomic_inter_scale=1.0,
        atomic_inter_shift=0.0,
    ).float()


def stored_mace(store: str) -> torch.nn.Module:
    """The MLIP of the first band-gap result in ``store`` (hash-checked)."""
    from thermogap.mlip.calculator import load_mace_model, materialise_model_file
    from thermogap.store import ResultsDB

    db = ResultsDB.from_spec(store)
    result = db.query_one("band_gaps", {"mlip_model_id": {"$ne": None}})
    if result is None:
        raise SystemExit(f"no band-gap results with models in {store}; run `make demo` first")
    path, doc = materialise_model_file(db, result["mlip_model_id"])
    return load_mace_model(path, expected_sha256=doc["sha256"])


def ase_seconds_per_step(model, atoms, n_steps: int, dtype: str) -> float:
    with contained_mace_import():
        from mace.calculators import MACECalculator

    previous = torch.get_default_dtype()  # MACECalculator sets it globally
    try:
        calc = MACECalculator(models=model, device="cpu", default_dtype=dtype)
        warm = LangevinSettings(total_time_ps=0.02, save_interval_steps=10)
        run_langevin(atoms, calc, 300.0, warm, MemoryTrajectorySink(), progress=False)
        settings = LangevinSettings(total_time_ps=n_steps / 1000, save_interval_steps=10)
        start = time.perf_counter()
        run_langevin(atoms, calc, 300.0, settings, MemoryTrajectorySink(), progress=False)
        return (time.perf_counter() - start) / n_steps
    finally:
        torch.set_default_dtype(previous)


def batched_run(evaluator, atoms, n_replicas: int, n_steps: int, profile: bool = False):
    """Run N replicas (100-600 K) for ``n_steps`` steps with a warmed-up evaluator."""
    replicas = [
        Replica(atoms, 100.0 + 500.0 * k / max(n_replicas - 1, 1), MemoryTrajectorySink(), seed=k)
        for k in range(n_replicas)
    ]
    settings = LangevinSettings(total_time_ps=n_steps / 1000, save_interval_steps=10)
    return run_batched_langevin(evaluator, replicas, settings, progress=False, profile=profile)


def hours(seconds: float) -> str:
    return f"{seconds / 3600:7.2f} h"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20, help="batched steps per size")
    parser.add_argument("--ase-steps", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    if args.steps % 10 or args.ase_steps % 10:
        raise SystemExit("--steps and --ase-steps must be multiples of 10 (the saving interval)")

    cell = solid_solution_supercell(
        load_structure("Ag3SBr"), site="Br", species=("Br", "I"), supercell=(2, 2, 2), x=0.5
    )
    atoms = AseAtomsAdaptor.get_atoms(cell)
    model = stored_mace(args.store) if args.store else quick_architecture_mace(atoms)
    source = args.store or "untrained, quick-preset architecture"
    print(f"model: MACE ({source}), {args.dtype}; cell: {len(atoms)} atoms {cell.formula}")
    print(
        f"threads: {args.threads}; device: {args.device}; load average at start: "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs"
    )

    with limited_threads(args.threads):
        ase_step = ase_seconds_per_step(model, atoms, args.ase_steps, args.dtype)
        print(f"\nASE path: {ase_step * 1e3:.2f} ms per step ({1 / ase_step:.1f} replica-steps/s)")
        print(f"{'N':>4} {'ms/replica-step':>16} {'replica-steps/s':>16} {'speed-up':>9}")
        per_replica: dict[int, float] = {}
        evaluators = {}
        for n in args.sizes:
            # one evaluator per size, warmed up first (torch's first calls are slow)
            evaluators[n] = MaceBatchEvaluator(
                model, [atoms] * n, dtype=args.dtype, device=args.device
            )
            batched_run(evaluators[n], atoms, n, 20)
            report = batched_run(evaluators[n], atoms, n, args.steps)
            per_replica[n] = report.wall_time_s / report.replica_steps
            print(
                f"{n:4d} {per_replica[n] * 1e3:16.2f} {1 / per_replica[n]:16.1f} "
                f"{ase_step / per_replica[n]:8.1f}x"
            )
        n_profile = 32 if 32 in args.sizes else max(args.sizes)
        report = batched_run(evaluators[n_profile], atoms, n_profile, args.steps, True)
    total = sum(report.seconds.values())
    print(
        f"\none batched step at N={n_profile} ({report.batched_steps} steps profiled, "
        f"{report.neighbour_rebuilds} neighbour-list builds, "
        f"{1e3 * report.wall_time_s / report.batched_steps:.1f} ms per step):"
    )
    for part, seconds in report.seconds.items():
        print(
            f"  {part:15s} {1e3 * seconds / report.batched_steps:8.2f} ms  "
            f"{100 * seconds / total:5.1f} %"
        )

    largest = max(per_replica)
    paper = PAPER_TRAJECTORIES * PAPER_STEPS
    print(
        f"\nseed paper's MD grid, {PAPER_TRAJECTORIES} x 40 ps ({paper:.3g} replica-steps), "
        f"projected from the rates above:"
    )
    print(f"  ASE path, one trajectory at a time: {hours(paper * ase_step)}")
    print(f"  batched at N={largest} per batch:       {hours(paper * per_replica[largest])}")
    boltzmann = 3 * paper
    print(f"Boltzmann selection, 3 configurations per x ({3 * PAPER_TRAJECTORIES} x 40 ps):")
    print(f"  ASE path:                           {hours(boltzmann * ase_step)}")
    print(f"  batched at N={largest} per batch:       {hours(boltzmann * per_replica[largest])}")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if 32 in per_replica:
        print(f"speed-up at N=32: {ase_step / per_replica[32]:.1f}x")


if __name__ == "__main__":
    main()
