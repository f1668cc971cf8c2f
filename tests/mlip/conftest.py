"""Session fixtures: CHGNet-labelled Ag3SBr configurations and a tiny MACE trained on them.

The model is tiny (8 channels, L=0, one interaction, r_max 4 Å) and trains in ~10 s on CPU;
it is a real mace-torch model used by every MLIP and MD test instead of a mock.
"""

from __future__ import annotations

import pytest
import torch
from tiny_mace import TINY_SETTINGS, rattled_ag3sbr_labels

from thermogap.mlip.training import train_mace
from thermogap.schemas.mlip import MaceTrainingSettings

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def labelled_configurations():
    """30 CHGNet-labelled rattled Ag3SBr cells."""
    return rattled_ag3sbr_labels(30)


@pytest.fixture(scope="session")
def tiny_settings():
    """Settings of the tiny MACE model."""
    return MaceTrainingSettings(**TINY_SETTINGS)


@pytest.fixture(scope="session")
def tiny_mace(labelled_configurations, tiny_settings, tmp_path_factory):
    """A tiny MACE model trained from scratch (a :class:`MaceTrainingResult`)."""
    work = tmp_path_factory.mktemp("tiny_mace")
    return train_mace(labelled_configurations, tiny_settings, work)
