"""Dataset study of seed 001: phonon-informed vs random vs combined training sets.

For every dataset a fixed test set is held out first (the paper keeps 250 structures per
dataset); the combined dataset's test set is the union of its components' test sets, and no
structure of *any* test set is ever trained on, so cross-testing is leakage-free.  Models are
then trained on subsets of increasing size (learning curves) with several seeds and each is
evaluated on every dataset's test set (its own, the complementary one, the combined one).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from thermogap.errors import InputError
from thermogap.gnn.graphs import GraphSettings
from thermogap.gnn.inference import predict
from thermogap.gnn.training import DataSplit, TrainingResult, regression_metrics, train_gnn
from thermogap.schemas.gnn import DatasetStudyRow, GNNTrainingSettings

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "LabelledSet",
    "combine_sets",
    "held_out_ids",
    "run_dataset_study",
    "summarise_rows",
    "train_study_model",
]


@dataclass
class LabelledSet:
    """A named labelled dataset.

    Attributes
    ----------
    name
        Dataset name ("phonon", "random", ...).
    structures
        ``n`` structures.
    targets
        ``shape=(n,)`` target values.
    ids
        ``n`` unique identifiers (config ids).
    test_ids
        Held-out ids; ``None`` means :func:`held_out_ids` decides.
    """

    name: str
    structures: list[Structure]
    targets: np.ndarray
    ids: list[str]
    test_ids: list[str] | None = None

    def __post_init__(self) -> None:
        self.targets = np.asarray(self.targets, dtype=float)
        if not len(self.structures) == len(self.targets) == len(self.ids):
            raise InputError(
                f"dataset {self.name!r}: {len(self.structures)} structures, "
                f"{len(self.targets)} targets, "
                f"{len(self.ids)} ids"
            )
        if len(set(self.ids)) != len(self.ids):
            raise InputError(f"dataset {self.name!r} has duplicate ids")

    def subset(self, ids: Iterable[str]) -> tuple[list[Structure], np.ndarray, list[str]]:
        """Structures, targets and ids of the given ids, in the given order."""
        where = {k: i for i, k in enumerate(self.ids)}
        idx = [where[k] for k in ids]
        return [self.structures[i] for i in idx], self.targets[idx], [self.ids[i] for i in idx]


def _rank(ids: Iterable[str], seed: int) -> list[str]:
    return sorted(ids, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())


def held_out_ids(ids: Sequence[str], n_test: int, seed: int = 0) -> list[str]:
    """Deterministic test set: the ``n_test`` ids with the smallest ``sha256(f"{seed}:{id}")``.

    Depends only on the ids (not their order), so the same structure is held out in every
    dataset that contains it.
    """
    if not 0 < n_test < len(ids):
        raise InputError(
            f"{n_test=} must be between 1 and {len(ids) - 1} for a dataset of {len(ids)}"
        )
    return _rank(ids, seed)[:n_test]


def combine_sets(
    sets: Sequence[LabelledSet], n_test: int, seed: int = 0, name: str = "combined"
) -> LabelledSet:
    """Union of datasets whose test set is the union of the components' test sets."""
    structures, targets, ids, test_ids = [], [], [], []
    seen: set[str] = set()
    for part in sets:
        test_ids += part.test_ids or held_out_ids(part.ids, n_test, seed)
        for s, t, k in zip(part.structures, part.targets, part.ids, strict=True):
            if k not in seen:
                seen.add(k)
                structures.append(s)
                targets.append(t)
                ids.append(k)
    return LabelledSet(name, structures, np.array(targets), ids, sorted(set(test_ids)))


def train_study_model(
    train_set: LabelledSet,
    test_sets: Mapping[str, LabelledSet],
    train_size: int,
    seed: int,
    settings: GNNTrainingSettings,
    n_test: int,
    graph_settings: GraphSettings | None = None,
    test_seed: int = 0,
) -> tuple[TrainingResult, list[DatasetStudyRow]]:
    """Train one learning-curve model and cross-test it on every dataset's test set.

    Parameters
    ----------
    train_set
        Dataset to draw the training and validation structures from.
    test_sets
        All datasets of the study (their test sets are excluded from training).
    train_size
        Number of training structures.
    seed
        Seed of the subsample and of the model.
    settings
        Training settings (split fields ignored: the split is made here).
    n_test
        Test-set size per (non-combined) dataset.
    graph_settings
        Graph settings.
    test_seed
        Seed of the held-out test sets (shared by all models of a study).
    """
    tests = {
        name: s.test_ids or held_out_ids(s.ids, n_test, test_seed) for name, s in test_sets.items()
    }
    excluded = set().union(*tests.values())
    pool = [k for k in train_set.ids if k not in excluded]
    n_val = max(2, round(train_size * 0.15 / 0.70))
    if train_size < 2 or train_size + n_val > len(pool):
        raise InputError(
            f"{train_size=} (+{n_val} validation) does not fit in the "
            f"{len(pool)} non-test structures "
            f"of dataset {train_set.name!r}"
        )
    chosen = _rank(pool, seed)[: train_size + n_val]
    structures, targets, ids = train_set.subset(chosen)
    split = DataSplit(
        np.arange(train_size), np.arange(train_size, train_size + n_val), np.zeros(0, dtype=int)
    )
    result = train_gnn(
        structures,
        targets,
        settings.model_copy(update={"model_seed": seed}),
        graph_settings=graph_settings,
        ids=ids,
        split=split,
    )
    rows = []
    for name, test_ids in tests.items():
        s_test, y_test, _ = test_sets[name].subset(test_ids)
        metrics = regression_metrics(predict(result.bundle, s_test), y_test)
        rows.append(
            DatasetStudyRow(
                train_dataset=train_set.name,
                train_size=train_size,
                seed=seed,
                test_dataset=name,
                metrics=metrics,
            )
        )
    return result, rows


def summarise_rows(rows: Sequence[DatasetStudyRow]) -> list[dict[str, float | int | str | None]]:
    """Mean and standard deviation over seeds per (train_dataset, train_size, test_dataset)."""
    groups: dict[tuple[str, int, str], list[DatasetStudyRow]] = defaultdict(list)
    for row in rows:
        groups[(row.train_dataset, row.train_size, row.test_dataset)].append(row)
    table = []
    for (train, size, test), members in sorted(groups.items()):
        entry: dict[str, float | int | str | None] = {
            "train_dataset": train,
            "train_size": size,
            "test_dataset": test,
            "n_seeds": len(members),
        }
        for metric in ("mae", "rmse", "r2"):
            values = np.array(
                [
                    getattr(m.metrics, metric)
                    for m in members
                    if getattr(m.metrics, metric) is not None
                ]
            )
            entry[f"{metric}_mean"] = float(values.mean()) if values.size else None
            entry[f"{metric}_std"] = (
                float(values.std(ddof=1)) if values.size > 1 else 0.0 if values.size else None
            )
        table.append(entry)
    return table


def run_dataset_study(
    datasets: Sequence[LabelledSet],
    train_sizes: Sequence[int],
    seeds: Sequence[int],
    settings: GNNTrainingSettings,
    n_test: int,
    *,
    combined: bool = True,
    graph_settings: GraphSettings | None = None,
    test_seed: int = 0,
) -> tuple[list[DatasetStudyRow], list[dict[str, float | int | str | None]]]:
    """Whole study in one process (the flow runs the same steps as separate jobs).

    Returns
    -------
    rows, table
        Every (model, test set) result and the seed-averaged table.
    """
    sets = {s.name: s for s in datasets}
    for s in datasets:
        s.test_ids = s.test_ids or held_out_ids(s.ids, n_test, test_seed)
    if combined and len(datasets) > 1:
        union = combine_sets(datasets, n_test, test_seed)
        sets[union.name] = union
    rows: list[DatasetStudyRow] = []
    for train_set in sets.values():
        for size in train_sizes:
            for seed in seeds:
                _, new = train_study_model(
                    train_set, sets, size, seed, settings, n_test, graph_settings, test_seed
                )
                rows += new
    return rows, summarise_rows(rows)
