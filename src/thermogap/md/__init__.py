"""Molecular dynamics with MLIPs (Langevin NVT) and trajectory storage."""

from thermogap.md.batched import run_batched_langevin
from thermogap.md.langevin import load_trajectory, run_langevin, trajectory_id

__all__ = ["load_trajectory", "run_batched_langevin", "run_langevin", "trajectory_id"]
