"""Flows of GNN property models: hyperparameter search, transfer learning, dataset study.

Every flow takes its labels as a list of LabelDoc dicts (the labelling flow's output, by
reference) and no job opens the results database; trained models come back as
:class:`~thermogap.schemas.gnn.GNNModelDoc` outputs that carry their bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow, Maker

from thermogap.errors import InputError
from thermogap.gnn.search import SearchGrid
from thermogap.jobs.gnn import (
    DatasetStudySummaryMaker,
    DatasetStudyTrainMaker,
    GNNCombineDatasetsMaker,
    GNNDatasetMaker,
    GNNSearchSummaryMaker,
    GNNTrainMaker,
    GNNTransferSummaryMaker,
)
from thermogap.schemas.gnn import GNNTrainingSettings

__all__ = ["DatasetStudyFlowMaker", "GNNSearchFlowMaker", "GNNTransferFlowMaker"]


@dataclass
class GNNSearchFlowMaker(Maker):
    """Hyperparameter search: one training job per grid point, then a ranking job.

    Parameters
    ----------
    name
        Flow name.
    grid
        Hyperparameter grid (``SearchGrid.paper()`` is seed 001's 480 points).
    settings
        Settings shared by all points (epochs, batch size, split, seeds, target); the grid
        overrides architecture, learning rate, width and dropout.
    cutoff_ang
        Graph radius cutoff, Å.

    Examples
    --------
    >>> labels = []  # LabelDoc dicts; in a flow, the labelling flow's ``.output``
    >>> flow = GNNSearchFlowMaker(grid=SearchGrid.paper()).make(labels, level="hsesol")
    >>> len(flow.jobs)  # dataset + 480 trainings + summary
    482
    """

    name: str = "gnn hyperparameter search"
    grid: SearchGrid = field(default_factory=SearchGrid)
    settings: GNNTrainingSettings = field(default_factory=GNNTrainingSettings)
    cutoff_ang: float = 5.5

    def make(
        self,
        labels: Any,
        level: str,
        criteria: dict[str, Any] | None = None,
        dataset_name: str = "search",
    ) -> Flow:
        """Build the flow over the ``labels`` (LabelDoc dicts) of ``level`` and ``criteria``."""
        dataset = GNNDatasetMaker(target=self.settings.target).make(
            labels, level, dataset_name, criteria
        )
        jobs = [dataset]
        for point in self.grid.points():
            trainer = GNNTrainMaker(
                name=(
                    f"gnn train {point['architecture']} lr={point['learning_rate']:g} "
                    f"h={point['hidden_channels']} p={point['dropout']:g}"
                ),
                settings=self.settings.model_copy(update=point),
                cutoff_ang=self.cutoff_ang,
                parity_plot=False,
            )
            jobs.append(trainer.make(dataset.output))
        summary = GNNSearchSummaryMaker().make([j.output for j in jobs[1:]])
        jobs.append(summary)
        return Flow(list(jobs), output=summary.output, name=self.name)


@dataclass
class GNNTransferFlowMaker(Maker):
    """Two-stage transfer learning: train on level A, fine-tune on level B.

    Parameters
    ----------
    name
        Flow name.
    settings_a, settings_b
        Training settings of the two stages (stage B keeps stage A's architecture).
    cutoff_ang
        Graph radius cutoff, Å.

    Examples
    --------
    >>> labels_a, labels_b = [], []  # in a flow, the labelling flows' ``.output``
    >>> flow = GNNTransferFlowMaker().make("pbesol", "hsesol", labels_a, labels_b)
    >>> the_gnn = flow.output.stage_b  # the final GNNModelDoc, by reference
    """

    name: str = "gnn transfer learning"
    settings_a: GNNTrainingSettings = field(default_factory=GNNTrainingSettings)
    settings_b: GNNTrainingSettings = field(default_factory=GNNTrainingSettings)
    cutoff_ang: float = 5.5

    def make(
        self,
        level_a: str,
        level_b: str,
        labels_a: Any,
        labels_b: Any,
        criteria_a: dict[str, Any] | None = None,
        criteria_b: dict[str, Any] | None = None,
    ) -> Flow:
        """Build the flow; its output is a :class:`~thermogap.schemas.gnn.GNNTransferDoc`.

        Parameters
        ----------
        level_a, level_b
            Levels of theory of the two stages.
        labels_a, labels_b
            LabelDoc dicts (or references resolving to them) holding the labels of each
            level (other levels and failed labels are skipped; they may be one list).
        criteria_a, criteria_b
            Further conditions on the labels of each stage (e.g. ``{"scheme": "phonon"}``).

        Returns
        -------
        Flow
            Output :class:`~thermogap.schemas.gnn.GNNTransferDoc`; ``flow.output.stage_b`` is
            the final model document.
        """
        if self.settings_a.target != self.settings_b.target:
            raise InputError(
                f"stage targets differ: {self.settings_a.target!r} vs {self.settings_b.target!r}"
            )
        data_a = GNNDatasetMaker(name=f"gnn dataset {level_a}", target=self.settings_a.target).make(
            labels_a, level_a, level_a, criteria_a
        )
        data_b = GNNDatasetMaker(name=f"gnn dataset {level_b}", target=self.settings_b.target).make(
            labels_b, level_b, level_b, criteria_b
        )
        train_a = GNNTrainMaker(
            name=f"gnn train {level_a}", settings=self.settings_a, cutoff_ang=self.cutoff_ang
        ).make(data_a.output)
        train_b = GNNTrainMaker(name=f"gnn fine-tune {level_b}", settings=self.settings_b).make(
            data_b.output, initial_model=train_a.output
        )
        summary = GNNTransferSummaryMaker().make(train_a.output, train_b.output, data_b.output)
        return Flow(
            [data_a, data_b, train_a, train_b, summary], output=summary.output, name=self.name
        )


@dataclass
class DatasetStudyFlowMaker(Maker):
    """Seed 001's dataset study: learning curves and cross-testing of several datasets.

    Parameters
    ----------
    name
        Flow name.
    settings
        Training settings of every model (the seed varies).
    train_sizes
        Training-set sizes of the learning curves.
    seeds
        Seeds (subsample + initialisation) per size.
    n_test
        Held-out structures per dataset (seed 001: 250).
    combined
        Also train on the union of all datasets.
    cutoff_ang
        Graph radius cutoff, Å.
    test_seed
        Seed of the held-out selection.

    Examples
    --------
    >>> flow = DatasetStudyFlowMaker(train_sizes=(250, 500, 1000), seeds=tuple(range(10))).make(
    ...     labels=[], level="pbesol",
    ...     datasets={"phonon": {"scheme": "phonon"}, "random": {"scheme": "random"}})
    """

    name: str = "gnn dataset study"
    settings: GNNTrainingSettings = field(default_factory=GNNTrainingSettings)
    train_sizes: tuple[int, ...] = (250, 500, 1000)
    seeds: tuple[int, ...] = (0, 1, 2)
    n_test: int = 250
    combined: bool = True
    cutoff_ang: float = 5.5
    test_seed: int = 0

    def make(self, labels: Any, level: str, datasets: dict[str, dict[str, Any]]) -> Flow:
        """Build the flow over ``labels`` (LabelDoc dicts); ``datasets`` maps a name to criteria."""
        if not datasets:
            raise InputError("a dataset study needs at least one dataset (name -> label criteria)")
        if self.combined and "combined" in datasets:
            raise InputError("'combined' is reserved for the union dataset; rename that dataset")
        jobs = [
            GNNDatasetMaker(name=f"gnn dataset {name}", target=self.settings.target).make(
                labels, level, name, criteria
            )
            for name, criteria in datasets.items()
        ]
        names = list(datasets)
        if self.combined and len(datasets) > 1:
            jobs.append(
                GNNCombineDatasetsMaker(n_test=self.n_test, test_seed=self.test_seed).make(
                    [j.output for j in jobs]
                )
            )
            names.append("combined")
        outputs = [j.output for j in jobs]
        trainer = DatasetStudyTrainMaker(
            settings=self.settings,
            cutoff_ang=self.cutoff_ang,
            n_test=self.n_test,
            test_seed=self.test_seed,
        )
        train_jobs = []
        for name in names:
            for size in self.train_sizes:
                for seed in self.seeds:
                    job = trainer.make(name, outputs, size, seed)
                    job.name = f"gnn study {name} n={size} seed={seed}"
                    train_jobs.append(job)
        summary = DatasetStudySummaryMaker().make([j.output for j in train_jobs], outputs)
        return Flow([*jobs, *train_jobs, summary], output=summary.output, name=self.name)
