"""jobflow Makers for GNN property models: datasets, training, searches, studies, inference.

Data move between jobs by reference and no job opens the results database: a dataset job
exports a list of LabelDoc dicts (the labelling flow's output) into one blob
(:class:`~thermogap.schemas.gnn.GNNDatasetDoc`); training jobs read it and return the
:class:`~thermogap.schemas.gnn.GNNModelDoc`, whose bundle bytes travel with it
(``artifacts``); later jobs take that document and load the model with
:func:`~thermogap.gnn.bundle.gnn_from_model` (which verifies its SHA-256). The ``models``
collection is built from the outputs afterwards (:mod:`thermogap.store.builders`).
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
from thermogap.structures.identity import as_structure

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


def _blobs() -> Any:
    from thermogap.execution.artifacts import current_blobs

    return current_blobs()


def _model_doc(model: Any) -> GNNModelDoc:
    if isinstance(model, str):
        raise InputError(
            f"got the model id {model!r}; pass the training job's output document (by "
            "reference), or a stored model through "
            "thermogap.execution.artifacts.document_with_artifacts"
        )
    return as_document(model, GNNModelDoc)


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------
@dataclass
class GNNDatasetMaker(Maker):
    """Export the ``ok`` labels of one level of theory into a GNN dataset blob.

    Parameters
    ----------
    name
        Job name.
    target
        Property: ``band_gap`` (eV), ``energy_per_atom`` (eV/atom), ``vbm`` (eV),
        ``hydrostatic_stress`` (GPa).

    Examples
    --------
    >>> labels = []  # LabelDoc dicts; in a flow, the labelling flow's ``.output``
    >>> job = GNNDatasetMaker().make(
    ...     labels, level="hsesol", dataset_name="phonon", criteria={"scheme": "phonon"}
    ... )
    """

    name: str = "gnn dataset"
    target: str = "band_gap"

    @tg_job
    def make(
        self,
        labels: list[dict[str, Any]],
        level: str,
        dataset_name: str = "dataset",
        criteria: dict[str, Any] | None = None,
        config_ids: list[str] | None = None,
    ) -> GNNDatasetDoc:
        """Collect the labels of ``level`` matching ``criteria`` (and ``config_ids`` if given).

        ``labels`` are LabelDoc dicts (any levels and statuses); ``criteria`` are simple
        conditions on their fields (:func:`thermogap.gnn.storage.matches`).
        """
        labelled = export_labels(labels, level, self.target, dataset_name, criteria, config_ids)
        return store_dataset(dataset_name, level, self.target, labelled)


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

        docs = [as_document(d, GNNDatasetDoc) for d in datasets]
        if len({(d.level, d.target) for d in docs}) != 1:
            raise InputError(
                f"datasets mix levels/targets {sorted({(d.level, d.target) for d in docs})}"
            )
        merged = combine_sets(
            [load_dataset(d) for d in docs], self.n_test, self.test_seed, dataset_name
        )
        return store_dataset(dataset_name, docs[0].level, docs[0].target, merged)


# --------------------------------------------------------------------------------------------
# training, transfer, search
# --------------------------------------------------------------------------------------------
@dataclass
class GNNTrainMaker(Maker):
    """Train (or fine-tune) a GNN on a dataset; return its model document (bytes attached).

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
    >>> dataset = GNNDatasetMaker().make([], level="pbesol")  # [] stands for the labels
    >>> train = GNNTrainMaker().make(dataset.output)
    """

    name: str = "gnn train"
    settings: GNNTrainingSettings = field(default_factory=GNNTrainingSettings)
    cutoff_ang: float = 5.5
    parity_plot: bool = True
    num_threads: int | None = None

    @tg_job
    def make(self, dataset: GNNDatasetDoc, initial_model: GNNModelDoc | None = None) -> GNNModelDoc:
        """Train on ``dataset``; start from the weights of ``initial_model`` if given."""
        from thermogap.gnn.bundle import gnn_from_model, save_gnn
        from thermogap.gnn.graphs import GraphSettings
        from thermogap.gnn.plots import parity_png
        from thermogap.gnn.training import train_gnn
        from thermogap.threads import limited_threads

        dataset = as_document(dataset, GNNDatasetDoc)
        if dataset.target != self.settings.target:
            raise InputError(
                f"dataset target {dataset.target!r} != settings.target {self.settings.target!r}"
            )
        data = load_dataset(dataset)
        initial = gnn_from_model(_model_doc(initial_model)) if initial_model is not None else None
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
            parity_ref = _blobs().put_bytes(
                parity_png(result.parity, label), kind="png", filename="parity.png"
            )
        parent = initial.model_id if initial is not None else None
        return save_gnn(
            result.bundle, model_document_fields(result, parity_ref, self.settings, parent)
        )


@dataclass
class GNNTransferSummaryMaker(Maker):
    """Report both stages of transfer learning and the stage-A baseline on level-B data.

    The output holds both model documents with their bytes (``stage_b`` is "the GNN" of
    the temperature study: ``flow.output.stage_b`` can be passed on by reference).
    """

    name: str = "gnn transfer summary"

    @tg_job
    def make(
        self, stage_a: GNNModelDoc, stage_b: GNNModelDoc, dataset_b: GNNDatasetDoc
    ) -> GNNTransferDoc:
        """Evaluate the stage-A model on the stage-B test split and assemble the document."""
        from thermogap.gnn.bundle import gnn_from_model
        from thermogap.gnn.inference import predict
        from thermogap.gnn.training import regression_metrics

        stage_a, stage_b = _model_doc(stage_a), _model_doc(stage_b)
        structures, targets, _ = load_dataset(dataset_b).subset(stage_b.test_config_ids)
        baseline = regression_metrics(predict(gnn_from_model(stage_a), structures), targets)
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
        ref = _blobs().put_bytes(plot, kind="png", filename="search.png")
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
    ) -> GNNModelDoc:
        """Train on ``train_size`` structures of ``train_dataset``; evaluate on every dataset.

        Returns the model document with its cross-test rows in ``evaluations``.
        """
        from thermogap.gnn.bundle import save_gnn
        from thermogap.gnn.dataset_study import train_study_model
        from thermogap.gnn.graphs import GraphSettings
        from thermogap.threads import limited_threads

        sets = {}
        for d in datasets:
            d = as_document(d, GNNDatasetDoc)
            sets[d.name] = load_dataset(d)
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
        model = save_gnn(result.bundle, model_document_fields(result, None, self.settings, None))
        model.evaluations = [row.model_copy(update={"model_id": model.model_id}) for row in rows]
        return model


@dataclass
class DatasetStudySummaryMaker(Maker):
    """Assemble a dataset study: table of seed-averaged metrics and learning-curve plot."""

    name: str = "gnn dataset study summary"

    @tg_job
    def make(
        self, models: list[GNNModelDoc | list[dict[str, Any]]], datasets: list[GNNDatasetDoc]
    ) -> DatasetStudyDoc:
        """Collect the rows of every training job (its model document's ``evaluations``)."""
        from thermogap.gnn.dataset_study import summarise_rows
        from thermogap.gnn.plots import learning_curves_png

        groups = [
            m if isinstance(m, list) else _model_doc(m).model_dump()["evaluations"] for m in models
        ]
        flat = [DatasetStudyRow.model_validate(r) for group in groups for r in group]
        docs = [as_document(d, GNNDatasetDoc) for d in datasets]
        table = summarise_rows(flat)
        unit = docs[0].target_unit if docs else "eV"
        ref = _blobs().put_bytes(
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
    def make(self, model: GNNModelDoc, dataset: GNNDatasetDoc) -> GNNExplanationDoc:
        """Explain ``model`` on structures of ``dataset`` (the model's test split first)."""
        from thermogap.gnn.bundle import gnn_from_model
        from thermogap.gnn.explain import (
            aggregate_by_bond_type,
            explain_structures,
            summarise_importances,
        )
        from thermogap.gnn.plots import importance_png

        model_doc = _model_doc(model)
        model_id = model_doc.model_id
        bundle = gnn_from_model(model_doc)
        data = load_dataset(dataset)
        available = set(data.ids)
        preferred = [k for k in model_doc.test_config_ids if k in available]
        taken = set(preferred)
        chosen = (preferred + [k for k in data.ids if k not in taken])[: self.max_structures]
        structures, _, _ = data.subset(chosen)
        groups = aggregate_by_bond_type(
            explain_structures(bundle, structures, self.epochs, seed=self.seed)
        )
        summary = summarise_importances(groups, self.threshold)
        arrays_ref = _blobs().put_arrays(
            {k: v.astype(float) for k, v in groups.items()}, kind="gnn_importances"
        )
        plot_ref = _blobs().put_bytes(
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
    >>> train = GNNTrainMaker().make(GNNDatasetMaker().make([], level="pbesol").output)
    >>> job = GNNPredictMaker().make(train.output, structures=snapshots)
    >>> # or the frames of an MD job's TrajectoryDoc:
    >>> # GNNPredictMaker().make(train.output, trajectory=md.output, skip_frames=100, stride=2)
    """

    name: str = "gnn predict"
    batch_size: int = 64
    inline_limit: int = 10_000

    @tg_job
    def make(
        self,
        model: GNNModelDoc,
        structures: list[Structure] | None = None,
        structures_blob: dict[str, Any] | None = None,
        trajectory: Any = None,
        skip_frames: int = 0,
        stride: int = 1,
    ) -> GNNPredictionDoc:
        """Predict with ``model`` for structures, a structures blob, or an MD trajectory's frames.

        ``model`` is the training job's output document. Give exactly one of ``structures``;
        ``structures_blob`` (a BlobRef to a JSON list of ``Structure.as_dict()``, whose bytes
        an input of this job carries as ``artifacts``); or ``trajectory`` (the MD job's
        :class:`~thermogap.schemas.md.TrajectoryDoc`; frames after the first
        ``skip_frames``, every ``stride``-th one).
        """
        from thermogap.gnn.bundle import gnn_from_model
        from thermogap.gnn.inference import predict, predict_frames

        given = [structures is not None, structures_blob is not None, trajectory is not None]
        if sum(given) != 1:
            raise InputError("give exactly one of structures, structures_blob or trajectory")
        if skip_frames < 0 or stride < 1:
            raise InputError(f"{skip_frames=} must be >= 0 and {stride=} >= 1")
        model_doc = _model_doc(model)
        model_id = model_doc.model_id
        bundle = gnn_from_model(model_doc)
        extra: dict[str, Any] = {}
        if trajectory is not None:
            from thermogap.md.langevin import trajectory_from_doc

            loaded = trajectory_from_doc(trajectory)
            start = Structure.from_dict(loaded.doc.structure)
            positions = loaded.arrays["positions_ang"][skip_frames::stride]
            values = predict_frames(
                bundle,
                start.lattice.matrix,
                positions,
                np.array([site.specie.Z for site in start]),
                self.batch_size,
            )
            extra = {
                "trajectory_id": loaded.doc.trajectory_id,
                "temperature_k": loaded.doc.temperature_k,
                "x": loaded.doc.x,
                "md_steps": [int(v) for v in loaded.arrays["steps"][skip_frames::stride]],
            }
        else:
            if structures_blob is not None:
                raw = json.loads(_blobs().get_bytes(structures_blob))
                structures = [as_structure(d) for d in raw]
            structures = [as_structure(s) for s in structures or []]
            values = predict(bundle, structures, self.batch_size)
        return store_predictions(bundle, model_id, values, self.inline_limit, extra)
