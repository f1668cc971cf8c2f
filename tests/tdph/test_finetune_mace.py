"""MACE fine-tuning on synthetic phonon data, from a tiny MACE trained here as the foundation.

No foundation file ships with thermogap, so the test makes one: a tiny MACE (8 channels, one
interaction) trained from scratch for a few epochs on EMT-labelled rattled L1_2 Cu3Au cells
with the project's own :func:`thermogap.mlip.training.train_mace` (two elements: mace-torch's
fine-tuning cannot read the atomic energies of a one-element foundation). That file is then
fine-tuned on ``F = −Φu`` data whose Φ is EMT's harmonic Cu3Au force constants made 30 %
stiffer (a stand-in for a stiffer reference), and its forces must move towards ``−Φu``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.calculators.emt import EMT
from pymatgen.io.ase import AseAtomsAdaptor

from fixtures.crystals import l12_cu3au
from mlip.tiny_mace import TINY_SETTINGS
from thermogap.mlip.calculator import load_mace_calculator
from thermogap.mlip.foundation import resolve_foundation_model
from thermogap.mlip.training import train_mace
from thermogap.phonons.harmonic import compute_force_constants
from thermogap.schemas.mlip import MaceTrainingSettings
from thermogap.tdph.finetune import finetune_mace, force_mae
from thermogap.tdph.synthetic import synthetic_dataset

# the shared tiny MACE, without its epochs/learning rate (set per call below), in float64
TINY = {k: v for k, v in TINY_SETTINGS.items() if k not in ("max_num_epochs", "lr")} | {
    "default_dtype": "float64"
}


def _emt_rattled_cu3au(n: int, seed: int = 0) -> list:
    """Rattled, strained L1_2 Cu3Au cells (4 atoms) labelled with EMT (eV, eV/Å)."""
    rng = np.random.default_rng(seed)
    base = AseAtomsAdaptor.get_atoms(l12_cu3au())
    frames = []
    for _ in range(n):
        atoms = base.copy()
        atoms.set_cell(atoms.cell * rng.uniform(0.98, 1.02), scale_atoms=True)
        atoms.positions += rng.normal(scale=0.08, size=atoms.positions.shape)
        atoms.calc = EMT()
        atoms.info["REF_energy"] = atoms.get_potential_energy()
        atoms.arrays["REF_forces"] = atoms.get_forces()
        atoms.calc = None
        frames.append(atoms)
    return frames


@pytest.fixture(scope="module")
def tiny_foundation(tmp_path_factory):
    """A tiny MACE trained from scratch on EMT Cu3Au (a stand-in foundation model file)."""
    work = tmp_path_factory.mktemp("tiny_cu3au_mace")
    settings = MaceTrainingSettings(**TINY, max_num_epochs=15, lr=0.01)
    return train_mace(_emt_rattled_cu3au(60), settings, work)


def test_mace_finetuning_moves_forces_towards_minus_phi_u(tiny_foundation, tmp_path: Path) -> None:
    phonon = compute_force_constants(l12_cu3au(), EMT(), supercell_matrix=(2, 2, 2))
    phonon.force_constants = 1.3 * np.asarray(phonon.force_constants)
    foundation = resolve_foundation_model(tiny_foundation.model_path)
    base = load_mace_calculator(foundation.path, foundation.sha256)
    supercell = AseAtomsAdaptor.get_atoms(l12_cu3au()).repeat((2, 2, 2))
    supercell.calc = base
    e0 = float(supercell.get_potential_energy())  # the model's own energy at equilibrium
    train = synthetic_dataset(phonon, "Cu3Au", n_configs=12, reference_energy_ev=e0, seed=3)
    test = synthetic_dataset(phonon, "Cu3Au", n_configs=4, reference_energy_ev=e0, seed=4)
    before_train, before_test = force_mae(train, base), force_mae(test, base)

    settings = MaceTrainingSettings(
        **{**TINY, "valid_fraction": 0.2, "test_fraction": 0.0},
        max_num_epochs=20,
        lr=0.005,
        forces_weight=100.0,
        energy_weight=1.0,
        finetuning="naive",
    )
    result = finetune_mace(train, settings, tmp_path / "ft", foundation)
    tuned = load_mace_calculator(result.model_path, result.sha256)
    after_train, after_test = force_mae(train, tuned), force_mae(test, tuned)
    # −Φu is the independent reference: the synthetic labels, and unseen draws of them
    assert after_train < 0.7 * before_train
    assert after_test < 0.7 * before_test
    assert result.foundation_metrics is not None  # train_mace compared against the foundation
