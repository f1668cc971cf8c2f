"""Molecular dynamics with MLIPs (Langevin NVT) and trajectory storage."""

from thermogap.md.langevin import load_trajectory, run_langevin, trajectory_id

__all__ = ["load_trajectory", "run_langevin", "trajectory_id"]
