"""MLIP jobs with real tiny MACE models: labels in as LabelDoc dicts, model documents out.

Training and the jobs that use the model run without a results database (jobflow's memory
stores, as on a jobflow-remote worker): the model file travels with the model document as
``artifacts``. The fine-tuning test runs against the embedded database to check that the
``models`` collection is built from the job outputs.
"""

import numpy as np
import pytest
import torch
from ase.io import write
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore
from monty.json import MontyDecoder
from pymatgen.io.ase import AseAtomsAdaptor

from mlip.tiny_mace import TINY_SETTINGS, ag3sbr_cell, rattled_ag3sbr_labels
from thermogap.errors import InputError
from thermogap.execution import run_flow
from thermogap.execution.artifacts import JobBlobStore, document_with_artifacts, find_artifacts
from thermogap.jobs.mlip import (
    MaceTrainingMaker,
    MlipRelaxMaker,
    MlipSinglePointMaker,
    PhononValidationMaker,
    training_atoms,
)
from thermogap.mlip.calculator import calculator_from_model, file_sha256, load_mace_model_bytes
from thermogap.schemas.mlip import MaceTrainingSettings

SETTINGS = MaceTrainingSettings(**(TINY_SETTINGS | {"max_num_epochs": 6}))


def _label_docs(frames, scheme):
    docs = []
    for atoms in frames:
        docs.append(
            {
                "config_id": f"{scheme}-{atoms.info['config_id']}",
                "level": "chgnet",
                "status": "ok",
                "scheme": scheme,
                "structure": AseAtomsAdaptor.get_structure(atoms).as_dict(),
                "energy_ev": float(atoms.info["REF_energy"]),
                "forces_ev_per_ang": atoms.arrays["REF_forces"].tolist(),
                "stress_ev_per_ang3": np.asarray(atoms.info["REF_stress"]).tolist(),
            }
        )
    return docs


def _run(jobs):
    responses = run_locally(
        Flow(jobs),
        store=JobStore(MemoryStore(), additional_stores={"data": MemoryStore()}),
        ensure_success=True,
    )
    decoder = MontyDecoder()
    return {uuid: decoder.process_decoded(r[max(r)].output) for uuid, r in responses.items()}


@pytest.fixture(scope="module")
def labels():
    """20 displaced CHGNet labels, 4 'equilibrium' ones, one failed and one of another level."""
    docs = _label_docs(rattled_ag3sbr_labels(20, seed=5), "rattle")
    docs += _label_docs(rattled_ag3sbr_labels(4, seed=6), "equilibrium")
    docs.append(dict(docs[0], config_id="failed", status="failed"))
    docs.append(dict(docs[1], config_id="other", level="pbesol"))
    return docs


@pytest.fixture(scope="module")
def trained(labels):
    """A tiny MACE trained from the label list and used by three downstream jobs."""
    structure = AseAtomsAdaptor.get_structure(ag3sbr_cell(5.0))
    rattled = structure.copy()
    rattled.perturb(0.05, min_distance=0.05)
    train = MaceTrainingMaker(settings=SETTINGS, exclude_schemes=("equilibrium",)).make(
        ["chgnet"], labels
    )
    uses = [
        MlipSinglePointMaker().make(rattled, train.output),
        MlipRelaxMaker(fmax_ev_per_ang=0.05).make(rattled, train.output),
        PhononValidationMaker(reference_engine="chgnet", supercell_matrix=[1, 1, 1]).make(
            structure, train.output
        ),
    ]
    outputs = _run([train, *uses])
    return outputs[train.uuid], [outputs[j.uuid] for j in uses], rattled, structure


def test_training_selects_ok_labels_of_the_levels_without_excluded_schemes(labels, trained):
    model, _, _, _ = trained
    ids = model.training_label_ids + model.validation_label_ids + model.test_label_ids
    assert sorted(ids) == sorted(f"rattle-c{i}:chgnet" for i in range(20))
    assert model.kind == "mace" and model.levels == ["chgnet"] and model.foundation_name is None
    # labels without a scheme are kept; nothing left is an error naming the levels
    unschemed = [{k: v for k, v in d.items() if k != "scheme"} for d in labels]
    assert len(training_atoms(unschemed, ["chgnet"], ("rattle", "equilibrium"))) == 24
    with pytest.raises(InputError, match="pbesol"):
        training_atoms(labels, ["pbesol"], exclude_schemes=("rattle",))
    with pytest.raises(InputError, match="list of level names"):
        training_atoms(labels, "chgnet")


def test_model_document_carries_the_model_and_predicts_as_at_training_time(labels, trained):
    model, (single, relaxed, phonons), rattled, _ = trained
    # the bytes travel with the document and hash to the recorded SHA-256
    assert model.model_blob["blob_id"] == model.sha256 and model.sha256 in model.artifacts
    assert model.model_id == "mace-" + model.sha256[:16]
    carried = JobBlobStore(find_artifacts(model))
    plot = carried.get_bytes(model.plot_blobs["trained"])
    assert plot[:8] == b"\x89PNG\r\n\x1a\n"
    # loaded from the document alone, the model reproduces the predictions the training job
    # made on its held-out test labels (parity data written at training time)
    parity = carried.get_arrays(model.parity_blob)
    calc = calculator_from_model(model)
    frames = {f"{d['config_id']}:{d['level']}": d for d in labels}
    test = training_atoms([frames[k] for k in model.test_label_ids], ["chgnet"])
    energies, forces = [], []
    for atoms in test:
        atoms.calc = calc
        energies.append(atoms.get_potential_energy() / len(atoms))
        forces.append(atoms.get_forces().ravel())
    np.testing.assert_allclose(energies, parity["trained_test_energy_per_atom_pred"], atol=1e-9)
    np.testing.assert_allclose(
        np.concatenate(forces), parity["trained_test_forces_pred"], atol=1e-9
    )
    # ... and the references of the parity data are the labels' CHGNet energies
    np.testing.assert_allclose(
        parity["trained_test_energy_per_atom_ref"],
        [frames[k]["energy_ev"] / 5 for k in model.test_label_ids],
        rtol=1e-12,
    )
    # the single-point job, given only the document, computed the same
    atoms = AseAtomsAdaptor.get_atoms(rattled)
    atoms.calc = calc
    assert single.energy_ev == pytest.approx(atoms.get_potential_energy(), abs=1e-9)
    np.testing.assert_allclose(single.forces_ev_per_ang, atoms.get_forces(), atol=1e-9)
    assert single.model_id == model.model_id and single.provenance.model_sha256 == model.sha256
    assert relaxed.converged and relaxed.max_force_ev_per_ang < 0.05
    assert relaxed.energy_ev <= single.energy_ev
    assert phonons.reference == "chgnet" and len(phonons.frequencies_mlip_thz[0]) == 15
    assert phonons.frequency_mae_thz == pytest.approx(
        np.abs(np.subtract(phonons.frequencies_mlip_thz, phonons.frequencies_reference_thz)).mean()
    )
    # a bare model id is refused with a pointer to what to pass
    with pytest.raises(InputError, match="model document"):
        MlipSinglePointMaker.make.original(MlipSinglePointMaker(), rattled, model.model_id)


def test_finetune_from_a_foundation_file_builds_the_models_collection(
    db, labels, trained, tmp_path
):
    model, (single, _, _), rattled, _ = trained
    # the scratch model as a local "foundation" file (mace's own pickled module), found by
    # name in a model directory, with multihead replay data beside it
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    data = JobBlobStore(find_artifacts(model)).get_bytes(model.model_blob)
    torch.save(load_mace_model_bytes(data), models_dir / "tiny-foundation.model")
    write(models_dir / "replay.xyz", rattled_ag3sbr_labels(8, seed=9), format="extxyz")
    finetune = MaceTrainingMaker(
        settings=SETTINGS.model_copy(
            update={"max_num_epochs": 2, "replay_file": "replay.xyz", "num_samples_pt": 8}
        ),
        foundation="tiny-foundation",
        model_dir=str(models_dir),
        exclude_schemes=("equilibrium",),
    ).make(["chgnet"], labels)
    use = MlipSinglePointMaker().make(rattled, finetune.output)
    summary = run_flow(Flow([finetune, use]), db)
    assert summary.n_failed == 0, summary.errors
    # the models collection was built from the training job's output (no job wrote it)
    tuned = db.query_one("models", {"foundation_name": "tiny-foundation"})
    assert tuned is not None and db.count("models") == 1
    assert tuned["foundation_sha256"] == file_sha256(models_dir / "tiny-foundation.model")
    assert tuned["foundation_sha256"] != tuned["sha256"]
    # same labels, same seed → same split; the foundation's metrics are the scratch model's
    assert tuned["test_label_ids"] == model.test_label_ids
    for split in ("train", "valid", "test"):
        assert tuned["foundation_metrics"][split]["forces"]["mae"] == pytest.approx(
            getattr(model.metrics, split).forces.mae, rel=1e-9
        )
    assert set(tuned["plot_blobs"]) == {"trained", "foundation"}
    # the builder copied the artifacts into the database's blob store
    assert db.blobs.get_bytes(tuned["plot_blobs"]["trained"])[:8] == b"\x89PNG\r\n\x1a\n"
    from thermogap.mlip.calculator import calculator_from_model_id

    atoms = AseAtomsAdaptor.get_atoms(rattled)
    atoms.calc = calculator_from_model_id(db, tuned["model_id"])
    store = db.jobstore()
    store.connect()
    used = store.get_output(use.uuid)
    assert used["energy_ev"] == pytest.approx(atoms.get_potential_energy(), abs=1e-9)
    assert used["energy_ev"] != pytest.approx(single.energy_ev, abs=1e-9)  # a new model
    # the stored model passed on as a static input (a user's model id, embedded at
    # submission) is used by a job that has no database
    again = MlipSinglePointMaker().make(rattled, document_with_artifacts(db.blobs, tuned))
    assert _run([again])[again.uuid].energy_ev == pytest.approx(used["energy_ev"], abs=1e-9)
