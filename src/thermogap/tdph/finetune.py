"""Fine-tune a universal MLIP on synthesised phonon data and measure what it changed.

CHGNet (weights inside its wheel) is the embedded default: :func:`finetune_chgnet` runs
CHGNet's own ``Trainer`` with a force-weighted loss. MACE from a foundation file goes through
:func:`thermogap.mlip.training.train_mace` (:func:`finetune_mace`). Phonon quality is judged
by :func:`phonon_frequency_mae` on held-out compounds (the paper: 1.09 → 0.28 THz for M3GNet).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from thermogap.errors import CalculationError, InputError
from thermogap.phonons.harmonic import compute_force_constants
from thermogap.tdph.synthetic import SyntheticConfiguration, to_ase_atoms

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator
    from phonopy import Phonopy

__all__ = [
    "FineTuneResult",
    "chgnet_from_state",
    "chgnet_state_bytes",
    "finetune_chgnet",
    "finetune_mace",
    "force_mae",
    "model_reference_energy",
    "phonon_frequency_mae",
]


def force_mae(configs: Sequence[SyntheticConfiguration], calculator: Calculator) -> float:
    """Mean absolute error of the calculator's forces against the labels, eV/Å."""
    if not configs:
        raise InputError("no configurations to evaluate")
    errors = []
    for c in configs:
        atoms = to_ase_atoms([c])[0]
        atoms.calc = calculator
        errors.append(np.abs(atoms.get_forces() - c.forces_ev_per_ang).ravel())
    return float(np.mean(np.concatenate(errors)))


def phonon_frequency_mae(reference: Phonopy, calculator: Calculator) -> float:
    """MAE (THz) of the calculator's harmonic frequencies against ``reference``.

    Both are compared at the q-points commensurate with the reference supercell, where the
    supercell force constants are exact; the calculator's force constants are computed by
    finite displacements in the same supercell.
    """
    from thermogap.phonons.anharmonic import commensurate_frequencies
    from thermogap.phonons.harmonic import phonopy_atoms_to_structure

    unit = phonopy_atoms_to_structure(reference.primitive)
    smat = np.rint(
        np.linalg.inv(np.asarray(reference.primitive_matrix, dtype=float))
        @ np.asarray(reference.supercell_matrix, dtype=float)
    ).astype(int)
    model = compute_force_constants(unit, calculator, supercell_matrix=smat)
    _, f_ref = commensurate_frequencies(reference)
    _, f_model = commensurate_frequencies(model)
    return float(np.mean(np.abs(f_model - f_ref)))


@dataclass
class FineTuneResult:
    """A fine-tuned model and its force errors on the synthetic data.

    Attributes
    ----------
    model : Any
        The fine-tuned model object (``chgnet.model.CHGNet``).
    calculator : ase.calculators.calculator.Calculator
        ASE calculator of the fine-tuned model.
    train_force_mae_before, train_force_mae_after : float
        Force MAE on the training configurations, eV/Å.
    val_force_mae_before, val_force_mae_after : float
        Force MAE on the validation configurations, eV/Å (nan without any).
    epochs : int
    """

    model: Any
    calculator: Any
    train_force_mae_before: float
    train_force_mae_after: float
    val_force_mae_before: float
    val_force_mae_after: float
    epochs: int


def _chgnet_data(configs: Sequence[SyntheticConfiguration]) -> Any:
    from chgnet.data.dataset import StructureData

    with contextlib.redirect_stdout(io.StringIO()):
        return StructureData(
            structures=[c.structure for c in configs],
            energies=[c.energy_ev / len(c.structure) for c in configs],  # CHGNet: eV/atom
            forces=[np.asarray(c.forces_ev_per_ang).tolist() for c in configs],
            shuffle=False,
        )


def finetune_chgnet(
    train: Sequence[SyntheticConfiguration],
    validation: Sequence[SyntheticConfiguration] = (),
    *,
    epochs: int = 5,
    learning_rate: float = 1e-4,
    force_loss_ratio: float = 10.0,
    energy_loss_ratio: float = 1.0,
    batch_size: int = 4,
    seed: int = 0,
    freeze_embeddings: bool = True,
    train_only: Sequence[str] | None = None,
    model_name: str = "0.3.0",
    work_dir: str | os.PathLike[str] | None = None,
) -> FineTuneResult:
    """Fine-tune the bundled CHGNet on synthetic (displacement, force) data.

    Parameters
    ----------
    train, validation : sequence of SyntheticConfiguration
        Training and validation configurations.
    epochs : int
        Training epochs (paper, M3GNet: 150).
    learning_rate : float
        Adam learning rate.
    force_loss_ratio : float
        Weight of the force term against the energy term of the loss (MAE criterion);
        phonons depend on forces only.
    energy_loss_ratio : float
        Weight of the energy term (0: forces only, as the paper's M3GNet fine-tuning). With
        a non-zero weight the synthetic energies must sit on the model's own energy scale
        (see :func:`model_reference_energy`), or the energy term drags the whole model.
    batch_size : int
    seed : int
        Torch and data seed.
    freeze_embeddings : bool
        Keep the atom/bond embedding layers fixed (only the interaction blocks and readout
        learn), which protects transferability on little data.
    train_only : sequence of str, optional
        Names of CHGNet sub-modules that learn (e.g. ``("mlp",)``, the readout); all
        others are frozen. Overrides ``freeze_embeddings``.
    model_name : str
        Bundled CHGNet version.
    work_dir : path, optional
        Where CHGNet writes its checkpoints (a temporary directory when omitted).
    """
    import torch
    from chgnet.data.dataset import collate_graphs
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator
    from chgnet.trainer import Trainer
    from torch.utils.data import DataLoader

    if not train:
        raise InputError("no training configurations")
    if epochs < 1:
        raise InputError(f"{epochs=} must be >= 1")
    with contextlib.redirect_stdout(io.StringIO()):
        model = CHGNet.load(model_name=model_name, use_device="cpu", verbose=False)
    base = CHGNetCalculator(model=model, use_device="cpu")
    before_train = force_mae(train, base)
    before_val = force_mae(validation, base) if validation else float("nan")
    if train_only is not None:
        modules = dict(model.named_children())
        unknown = sorted(set(train_only) - set(modules))
        if unknown or not train_only:
            raise InputError(
                f"{train_only=} must name CHGNet sub-modules; allowed: {', '.join(modules)}"
            )
        for name, module in modules.items():
            for p in module.parameters():
                p.requires_grad = name in train_only
    elif freeze_embeddings:
        for layer in (model.atom_embedding, model.bond_embedding, model.angle_embedding):
            for p in layer.parameters():
                p.requires_grad = False
    torch.manual_seed(seed)
    train_loader = DataLoader(
        _chgnet_data(train), batch_size=batch_size, shuffle=True, collate_fn=collate_graphs
    )
    val_loader = DataLoader(
        _chgnet_data(validation or train), batch_size=batch_size, collate_fn=collate_graphs
    )
    trainer = Trainer(
        model=model,
        targets="ef",
        energy_loss_ratio=energy_loss_ratio,
        force_loss_ratio=force_loss_ratio,
        optimizer="Adam",
        scheduler="CosLR",
        criterion="MAE",
        epochs=epochs,
        learning_rate=learning_rate,
        use_device="cpu",
        torch_seed=seed,
        data_seed=seed,
        print_freq=10**6,
    )
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        trainer.train(train_loader, val_loader, save_dir=str(work_dir or tmp))
    tuned = trainer.model
    if tuned is None:
        raise CalculationError("CHGNet's Trainer lost its model")
    tuned.eval()
    calc = CHGNetCalculator(model=tuned, use_device="cpu")
    return FineTuneResult(
        model=tuned,
        calculator=calc,
        train_force_mae_before=before_train,
        train_force_mae_after=force_mae(train, calc),
        val_force_mae_before=before_val,
        val_force_mae_after=force_mae(validation, calc) if validation else float("nan"),
        epochs=epochs,
    )


def model_reference_energy(phonon: Phonopy, calculator: Calculator) -> float:
    """Energy (eV) of the undisplaced supercell of ``phonon`` by ``calculator``.

    Synthetic labels ``E = E₀ + ½ uᵀΦu`` need an ``E₀``; the reference data (e.g. PBEsol
    force constants) carry none on the model's scale, so the model's own energy of the
    perfect supercell is used: the energy term then only asks for the harmonic rise.
    """
    from thermogap.phonons.harmonic import phonopy_atoms_to_ase

    atoms = phonopy_atoms_to_ase(phonon.supercell)
    atoms.calc = calculator
    return float(atoms.get_potential_energy())


def chgnet_state_bytes(model: Any) -> bytes:
    """Serialise a CHGNet model's parameters (``torch.save`` of its ``state_dict``)."""
    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def chgnet_from_state(state: bytes, model_name: str = "0.3.0") -> Calculator:
    """ASE calculator of a fine-tuned CHGNet rebuilt from :func:`chgnet_state_bytes` output.

    Parameters
    ----------
    state : bytes
        The saved ``state_dict`` of a CHGNet whose architecture is the bundled
        ``model_name`` (fine-tuning keeps the architecture).
    model_name : str
        Bundled CHGNet version the fine-tuning started from.

    Raises
    ------
    InputError
        If the bytes are not a state dict of that architecture.
    """
    import torch
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    with contextlib.redirect_stdout(io.StringIO()):
        model = CHGNet.load(model_name=model_name, use_device="cpu", verbose=False)
    try:
        weights = torch.load(io.BytesIO(state), map_location="cpu", weights_only=True)
        model.load_state_dict(weights)
    except Exception as exc:  # torch raises several types for a bad blob
        raise InputError(
            f"the model state ({len(state)} bytes) is not a CHGNet {model_name} state dict: "
            f"{type(exc).__name__}: {str(exc)[:200]}"
        ) from exc
    model.eval()
    return CHGNetCalculator(model=model, use_device="cpu")


def finetune_mace(
    configs: Sequence[SyntheticConfiguration],
    settings: Any,
    work_dir: str | os.PathLike[str],
    foundation: Any,
    timeout_s: float | None = None,
) -> Any:
    """Fine-tune MACE from a foundation file on the synthetic data (force-weighted loss).

    ``settings`` is a :class:`thermogap.schemas.mlip.MaceTrainingSettings` (set its force
    weight high, e.g. ``forces_weight=100``); ``foundation`` comes from
    :func:`thermogap.mlip.foundation.resolve_foundation_model`. Returns the
    :class:`thermogap.mlip.training.MaceTrainingResult`.
    """
    from thermogap.mlip.training import train_mace

    return train_mace(to_ase_atoms(configs), settings, work_dir, foundation, timeout_s)
