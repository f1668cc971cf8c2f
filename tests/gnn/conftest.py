"""Fixtures of the GNN tests: a small synthetic dataset and a model trained on it once."""

from __future__ import annotations

import pytest
import torch

from thermogap.gnn.training import train_gnn
from thermogap.schemas.gnn import GNNTrainingSettings

from .synthetic import make_dataset

# Two cores are shared by several test runs here; one intra-op thread avoids the
# OpenMP oversubscription that makes these tiny models ~5x slower.
torch.set_num_threads(1)

#: Tiny but learnable settings: a few seconds on two cores.
TINY = GNNTrainingSettings(
    hidden_channels=16, dropout=0.0, learning_rate=1e-2, batch_size=24, max_epochs=40, patience=10
)


@pytest.fixture(scope="session")
def synthetic_data():
    """120 rattled, strained Ag6S2(Br,I)2 cells and their synthetic gaps (eV)."""
    return make_dataset(120, seed=1)


@pytest.fixture(scope="session")
def trained(synthetic_data):
    """A benitez2026-shaped model (h=16) trained on the synthetic data."""
    structures, gaps = synthetic_data
    return train_gnn(structures, gaps, TINY, levels=["synthetic"])
