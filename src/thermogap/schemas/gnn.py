"""Documents of GNN property models: training settings, trained models, searches, studies.

Units: band gap and VBM in eV, energy per atom in eV/atom, hydrostatic stress in GPa
(``trace(σ)/3``, ASE sign).  The unit of a model's target is in ``target_unit``; every
metric of that model (MAE, RMSE) is in that unit, R² is dimensionless.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thermogap.schemas.base import ThermogapDocument
from thermogap.schemas.metrics import SplitMetrics

__all__ = [
    "DatasetStudyDoc",
    "DatasetStudyRow",
    "GNNDatasetDoc",
    "GNNExplanationDoc",
    "GNNMetrics",
    "GNNModelDoc",
    "GNNPredictionDoc",
    "GNNSearchDoc",
    "GNNSearchPoint",
    "GNNTrainingSettings",
    "GNNTransferDoc",
    "BondImportance",
    "SplitMetrics",
    "TrainingHistory",
]

TARGET_UNITS: dict[str, str] = {
    "band_gap": "eV",
    "energy_per_atom": "eV/atom",
    "vbm": "eV",
    "hydrostatic_stress": "GPa",
}


class GNNTrainingSettings(BaseModel):
    """Settings of one GNN training run (defaults: the seed papers' best band-gap model).

    Learning rate 1e-4 is in the range the hyperparameter study of seed 001 found best
    (1e-4 to 1e-5); batch size 128, 70/15/15 split and 600 epochs are that study's.
    """

    model_config = ConfigDict(extra="forbid")

    architecture: str = Field("benitez2026", description="Name in thermogap.gnn.ARCHITECTURES.")
    hidden_channels: int = Field(64, ge=1, description="GraphConv width h.")
    dropout: float = Field(
        0.4, ge=0.0, lt=1.0, description="Dropout probability on the pooled embedding."
    )
    learning_rate: float = Field(1e-4, gt=0.0, description="Adam learning rate.")
    batch_size: int = Field(128, ge=1, description="Graphs per optimisation step.")
    max_epochs: int = Field(600, ge=1, description="Upper bound on training epochs.")
    patience: int = Field(
        50, ge=1, description="Early stopping: epochs without a validation-loss improvement."
    )
    min_delta: float = Field(
        0.0,
        ge=0.0,
        description="Smallest decrease of the validation MSE (normalised) counted as improvement.",
    )
    split_fractions: tuple[float, float, float] = Field(
        (0.70, 0.15, 0.15), description="Train/validation/test fractions (sum 1)."
    )
    split_seed: int = Field(42, description="Seed of the random train/validation/test split.")
    model_seed: int = Field(12345, description="Seed of the weight initialisation and shuffling.")
    target: Literal["band_gap", "energy_per_atom", "vbm", "hydrostatic_stress"] = Field(
        "band_gap", description="Property learned; units in TARGET_UNITS."
    )


class GNNMetrics(BaseModel):
    """Metrics on the training, validation and test splits."""

    train: SplitMetrics = Field(default_factory=SplitMetrics, description="Training split.")
    validation: SplitMetrics = Field(default_factory=SplitMetrics, description="Validation split.")
    test: SplitMetrics = Field(default_factory=SplitMetrics, description="Test split.")


class TrainingHistory(BaseModel):
    """Loss curves (MSE of the min–max normalised target, dimensionless)."""

    train_loss: list[float] = Field(
        default_factory=list, description="Mean training loss per epoch."
    )
    validation_loss: list[float] = Field(
        default_factory=list, description="Validation loss per epoch."
    )
    best_epoch: int = Field(0, ge=0, description="1-based epoch whose weights were kept.")
    stopped_early: bool = Field(False, description="Whether early stopping ended training.")


class DatasetStudyRow(BaseModel):
    """One trained model of a dataset study evaluated on one test set."""

    train_dataset: str = Field(..., description="Dataset trained on.")
    train_size: int = Field(..., ge=1, description="Number of training structures.")
    seed: int = Field(..., description="Seed of subsampling, split and initialisation.")
    test_dataset: str = Field(..., description="Dataset whose held-out test set was used.")
    model_id: str | None = Field(None, description="Trained model id.")
    metrics: SplitMetrics = Field(default_factory=SplitMetrics, description="Test metrics.")


class GNNModelDoc(ThermogapDocument):
    """A trained GNN: document of the ``models`` collection (``kind="gnn"``).

    The weights, normalisation ranges and graph settings are one blob (``blob``) whose
    SHA-256 is ``sha256``. A training job returns this document with the bundle's bytes as
    ``artifacts``; :func:`thermogap.gnn.bundle.gnn_from_model` loads the model from it (and
    :func:`thermogap.gnn.load_gnn` from the built ``models`` collection); both verify the hash.
    """

    model_id: str = Field(..., description="Unique id ('gnn-' + first 16 hex digits of sha256).")
    kind: Literal["gnn"] = Field("gnn", description="Model kind in the models collection.")
    sha256: str = Field(..., description="SHA-256 of the serialised model bundle.")
    blob: dict[str, Any] = Field(..., description="BlobRef of the serialised bundle.")
    architecture: str = Field(..., description="Architecture name.")
    settings: GNNTrainingSettings = Field(..., description="Training settings.")
    graph_settings: dict[str, Any] = Field(
        ..., description="Cutoff (Å) and fixed feature/distance normalisation ranges."
    )
    target: str = Field(..., description="Learned property.")
    target_unit: str = Field(..., description="Unit of the target and of MAE/RMSE.")
    target_range: tuple[float, float] = Field(
        ..., description="(min, max) used to normalise the target, target unit."
    )
    levels: list[str] = Field(
        default_factory=list, description="Levels of theory of the training labels, in stage order."
    )
    training_config_ids: list[str] = Field(
        default_factory=list, description="config_id of the structures in the training split."
    )
    validation_config_ids: list[str] = Field(
        default_factory=list, description="Validation split ids."
    )
    test_config_ids: list[str] = Field(default_factory=list, description="Test split ids.")
    metrics: GNNMetrics = Field(default_factory=GNNMetrics, description="Per-split metrics.")
    history: TrainingHistory = Field(default_factory=TrainingHistory, description="Loss curves.")
    parent_model_id: str | None = Field(
        None, description="Model fine-tuned from (transfer learning stage A), if any."
    )
    parity_plot: dict[str, Any] | None = Field(None, description="BlobRef of a PNG parity plot.")
    evaluations: list[DatasetStudyRow] = Field(
        default_factory=list,
        description="Test metrics on the held-out sets of a dataset study's datasets (study "
        "models only; target unit).",
    )


class GNNTransferDoc(ThermogapDocument):
    """Two-stage transfer learning: level A (e.g. PBEsol) then fine-tuning on level B (HSEsol)."""

    stage_a: GNNModelDoc = Field(..., description="Model trained on level A.")
    stage_b: GNNModelDoc = Field(..., description="Model fine-tuned on level B from stage A.")
    stage_a_on_b_test: SplitMetrics = Field(
        default_factory=SplitMetrics,
        description="Stage-A model, unchanged, evaluated on the level-B test split (target unit).",
    )


class GNNDatasetDoc(ThermogapDocument):
    """A labelled dataset: labels of one level exported into one blob."""

    name: str = Field(..., description="Dataset name ('phonon', 'random', 'combined', ...).")
    level: str = Field(..., description="Level of theory of the labels.")
    target: str = Field(..., description="Property.")
    target_unit: str = Field(..., description="Unit of the target values.")
    n_structures: int = Field(..., ge=0, description="Number of labelled structures.")
    config_ids: list[str] = Field(
        default_factory=list, description="config_id of each record, in order."
    )
    blob: dict[str, Any] = Field(
        ..., description="BlobRef of JSON {config_ids, structures (as_dict), targets}."
    )
    test_config_ids: list[str] | None = Field(
        None, description="Ids held out for testing (set for combined datasets of a study)."
    )


class GNNSearchPoint(BaseModel):
    """One grid point of a hyperparameter search and its result."""

    architecture: str = Field(..., description="Architecture name.")
    learning_rate: float = Field(..., description="Adam learning rate.")
    hidden_channels: int = Field(..., description="GraphConv width.")
    dropout: float = Field(..., description="Dropout probability.")
    model_id: str | None = Field(None, description="Trained model id.")
    validation: SplitMetrics = Field(
        default_factory=SplitMetrics, description="Validation metrics."
    )
    test: SplitMetrics = Field(default_factory=SplitMetrics, description="Test metrics.")


class GNNSearchDoc(ThermogapDocument):
    """Hyperparameter search ranked by validation R² (best first)."""

    target: str = Field(..., description="Property.")
    target_unit: str = Field(..., description="Unit of MAE/RMSE.")
    n_points: int = Field(..., ge=0, description="Number of grid points trained.")
    ranking: list[GNNSearchPoint] = Field(
        default_factory=list, description="All points, sorted by validation R² descending."
    )
    best: GNNSearchPoint | None = Field(None, description="Best point (highest validation R²).")
    best_model_id: str | None = Field(None, description="Model id of the best point.")
    plot: dict[str, Any] | None = Field(
        None, description="BlobRef of a PNG of R² per hyperparameter."
    )


class DatasetStudyDoc(ThermogapDocument):
    """Seed 001's dataset study: learning curves and cross-testing over datasets."""

    target: str = Field(..., description="Property.")
    target_unit: str = Field(..., description="Unit of MAE/RMSE.")
    datasets: dict[str, int] = Field(default_factory=dict, description="Dataset name -> size.")
    rows: list[DatasetStudyRow] = Field(
        default_factory=list, description="All (model, test set) pairs."
    )
    table: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Mean and standard deviation over seeds of MAE/RMSE/R² per "
        "(train_dataset, train_size, test_dataset).",
    )
    plot: dict[str, Any] | None = Field(
        None, description="BlobRef of a PNG of the learning curves."
    )


class BondImportance(BaseModel):
    """Summary of the explainer's edge importances for one bond type (e.g. 'Ag-S')."""

    n_edges: int = Field(0, ge=0, description="Number of edges of this type explained.")
    mean: float | None = Field(None, description="Mean importance (0 least, 1 most relevant).")
    median: float | None = Field(None, description="Median importance.")
    q10: float | None = Field(None, description="10th percentile.")
    q90: float | None = Field(None, description="90th percentile.")
    fraction_significant: float | None = Field(
        None, description="Fraction of edges above the significance threshold."
    )


class GNNExplanationDoc(ThermogapDocument):
    """GNNExplainer edge importances aggregated by bond type."""

    model_id: str | None = Field(None, description="Explained model.")
    n_structures: int = Field(0, ge=0, description="Number of structures explained.")
    threshold: float = Field(0.86, description="Importance above which an edge is significant.")
    bond_types: dict[str, BondImportance] = Field(
        default_factory=dict, description="Summary per bond type, keys 'A-B' with A <= B."
    )
    importances: dict[str, Any] | None = Field(
        None, description="BlobRef of an npz with one array of importances per bond type."
    )
    plot: dict[str, Any] | None = Field(None, description="BlobRef of a PNG of the distributions.")


class GNNPredictionDoc(ThermogapDocument):
    """Predictions of a GNN for many structures (e.g. MD snapshots)."""

    model_id: str = Field(..., description="Model used.")
    model_sha256: str = Field(..., description="SHA-256 of the model bundle.")
    target: str = Field(..., description="Property predicted.")
    target_unit: str = Field(..., description="Unit of the predictions.")
    n_structures: int = Field(..., ge=0, description="Number of structures.")
    mean: float | None = Field(None, description="Mean prediction, target unit.")
    std: float | None = Field(
        None, description="Standard deviation of the predictions, target unit."
    )
    stderr: float | None = Field(
        None, description="Standard error of the mean (std/sqrt(n)), target unit."
    )
    values: list[float] | None = Field(
        None, description="The predictions, when few enough to inline."
    )
    values_blob: dict[str, Any] | None = Field(
        None, description="BlobRef of the predictions as a float64 .npy, shape=(n_structures,)."
    )
    trajectory_id: str | None = Field(None, description="MD trajectory the frames came from.")
    temperature_k: float | None = Field(None, description="Thermostat temperature of the MD, K.")
    x: float | None = Field(None, description="Composition x of the simulated solid solution.")
    md_steps: list[int] | None = Field(
        None, description="MD step of every predicted frame (trajectory input only)."
    )
