"""Names that moved to one home stay importable from where users imported them before."""

from __future__ import annotations

import importlib

import pytest

MOVED = [
    # (old module, name, new module)
    ("thermogap.store.blobs", "BlobRef", "thermogap.schemas.blobs"),
    ("thermogap.store", "BlobRef", "thermogap.schemas.blobs"),
    ("thermogap.sampling.amplitudes", "mode_variances", "thermogap.phonons.thermal"),
    ("thermogap.sampling.amplitudes", "DEFAULT_FREQUENCY_CUTOFF_THZ", "thermogap.phonons.thermal"),
    ("thermogap.gnn.training", "DataSplit", "thermogap.splits"),
    ("thermogap.mlip.training", "DataSplit", "thermogap.splits"),
    ("thermogap.gnn.training", "regression_metrics", "thermogap.regression"),
    ("thermogap.mlip.metrics", "regression_metrics", "thermogap.regression"),
    ("thermogap.schemas.gnn", "SplitMetrics", "thermogap.schemas.metrics"),
    ("thermogap.schemas.mlip", "RegressionMetrics", "thermogap.schemas.metrics"),
    ("thermogap.store.database", "COLLECTIONS", "thermogap.store.collections"),
    ("thermogap.store", "COLLECTIONS", "thermogap.store.collections"),
    ("thermogap.jobs.gnn", "load_dataset", "thermogap.gnn.storage"),
    ("thermogap.jobs.gnn", "export_labels", "thermogap.gnn.storage"),
    ("thermogap.jobs.gnn", "LABELS_COLLECTION", "thermogap.gnn.storage"),
    ("thermogap.execution.remote", "build_project_config", "thermogap.execution.remote.project"),
    ("thermogap.execution.remote", "write_project_config", "thermogap.execution.remote.project"),
    ("thermogap.execution.remote", "QUEUE_COLLECTIONS", "thermogap.execution.remote.project"),
    ("thermogap.execution.remote", "FAST_RUNNER_OPTIONS", "thermogap.execution.remote.project"),
    ("thermogap.execution.remote", "projects_folder", "thermogap.execution.remote.folders"),
    ("thermogap.execution.remote", "submit_flow", "thermogap.execution.remote.submit"),
    ("thermogap.execution.remote", "run_until_done", "thermogap.execution.remote.submit"),
    ("thermogap.execution.remote", "wait_for_flow", "thermogap.execution.remote.submit"),
    ("thermogap.execution.remote", "flow_job_states", "thermogap.execution.remote.submit"),
    ("thermogap.execution.remote", "TERMINAL_STATES", "thermogap.execution.remote.submit"),
    ("thermogap.execution.remote", "worker_check_flow", "thermogap.execution.remote.workers"),
    ("thermogap.execution.remote", "write_probe", "thermogap.execution.remote.workers"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_old_import_path_gives_the_one_object(old: str, name: str, new: str) -> None:
    assert getattr(importlib.import_module(old), name) is getattr(
        importlib.import_module(new), name
    )


def test_mlip_documents_written_before_the_unification_still_load() -> None:
    from thermogap.schemas.mlip import DatasetMetrics, MlipSplitMetrics, SplitMetrics

    assert SplitMetrics is MlipSplitMetrics  # the @class name stored in older documents
    old = {
        "test": {
            "n_configurations": 2,
            "energy_per_atom": {"mae": 0.01, "rmse": 0.02, "r2": float("nan"), "n": 2},
            "forces": {"mae": 0.1, "rmse": 0.2, "r2": 0.9, "n": 30},
        }
    }
    metrics = DatasetMetrics.model_validate(old)
    assert metrics.test is not None and metrics.test.forces is not None
    assert metrics.test.forces.rmse == 0.2 and metrics.test.stress is None
