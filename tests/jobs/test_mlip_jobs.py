"""MLIP and MD jobs end to end on an embedded results database, with real tiny MACE models."""

import numpy as np
import pytest
from ase.io import write
from jobflow import Flow
from pymatgen.io.ase import AseAtomsAdaptor

from mlip.tiny_mace import TINY_SETTINGS, ag3sbr_cell, rattled_ag3sbr_labels
from thermogap.execution import run_flow
from thermogap.jobs.md import LangevinMDMaker, LangevinTemperatureSweepMaker
from thermogap.jobs.mlip import (
    MaceTrainingMaker,
    MlipRelaxMaker,
    MlipSinglePointMaker,
    PhononValidationMaker,
)
from thermogap.md.langevin import load_trajectory
from thermogap.mlip.calculator import load_mace_calculator, materialise_model_file
from thermogap.schemas.md import LangevinSettings
from thermogap.schemas.mlip import MaceTrainingSettings


def _label_docs(frames):
    docs = []
    for atoms in frames:
        docs.append(
            {
                "config_id": atoms.info["config_id"],
                "level": "chgnet",
                "status": "ok",
                "structure": AseAtomsAdaptor.get_structure(atoms).as_dict(),
                "energy_ev": float(atoms.info["REF_energy"]),
                "forces_ev_per_ang": atoms.arrays["REF_forces"].tolist(),
                "stress_ev_per_ang3": np.asarray(atoms.info["REF_stress"]).tolist(),
            }
        )
    docs.append(dict(docs[0], config_id="failed", status="failed"))
    return docs


def _resolve(db, job):
    store = db.jobstore()
    store.connect()
    return job.output.resolve(store)


def test_train_finetune_and_use_models(db, tmp_path):
    frames = rattled_ag3sbr_labels(20, seed=5)
    db.upsert("labels", _label_docs(frames), key=["config_id", "level"])
    settings = MaceTrainingSettings(**(TINY_SETTINGS | {"max_num_epochs": 6}))
    scratch = MaceTrainingMaker(settings=settings).make(levels=["chgnet"])
    run_flow(Flow([scratch]), db)
    base = db.query_one("models", {"model_id": _resolve(db, scratch).model_id})
    assert base["kind"] == "mace" and base["foundation_name"] is None
    n_split = (
        len(base["training_label_ids"]),
        len(base["validation_label_ids"]),
        len(base["test_label_ids"]),
    )
    assert sum(n_split) == 20 and "failed:chgnet" not in base["training_label_ids"]

    # fine-tune the scratch model as a local "foundation" file, found by name in a model dir
    # (store models are weights-only archives; a foundation file is mace's own pickled module,
    # so write the stored model out in that form, as a user exporting it would)
    path, _ = materialise_model_file(db, base["model_id"], cache_dir=tmp_path / "models")
    import torch

    from thermogap.mlip.calculator import load_mace_model_bytes

    torch.save(
        load_mace_model_bytes(path.read_bytes()), tmp_path / "models" / "tiny-foundation.model"
    )
    # multihead replay fine-tuning (the default): the "pre-training" data lies beside the file
    write(tmp_path / "models" / "replay.xyz", rattled_ag3sbr_labels(8, seed=9), format="extxyz")
    finetune = MaceTrainingMaker(
        settings=settings.model_copy(
            update={"max_num_epochs": 2, "replay_file": "replay.xyz", "num_samples_pt": 8}
        ),
        foundation="tiny-foundation",
        model_dir=str(tmp_path / "models"),
    ).make(levels=["chgnet"])
    run_flow(Flow([finetune]), db)
    tuned = db.query_one("models", {"foundation_name": "tiny-foundation"})
    from thermogap.mlip.calculator import file_sha256

    foundation_sha = file_sha256(tmp_path / "models" / "tiny-foundation.model")
    assert tuned["foundation_sha256"] == foundation_sha != tuned["sha256"]
    # same labels, same seed → same split; the foundation's metrics are the base model's
    assert tuned["test_label_ids"] == base["test_label_ids"]
    for split in ("train", "valid", "test"):
        assert tuned["foundation_metrics"][split]["forces"]["mae"] == pytest.approx(
            base["metrics"][split]["forces"]["mae"], rel=1e-9
        )
    assert set(tuned["plot_blobs"]) == {"trained", "foundation"}
    assert db.blobs.get_bytes(tuned["plot_blobs"]["trained"])[:8] == b"\x89PNG\r\n\x1a\n"

    model_id = tuned["model_id"]
    structure = AseAtomsAdaptor.get_structure(ag3sbr_cell(5.0))
    rattled = structure.copy()
    rattled.perturb(0.05, min_distance=0.05)
    md_settings = LangevinSettings(total_time_ps=0.02, save_interval_steps=5, chunk_frames=2)
    jobs = [
        MlipSinglePointMaker().make(rattled, model_id),
        MlipRelaxMaker(fmax_ev_per_ang=0.05).make(rattled, model_id),
        PhononValidationMaker(reference_engine="chgnet", supercell_matrix=[1, 1, 1]).make(
            structure, model_id
        ),
    ]
    sweep = LangevinTemperatureSweepMaker(
        temperatures_k=[100.0, 300.0],
        md_maker=LangevinMDMaker(settings=md_settings, progress=False),
    ).make(structure * (2, 1, 1), model_id)
    run_flow(Flow([*jobs, sweep]), db)
    single, relaxed, phonons = (_resolve(db, j) for j in jobs)

    # independent evaluation with the model file loaded directly
    model_path, _ = materialise_model_file(db, model_id, cache_dir=tmp_path / "cache")
    atoms = AseAtomsAdaptor.get_atoms(rattled)
    atoms.calc = load_mace_calculator(model_path, tuned["sha256"])
    assert single.energy_ev == pytest.approx(atoms.get_potential_energy(), abs=1e-9)
    np.testing.assert_allclose(single.forces_ev_per_ang, atoms.get_forces(), atol=1e-9)
    assert single.provenance.model_sha256 == tuned["sha256"]

    assert relaxed.converged and relaxed.max_force_ev_per_ang < 0.05
    assert relaxed.energy_ev <= single.energy_ev

    assert phonons.reference == "chgnet" and len(phonons.frequencies_mlip_thz[0]) == 15
    assert phonons.frequency_mae_thz == pytest.approx(
        np.abs(np.subtract(phonons.frequencies_mlip_thz, phonons.frequencies_reference_thz)).mean()
    )

    trajectories = db.query("trajectories", {"model_id": model_id})
    assert sorted(t["temperature_k"] for t in trajectories) == [100.0, 300.0]
    for t in trajectories:
        loaded = load_trajectory(db, t["trajectory_id"])
        assert loaded.doc.completed and loaded.arrays["positions_ang"].shape == (4, 10, 3)
        assert len(loaded.doc.chunks) == 2

    # a second run reuses every stored output
    again = MlipSinglePointMaker().make(rattled, model_id)
    summary = run_flow(Flow([again]), db)
    assert summary.n_reused == 1 and summary.n_ran == 0
