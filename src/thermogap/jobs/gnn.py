"""jobflow Makers for GNN property models: datasets, training, searches, studies, inference.

Data move between jobs by reference: a dataset job exports labels into one blob
(:class:`~thermogap.schemas.gnn.GNNDatasetDoc`), training jobs read it and write the model
to the blob store and the ``models`` collection, and later jobs load the model by id
(``load_gnn`` verifies its SHA-256).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jobflow import Maker
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.gnn.storage import (  # names once defined here are re-exported
    LABELS_COLLECTION,
    as_document,
    export_labels,
    load_dataset,
    model_document_fields,
    store_dataset,
    store_predictions,
)
from thermogap.schemas.base import make_provenance
from thermogap.schemas.gnn import (
    BondImportance,
    DatasetStudyDoc,
    DatasetStudyRow,
    GNNDatasetDoc,
    GNNExplanationDoc,
    GNNModelDoc,
    GNNPredictionDoc,
    GNNSearchDoc,
    GNNSearchPoint,
    GNNTrainingSettings,
    GNNTransferDoc,
)
from thermogap.splits import split_with_held_out_test
from thermogap.store import collections as names

__all__ = [
    "LABELS_COLLECTION",
    "DatasetStudySummaryMaker",
    "DatasetStudyTrainMaker",
    "GNNCombineDatasetsMaker",
    "GNNDatasetMaker",
    "GNNExplainMaker",
    "GNNPredictMaker",
    "GNNSearchSummaryMaker",
    "GNNTrainMaker",
    "GNNTransferSummaryMaker",
    "export_labels",
    "load_dataset",
]


# --------------------------------------------------------------------------------------------
# helpers shared by the Makers (thin: the science is in thermogap.gnn)
# --------------------------------------------------------------------------------------------
def _db() -> Any:
    from thermogap.store import current_db

    return current_db()


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------
@dataclass
class GNNDatasetMaker(Maker):
    """Export ``ok`` labels of one level of theory into a GNN dataset blob.

    Parameters
    ----------
    name
        Job name.
    target
        Property: ``band_gap`` (eV), ``energy_per_atom`` (eV/atom), ``vbm`` (eV),
        ``hydrostatic_stress`` (GPa).

    Examples
    --------
    >>> job = GNNDatasetMaker().make(level="hsesol", dataset_name="phonon",
    ...                              criteria={"scheme": "phonon"})
    """

    name: str = "gnn dataset"
    target: str = "band_gap"

    @tg_job(reuse=False)  # selects labels from the database: new labels must be seen
    def make(
        self,
        level: str,
        dataset_name: str = "dataset",
        criteria: dict[str, Any] | None = None,
        config_ids: list[str] | None = None,
    ) -> GNNDatasetDoc:
        """Collect the labels of ``level`` matching ``criteria`` (and ``config_ids`` if given)."""
        db = _db()
        labelled = export_labels(db, level, self.target, dataset_name, criteria, config_ids)
        return store_dataset(db, dataset_name, level, self.target, labelled)


@dataclass
class GNNCombineDatasetsMaker(Maker):
    """Union of datasets whose test set is the union of the components' held-out sets.

    Parameters
    ----------
    name
        Job name.
    n_test
        Held-out structures per component dataset (seed 001: 250).
    test_seed
        Seed of the held-out selection (shared with the study's training jobs).
    """

    name: str = "gnn combine datasets"
    n_test: int = 250
    test_seed: int = 0

    @tg_job
    def make(self, datasets: list[GNNDatasetDoc], dataset_name: str = "combined") -> GNNDatasetDoc:
        """Merge ``datasets`` (same level and target) into ``dataset_name``."""
        from thermogap.gnn.dataset_study import combine_sets

        db = _db()
        docs = [as_document(d, GNNDatasetDoc) for d in datasets]
        if len({(d.level, d.target) for d in docs}) != 1:
            raise InputError(
                f"datasets mix levels/targets {sorted({(d.level, d.target) for d in docs})}"
            )
        merged = combine_sets(
            [load_dataset(db, d) for d in docs], self.n_test, self.test_seed, dataset_name
        )
        return store_dataset(db, dataset_name, docs[0].level, docs[0].target, merged)


# --------------------------------------------------------------------------------------------
# training, transfer, search
# --------------------------------------------------------------------------------------------
@dataclass
class GNNTrainMaker(Maker):
    """Train (or fine-tune) a GNN on a dataset and store it in the ``models`` collection.

    Parameters
    ----------
    name
        Job name.
    settings
        Architecture, hyperparameters, split and seeds (defaults: seed paper's best model).
    cutoff_ang
        Graph radius cutoff, Å (ignored when fine-tuning: the initial model's is kept).
    parity_plot
        Store a PNG parity plot in the blob store.
    num_threads
        torch intra-op threads while training (``None``: torch's default).

    Examples
    --------
    >>> dataset = GNNDatasetMaker().make(level="pbesol")
    >>> train = GNNTrainMaker().make(dataset.output)
    """

    name: str = "gnn train"
    settings: GNNTrainingSettings = field(default_factory=GNNTrainingSettings)
    cutoff_ang: float = 5.5
    parity_plot: bool = True
    num_threads: int | None = None

    @tg_job
    def make(self, dataset: GNNDatasetDoc, initial_model_id: str | None = None) -> GNNModelDoc:
        """Train on ``dataset``; with ``initial_model_id`` start from that model's weights."""
        from thermogap.gnn.bundle import load_gnn, save_gnn
        from thermogap.gnn.graphs import GraphSettings
        from thermogap.gnn.plots import parity_png
        from thermogap.gnn.training import train_gnn
        from thermogap.threads import limited_threads

        db = _db()
        dataset = as_document(dataset, GNNDatasetDoc)
        if dataset.target != self.settings.target:
            raise InputError(
                f"dataset target {dataset.target!r} != settings.target {self.settings.target!r}"
            )
        data = load_dataset(db, dataset)
        initial = load_gnn(db, initial_model_id) if initial_model_id else None
        with limited_threads(self.num_threads):
            result = train_gnn(
                data.structures,
                data.targets,
                self.settings,
                graph_settings=None if initial else GraphSettings(cutoff_ang=self.cutoff_ang),
                ids=data.ids,
                levels=[dataset.level],
                split=split_with_held_out_test(
                    data.ids,
                    dataset.test_config_ids,
                    self.settings.split_fractions,
                    self.settings.split_seed,
                    min_train=2,
                ),
                initial=initial,
            )
        parity_ref = None
        if self.parity_plot:
            label = f"{dataset.target} ({dataset.target_unit})"
            parity_ref = db.blobs.put_bytes(
                parity_png(result.parity, label), kind="png", filename="parity.png"
            )
        return save_gnn(
            db,
            result.bundle,
            model_document_fields(result, parity_ref, self.settings, initial_model_id),
        )


@dataclass
class GNNTransferSummaryMaker(Maker):
    """Report both stages of transfer learning and the stage-A baseline on level-B data."""

    name: str = "gnn transfer summary"

    @tg_job
    def make(
        self, stage_a: GNNModelDoc, stage_b: GNNModelDoc, dataset_b: GNNDatasetDoc
    ) -> GNNTransferDoc:
        """Evaluate the stage-A model on the stage-B test split and assemble the document."""
        from thermogap.gnn.bundle import load_gnn
        from thermogap.gnn.inference import predict
        from thermogap.gnn.training import regression_metrics

        db = _db()
        stage_a, stage_b = as_document(stage_a, GNNModelDoc), as_document(stage_b, GNNModelDoc)
        structures, targets, _ = load_dataset(db, dataset_b).subset(stage_b.test_config_ids)
        baseline = regression_metrics(predict(load_gnn(db, stage_a.model_id), structures), targets)
        return GNNTransferDoc(
            stage_a=stage_a,
            stage_b=stage_b,
            stage_a_on_b_test=baseline,
            provenance=make_provenance(
                level=stage_b.levels[-1] if stage_b.levels else None,
                model_id=stage_b.model_id,
                model_sha256=stage_b.sha256,
            ),
        )


@dataclass
class GNNSearchSummaryMaker(Maker):
    """Rank the models of a hyperparameter search by validation R² and record the best."""

    name: str = "gnn search summary"

    @tg_job
    def make(self, results: list[GNNModelDoc]) -> GNNSearchDoc:
        """Rank ``results`` (one model document per grid point)."""
        from thermogap.gnn.plots import search_png
        from thermogap.gnn.search import rank_points

        docs = [as_document(r, GNNModelDoc) for r in results]
        if not docs:
            raise InputError("a hyperparameter search needs at least one trained model")
        points = [
            GNNSearchPoint(
                architecture=d.architecture,
                learning_rate=d.settings.learning_rate,
                hidden_channels=d.settings.hidden_channels,
                dropout=d.settings.dropout,
                model_id=d.model_id,
                validation=d.metrics.validation,
                test=d.metrics.test,
            )
            for d in docs
        ]
        ranking = rank_points(points)
        plot = search_png([{**p.model_dump(), "r2": p.validation.r2} for p in points])
        ref = _db().blobs.put_bytes(plot, kind="png", filename="search.png")
        best = ranking[0]
        return GNNSearchDoc(
            target=docs[0].target,
            target_unit=docs[0].target_unit,
            n_points=len(points),
            ranking=ranking,
            best=best,
            best_model_id=best.model_id,
            plot=ref.model_dump(),
            provenance=make_provenance(model_id=best.model_id),
        )


# --------------------------------------------------------------------------------------------
# dataset study
# --------------------------------------------------------------------------------------------
@dataclass
class DatasetStudyTrainMaker(Maker):
    """Train one learning-curve model of a dataset study and cross-test it.

    Parameters
    ----------
    name
        Job name.
    settings
        Training settings (the split is made by the study).
    cutoff_ang
        Graph radius cutoff, Å.
    n_test
        Held-out structures per dataset.
    test_seed
        Seed of the held-out selection.
    num_threads
        torch intra-op threads while training (``None``: torch's default).
    """

    name: str = "gnn dataset study train"
    settings: GNNTrainingSettings = field(default_factory=GNNTrainingSettings)
    cutoff_ang: float = 5.5
    n_test: int = 250
    test_seed: int = 0
    num_threads: int | None = None

    @tg_job
    def make(
        self, train_dataset: str, datasets: list[GNNDatasetDoc], train_size: int, seed: int
    ) -> list[dict[str, Any]]:
        """Train on ``train_size`` structures of ``train_dataset``; evaluate on every dataset."""
        from thermogap.gnn.bundle import save_gnn
        from thermogap.gnn.dataset_study import train_study_model
        from thermogap.gnn.graphs import GraphSettings
        from thermogap.threads import limited_threads

        db = _db()
        sets = {}
        for d in datasets:
            d = as_document(d, GNNDatasetDoc)
            sets[d.name] = load_dataset(db, d)
        if train_dataset not in sets:
            raise InputError(f"{train_dataset=} not among the study's datasets {sorted(sets)}")
        with limited_threads(self.num_threads):
            result, rows = train_study_model(
                sets[train_dataset],
                sets,
                train_size,
                seed,
                self.settings,
                self.n_test,
                GraphSettings(cutoff_ang=self.cutoff_ang),
                self.test_seed,
            )
        model = save_gnn(
            db, result.bundle, model_document_fields(result, None, self.settings, None)
        )
        return [row.model_copy(update={"model_id": model.model_id}).model_dump() for row in rows]


@dataclass
class DatasetStudySummaryMaker(Maker):
    """Assemble a dataset study: table of seed-averaged metrics and learning-curve plot."""

    name: str = "gnn dataset study summary"

    @tg_job
    def make(
        self, rows: list[list[dict[str, Any]]], datasets: list[GNNDatasetDoc]
    ) -> DatasetStudyDoc:
        """Collect the rows of every training job."""
        from thermogap.gnn.dataset_study import summarise_rows
        from thermogap.gnn.plots import learning_curves_png

        flat = [DatasetStudyRow.model_validate(r) for group in rows for r in group]
        docs = [as_document(d, GNNDatasetDoc) for d in datasets]
        table = summarise_rows(flat)
        unit = docs[0].target_unit if docs else "eV"
        ref = _db().blobs.put_bytes(
            learning_curves_png(table, unit), kind="png", filename="dataset_study.png"
        )
        return DatasetStudyDoc(
            target=docs[0].target if docs else "band_gap",
            target_unit=unit,
            datasets={d.name: d.n_structures for d in docs},
            rows=flat,
            table=table,
            plot=ref.model_dump(),
            provenance=make_provenance(level=docs[0].level if docs else None),
        )


# --------------------------------------------------------------------------------------------
# explainability and inference
# --------------------------------------------------------------------------------------------
@dataclass
class GNNExplainMaker(Maker):
    """GNNExplainer edge importances of a model, aggregated by bond type.

    Parameters
    ----------
    name
        Job name.
    epochs
        Mask-optimisation steps per structure.
    max_structures
        Explain at most this many structures of the dataset (its test split first).
    threshold
        Importance above which an edge counts as significant (seed 001: 0.86).
    seed
        Seed of the mask initialisation.
    """

    name: str = "gnn explain"
    epochs: int = 100
    max_structures: int = 50
    threshold: float = 0.86
    seed: int = 0

    @tg_job
    def make(self, model_id: str, dataset: GNNDatasetDoc) -> GNNExplanationDoc:
        """Explain ``model_id`` on structures of ``dataset`` (the model's test split first)."""
        from thermogap.gnn.bundle import load_gnn
        from thermogap.gnn.explain import (
            aggregate_by_bond_type,
            explain_structures,
            summarise_importances,
        )
        from thermogap.gnn.plots import importance_png

        db = _db()
        bundle = load_gnn(db, model_id)
        data = load_dataset(db, dataset)
        model_doc = (
            db.query_one(names.MODELS, {"model_id": model_id}, properties=["test_config_ids"]) or {}
        )
        available = set(data.ids)
        preferred = [k for k in model_doc.get("test_config_ids", []) if k in available]
        taken = set(preferred)
        chosen = (preferred + [k for k in data.ids if k not in taken])[: self.max_structures]
        structures, _, _ = data.subset(chosen)
        groups = aggregate_by_bond_type(
            explain_structures(bundle, structures, self.epochs, seed=self.seed)
        )
        summary = summarise_importances(groups, self.threshold)
        arrays_ref = db.blobs.put_arrays(
            {k: v.astype(float) for k, v in groups.items()}, kind="gnn_importances"
        )
        plot_ref = db.blobs.put_bytes(
            importance_png(groups, self.threshold), kind="png", filename="importance.png"
        )
        return GNNExplanationDoc(
            model_id=model_id,
            n_structures=len(structures),
            threshold=self.threshold,
            bond_types={k: BondImportance(**v) for k, v in summary.items()},
            importances=arrays_ref.model_dump(),
            plot=plot_ref.model_dump(),
            provenance=make_provenance(model_id=model_id, model_sha256=bundle.sha256),
        )


@dataclass
class GNNPredictMaker(Maker):
    """Predict a property (band gap) for many structures, e.g. MD snapshots, in batches.

    Parameters
    ----------
    name
        Job name.
    batch_size
        Structures per forward pass.
    inline_limit
        Inline the predictions in the document when there are at most this many (they are
        always in the blob store too).

    Examples
    --------
    >>> from thermogap.structures import load_structure
    >>> snapshots = [load_structure("Ag3SBr")]
    >>> job = GNNPredictMaker().make(model_id="gnn-0123456789abcdef", structures=snapshots)
    >>> job = GNNPredictMaker().make(model_id="gnn-0123456789abcdef", trajectory_id="md-...",
    ...                              skip_frames=100, stride=2)
    """

    name: str = "gnn predict"
    batch_size: int = 64
    inline_limit: int = 10_000

    @tg_job
    def make(
        self,
        model_id: str,
        structures: list[Structure] | None = None,
        structures_blob: dict[str, Any] | None = None,
        trajectory_id: str | None = None,
        skip_frames: int = 0,
        stride: int = 1,
    ) -> GNNPredictionDoc:
        """Predict for structures, a structures blob, or the frames of an MD trajectory.

        Give exactly one of ``structures``; ``structures_blob`` (a blob holding a JSON list
        of ``Structure.as_dict()``); or ``trajectory_id`` (frames after the first
        ``skip_frames``, every ``stride``-th one).
        """
        from thermogap.gnn.bundle import load_gnn
        from thermogap.gnn.inference import predict, predict_frames

        db = _db()
        given = [structures is not None, structures_blob is not None, trajectory_id is not None]
        if sum(given) != 1:
            raise InputError("give exactly one of structures, structures_blob or trajectory_id")
        if skip_frames < 0 or stride < 1:
            raise InputError(f"{skip_frames=} must be >= 0 and {stride=} >= 1")
        bundle = load_gnn(db, model_id)
        extra: dict[str, Any] = {}
        if trajectory_id is not None:
            from thermogap.md.langevin import load_trajectory

            trajectory = load_trajectory(db, trajectory_id)
            start = Structure.from_dict(trajectory.doc.structure)
            positions = trajectory.arrays["positions_ang"][skip_frames::stride]
            values = predict_frames(
                bundle,
                start.lattice.matrix,
                positions,
                np.array([site.specie.Z for site in start]),
                self.batch_size,
            )
            extra = {
                "trajectory_id": trajectory_id,
                "temperature_k": trajectory.doc.temperature_k,
                "x": trajectory.doc.x,
                "md_steps": [int(v) for v in trajectory.arrays["steps"][skip_frames::stride]],
            }
        else:
            if structures_blob is not None:
                raw = json.loads(db.blobs.get_bytes(structures_blob))
                structures = [Structure.from_dict(d) for d in raw]
            structures = [
                s if isinstance(s, Structure) else Structure.from_dict(s) for s in structures or []
            ]
            values = predict(bundle, structures, self.batch_size)
        return store_predictions(db, bundle, model_id, values, self.inline_limit, extra)
