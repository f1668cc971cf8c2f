"""Documents of MLIP training, evaluation and use (single point, relaxation, validation)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thermogap.schemas.base import ThermogapDocument
from thermogap.schemas.metrics import RegressionMetrics

__all__ = [
    "DatasetMetrics",
    "MaceTrainingSettings",
    "MlipModelDoc",
    "PhononValidationDoc",
    "RegressionMetrics",
    "RelaxationDoc",
    "SinglePointDoc",
    "MlipSplitMetrics",
]


class MaceTrainingSettings(BaseModel):
    """Settings of a MACE training or fine-tuning run (defaults: seed paper where it says).

    Loss weights 1/150/10 (energy/forces/stress) and the 95/5 train/validation split are the
    paper's. With a foundation model, the architecture (channels, ``r_max``, interactions,
    ...) is the foundation's and the architecture fields here are ignored by mace-torch.
    """

    model_config = ConfigDict(extra="forbid")

    num_channels: int = Field(128, ge=1, description="Number of equivariant channels.")
    max_l: int = Field(1, ge=0, le=3, description="Maximum symmetry order L of the messages.")
    max_ell: int = Field(3, ge=1, description="Maximum spherical-harmonics order of edges.")
    correlation: int = Field(3, ge=1, description="Body order of the product basis minus one.")
    r_max_ang: float = Field(6.0, gt=0, description="Radial cutoff, Å.")
    num_interactions: int = Field(2, ge=1, description="Number of message-passing layers.")
    num_radial_basis: int = Field(8, ge=1, description="Number of radial Bessel functions.")
    radial_mlp: list[int] = Field(
        default_factory=lambda: [64, 64, 64], description="Hidden sizes of the radial MLP."
    )
    mlp_irreps: str = Field("16x0e", description="Irreps of the readout MLP.")
    energy_weight: float = Field(1.0, ge=0, description="Energy loss weight (paper: 1).")
    forces_weight: float = Field(150.0, ge=0, description="Force loss weight (paper: 150).")
    stress_weight: float = Field(10.0, ge=0, description="Stress loss weight (paper: 10).")
    valid_fraction: float = Field(
        0.05, gt=0, lt=1, description="Fraction of non-test labels used for validation (paper: 5%)."
    )
    test_fraction: float = Field(
        0.05, ge=0, lt=1, description="Fraction of all labels held out as a test set."
    )
    max_num_epochs: int = Field(100, ge=1, description="Number of training epochs.")
    batch_size: int = Field(4, ge=1, description="Training batch size, configurations.")
    valid_batch_size: int = Field(4, ge=1, description="Validation batch size, configurations.")
    lr: float = Field(0.01, gt=0, description="Learning rate.")
    e0s: str = Field(
        "auto",
        description="Isolated-atom energies: 'average' (least squares on the training set), "
        "'foundation' (from the foundation model) or 'auto' (foundation when fine-tuning, "
        "else average).",
    )
    device: str = Field("cpu", description="Torch device: 'cpu' or 'cuda'.")
    default_dtype: Literal["float32", "float64"] = Field("float64", description="Precision.")
    seed: int = Field(0, description="Seed of the data split and of mace-torch.")
    num_threads: int = Field(2, ge=1, description="CPU threads of the training process.")
    finetuning: Literal["multihead", "naive"] = Field(
        "multihead",
        description="With a foundation model: mace-torch's multihead replay fine-tuning "
        "(replays replay_file on a second head so the foundation is not forgotten) or naive "
        "fine-tuning (all weights on the new data only).",
    )
    replay_file: str | None = Field(
        None,
        description="Replay (pre-training) data for multihead fine-tuning (mace --pt_train_file):"
        " a path, or a file name in $THERMOGAP_MODEL_DIR. Never downloaded.",
    )
    num_samples_pt: int = Field(
        10000, ge=1, description="Replay configurations sampled from replay_file (mace default)."
    )
    weight_pt_head: float = Field(1.0, ge=0, description="Loss weight of the replay head.")
    force_mh_ft_lr: bool = Field(
        False,
        description="Use lr/ema as given in multihead mode (mace otherwise sets lr 1e-4, EMA "
        "0.99999).",
    )
    ema: bool = Field(False, description="Exponential moving average of the weights.")
    ema_decay: float = Field(0.99, gt=0, lt=1, description="EMA decay.")
    extra_args: list[str] = Field(
        default_factory=list,
        description="Further mace_run_train arguments, appended verbatim (e.g. ['--ema']).",
    )


class MlipSplitMetrics(BaseModel):
    """Metrics of an MLIP on one data split (train, validation or test), per quantity."""

    n_configurations: int = Field(..., ge=0, description="Configurations in the split.")
    energy_per_atom: RegressionMetrics | None = Field(None, description="Energy, eV/atom.")
    forces: RegressionMetrics | None = Field(None, description="Force components, eV/Å.")
    stress: RegressionMetrics | None = Field(None, description="Stress components, eV/Å^3.")


#: The name documents written before the metrics schemas were unified carry in their
#: ``@class`` field; read them with it, write new code with :class:`MlipSplitMetrics`.
SplitMetrics = MlipSplitMetrics


class DatasetMetrics(BaseModel):
    """Metrics of one model on the train, validation and test splits."""

    train: MlipSplitMetrics | None = Field(None, description="Training split.")
    valid: MlipSplitMetrics | None = Field(None, description="Validation split.")
    test: MlipSplitMetrics | None = Field(None, description="Held-out test split.")


class MlipModelDoc(ThermogapDocument):
    """A trained MLIP: file, metrics and what it was trained on (``models`` collection)."""

    model_id: str = Field(..., description="Id of the model ('mace-' + first 16 hex of SHA-256).")
    kind: str = Field("mace", description="Model kind; picks the calculator loader.")
    sha256: str = Field(..., description="SHA-256 of the model file.")
    model_blob: dict[str, Any] = Field(..., description="BlobRef of the model file.")
    log_blob: dict[str, Any] | None = Field(None, description="BlobRef of the training log.")
    parity_blob: dict[str, Any] | None = Field(
        None,
        description="BlobRef of an npz with parity data: '<model>_<split>_<quantity>_ref/_pred' "
        "arrays; energy_per_atom eV/atom shape=(n_conf,), forces eV/Å shape=(n_conf*n_atoms*3,), "
        "stress eV/Å^3 shape=(n_conf*9,).",
    )
    plot_blobs: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="BlobRefs of parity plots (PNG) by plot name."
    )
    metrics: DatasetMetrics = Field(..., description="Metrics of the trained model.")
    foundation_metrics: DatasetMetrics | None = Field(
        None, description="Same metrics for the foundation model ('pre-trained vs fine-tuned')."
    )
    foundation_name: str | None = Field(None, description="Foundation model name, if fine-tuned.")
    foundation_sha256: str | None = Field(None, description="SHA-256 of the foundation file.")
    training_label_ids: list[str] = Field(
        default_factory=list, description="Ids of the training labels ('config_id:level')."
    )
    validation_label_ids: list[str] = Field(default_factory=list, description="Validation labels.")
    test_label_ids: list[str] = Field(default_factory=list, description="Held-out test labels.")
    levels: list[str] = Field(default_factory=list, description="Levels of theory of the labels.")
    settings: MaceTrainingSettings = Field(..., description="Training settings.")
    training_time_s: float | None = Field(None, description="Wall time of mace_run_train, s.")


class SinglePointDoc(ThermogapDocument):
    """Energy, forces and stress of one structure from an MLIP."""

    model_id: str = Field(..., description="Model that computed it.")
    structure: dict[str, Any] = Field(..., description="Structure (pymatgen as_dict).")
    energy_ev: float = Field(..., description="Total energy, eV.")
    energy_per_atom_ev: float = Field(..., description="Energy per atom, eV/atom.")
    forces_ev_per_ang: list[list[float]] = Field(..., description="Forces, eV/Å, (n_atoms, 3).")
    stress_ev_per_ang3: list[list[float]] | None = Field(
        None, description="Stress, eV/Å^3, (3, 3), ASE sign (positive = tensile)."
    )


class RelaxationDoc(ThermogapDocument):
    """A BFGS relaxation with an MLIP."""

    model_id: str = Field(..., description="Model used.")
    input_structure: dict[str, Any] = Field(..., description="Initial structure (as_dict).")
    structure: dict[str, Any] = Field(..., description="Relaxed structure (as_dict).")
    energy_ev: float = Field(..., description="Final total energy, eV.")
    energy_per_atom_ev: float = Field(..., description="Final energy per atom, eV/atom.")
    max_force_ev_per_ang: float = Field(..., description="Final maximum atomic force, eV/Å.")
    stress_ev_per_ang3: list[list[float]] | None = Field(
        None, description="Final stress, eV/Å^3, (3, 3), ASE sign."
    )
    fmax_ev_per_ang: float = Field(..., description="Convergence threshold on forces, eV/Å.")
    relax_cell: bool = Field(..., description="Whether the cell was relaxed too.")
    n_steps: int = Field(..., ge=0, description="Optimiser steps taken.")
    converged: bool = Field(..., description="Whether fmax was reached within max_steps.")
    energies_ev: list[float] = Field(default_factory=list, description="Energy per step, eV.")


class PhononValidationDoc(ThermogapDocument):
    """Harmonic phonons of an MLIP compared with a reference level."""

    model_id: str | None = Field(None, description="MLIP compared.")
    reference: str = Field(..., description="Reference level or engine name.")
    formula: str | None = Field(None, description="Reduced formula of the parent compound.")
    qpoints: list[list[float]] = Field(..., description="q-points, reduced coordinates, (n_q, 3).")
    frequencies_mlip_thz: list[list[float]] = Field(
        ..., description="MLIP frequencies, THz, (n_q, n_bands); imaginary as negative."
    )
    frequencies_reference_thz: list[list[float]] = Field(
        ..., description="Reference frequencies, THz, (n_q, n_bands); imaginary as negative."
    )
    frequency_mae_thz: float | None = Field(
        ..., description="Mean absolute frequency error, THz (None without frequencies)."
    )
    frequency_rmse_thz: float | None = Field(
        ..., description="Root-mean-square frequency error, THz (None without frequencies)."
    )
    frequency_r2: float | None = Field(
        ..., description="R² of MLIP vs reference frequencies (None if the reference is constant)."
    )
    imaginary_tolerance_thz: float = Field(
        ..., description="Frequencies below minus this are counted as imaginary, THz."
    )
    imaginary_qpoints_mlip: list[int] = Field(..., description="q indices with imaginary modes.")
    imaginary_qpoints_reference: list[int] = Field(..., description="Same for the reference.")
    n_imaginary_mlip: int = Field(..., ge=0, description="Number of imaginary (q, band) modes.")
    n_imaginary_reference: int = Field(..., ge=0, description="Same for the reference.")
    imaginary_agree: bool = Field(
        ..., description="True if both have imaginary modes at exactly the same q-points."
    )
