"""Benchmark MACE training throughput and MD cost per step on CPU.

Prints
- training throughput, (training configurations × epochs) per second of mace_run_train wall
  time (includes the child process start-up, so it is a lower bound on the epoch rate);
- Langevin MD milliseconds per step for a 40-atom Ag3SBr 2x2x2 cell with the trained MACE
  model, beside the embedded reference engine (CHGNet) on the same cell.

Usage: PYTHONPATH=src:tests/mlip python benchmarks/bench_mlip.py [--configs 40] [--epochs 5]
       [--channels 32] [--steps 50] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from ase import units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from tiny_mace import ag3sbr_cell, rattled_ag3sbr_labels

from thermogap.engines import get_calculator
from thermogap.mlip.calculator import load_mace_calculator
from thermogap.mlip.training import train_mace
from thermogap.schemas.mlip import MaceTrainingSettings


def md_ms_per_step(calculator, n_steps: int) -> float:
    atoms = ag3sbr_cell() * (2, 2, 2)
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=300)
    dyn = Langevin(atoms, 1 * units.fs, temperature_K=300, friction=5e-3 / units.fs)
    dyn.run(2)  # warm-up (graph construction, first allocation)
    start = time.perf_counter()
    dyn.run(n_steps)
    return (time.perf_counter() - start) / n_steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    frames = rattled_ag3sbr_labels(args.configs)
    settings = MaceTrainingSettings(
        num_channels=args.channels,
        max_l=0,
        r_max_ang=5.0,
        max_num_epochs=args.epochs,
        radial_mlp=[32, 32],
        num_threads=args.threads,
        valid_fraction=0.1,
        test_fraction=0.1,
    )
    with tempfile.TemporaryDirectory() as work:
        result = train_mace(frames, settings, work)
        n_train = len(result.split.train)
        print(
            f"training: {n_train} configs x {args.epochs} epochs in {result.training_time_s:.1f} s"
            f" -> {n_train * args.epochs / result.training_time_s:.1f} config-epochs/s "
            f"(channels={args.channels}, threads={args.threads}, wall incl. process start)"
        )
        mace = load_mace_calculator(result.model_path, result.sha256)
        ms_mace = md_ms_per_step(mace, args.steps)
    ms_ref = md_ms_per_step(get_calculator("chgnet"), args.steps)
    print(
        f"MD, 40-atom Ag3SBr 2x2x2, {args.steps} steps: MACE {ms_mace:.1f} ms/step, "
        f"reference engine CHGNet {ms_ref:.1f} ms/step"
    )


if __name__ == "__main__":
    main()
