"""Dataset study: leakage-free held-out sets, learning curves and cross-testing."""

from __future__ import annotations

import numpy as np
import pytest

from thermogap.errors import InputError
from thermogap.gnn.dataset_study import (
    LabelledSet,
    combine_sets,
    held_out_ids,
    run_dataset_study,
    summarise_rows,
    train_study_model,
)
from thermogap.schemas.gnn import DatasetStudyRow, SplitMetrics

from .conftest import TINY
from .synthetic import make_dataset


def _sets():
    s1, y1 = make_dataset(40, seed=11, rattle_ang=0.05)  # "phonon": small displacements
    s2, y2 = make_dataset(40, seed=12, rattle_ang=0.15)  # "random": large displacements
    return (
        LabelledSet("phonon", s1, y1, [f"p{i}" for i in range(40)]),
        LabelledSet("random", s2, y2, [f"r{i}" for i in range(40)]),
    )


def test_held_out_ids_depend_only_on_ids():
    ids = [f"c{i}" for i in range(50)]
    test = held_out_ids(ids, 10, seed=3)
    assert len(test) == 10 and set(test) <= set(ids)
    assert held_out_ids(ids[::-1], 10, seed=3) == test
    assert held_out_ids(ids, 10, seed=4) != test
    with pytest.raises(InputError):
        held_out_ids(ids, 50)


def test_combined_test_set_is_union_and_training_never_sees_test_ids():
    phonon, random = _sets()
    combined = combine_sets([phonon, random], n_test=8)
    assert len(combined.ids) == 80
    assert set(combined.test_ids) == set(held_out_ids(phonon.ids, 8)) | set(
        held_out_ids(random.ids, 8)
    )
    sets = {"phonon": phonon, "random": random, "combined": combined}
    result, rows = train_study_model(
        combined, sets, 20, 0, TINY.model_copy(update={"max_epochs": 2}), 8
    )
    seen = set(result.ids["train"]) | set(result.ids["validation"])
    assert len(result.ids["train"]) == 20 and not seen & set(combined.test_ids)
    assert {r.test_dataset for r in rows} == {"phonon", "random", "combined"}
    assert {r.metrics.n for r in rows} == {8, 16}


def test_summary_is_mean_and_sample_std_over_seeds():
    rows = [
        DatasetStudyRow(
            train_dataset="a",
            train_size=10,
            seed=s,
            test_dataset="b",
            metrics=SplitMetrics(n=5, mae=m, rmse=m, r2=1 - m),
        )
        for s, m in enumerate([0.1, 0.2, 0.6])
    ]
    (entry,) = summarise_rows(rows)
    assert entry["mae_mean"] == pytest.approx(0.3)
    assert entry["mae_std"] == pytest.approx(np.std([0.1, 0.2, 0.6], ddof=1))
    assert entry["n_seeds"] == 3


def test_whole_study_produces_learning_curves_and_cross_tests():
    phonon, random = _sets()
    rows, table = run_dataset_study(
        [phonon, random],
        train_sizes=(10, 20),
        seeds=(0, 1),
        settings=TINY.model_copy(update={"max_epochs": 3}),
        n_test=8,
    )
    assert len(rows) == 3 * 2 * 2 * 3  # train sets x sizes x seeds x test sets
    assert len(table) == 3 * 2 * 3
    assert all(r.metrics.mae is not None and r.metrics.mae >= 0 for r in rows)
