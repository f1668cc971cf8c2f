"""The embedded labelling flow: labels returned once per (config, level), failures recorded.

Reference values come from running CHGNet and tblite directly through their own ASE
calculators / interfaces, not through thermogap's labelling path.
"""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.engines import get_calculator
from thermogap.errors import InputError, UnknownEntryError
from thermogap.execution import run_flow
from thermogap.flows.labeling import LabelingFlowMaker, labeling_flow
from thermogap.labels.export import label_docs_to_atoms
from thermogap.labels.labeling import label_batch, select_unlabelled
from thermogap.levels import load_level
from thermogap.schemas.labels import LabelDoc


def _cell(displacement: float, seed: int) -> Structure:
    s = Structure(
        Lattice.cubic(4.85),
        ["Br", "S", "Ag", "Ag", "Ag"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )
    rng = np.random.default_rng(seed)
    for i in range(len(s)):
        s.translate_sites([i], rng.normal(0, displacement, 3), frac_coords=False)
    return s


def _add_configs(db, displacements):
    docs = [
        {
            "config_id": f"c{i}",
            "structure": _cell(d, 3).as_dict(),
            "x": 1.0,
            "scheme": "test",
            "temperature_k": 300.0,
            "seed": i,
            "formula": "Ag3SBr",
        }
        for i, d in enumerate(displacements)
    ]
    db.upsert("configurations", docs, key="config_id")
    return docs


@pytest.fixture(scope="module")
def chgnet():
    return get_calculator("chgnet", model_name="0.3.0")


def _check_against_chgnet(doc, config, chgnet):
    atoms = AseAtomsAdaptor.get_atoms(Structure.from_dict(config["structure"]))
    atoms.calc = chgnet
    assert doc["energy_ev"] == pytest.approx(atoms.get_potential_energy(), abs=1e-5)
    np.testing.assert_allclose(doc["forces_ev_per_ang"], atoms.get_forces(), atol=1e-5)
    np.testing.assert_allclose(doc["stress_ev_per_ang3"], atoms.get_stress(voigt=False), atol=1e-7)


def test_flow_labels_each_configuration_once(db, chgnet):
    configs = _add_configs(db, [0.0, 0.02, 0.04])
    flow = labeling_flow("chgnet-gfn1-xtb", batch_size=2, db=db)
    summary = run_flow(flow, db)
    assert summary.n_failed == 0
    out = summary.outputs["flow"]  # the flow's output: every label document, as dicts
    assert sorted(d["config_id"] for d in out) == ["c0", "c1", "c2"]
    assert {d["scheme"] for d in out} == {"test"} and {d["status"] for d in out} == {"ok"}
    assert [j.name for j in flow.jobs].count("label batch chgnet-gfn1-xtb 1") == 1
    assert len(flow.jobs) == 3  # two batches of at most 2, one job collecting the labels
    # the labels collection is built from the batch outputs after the run
    docs = {d["config_id"]: d for d in db.query("labels", {"level": "chgnet-gfn1-xtb"})}
    assert sorted(docs) == ["c0", "c1", "c2"]

    for config in configs:
        doc = docs[config["config_id"]]
        LabelDoc.model_validate({k: v for k, v in doc.items() if k in LabelDoc.model_fields})
        assert doc["label_id"] == f"{config['config_id']}:chgnet-gfn1-xtb"
        assert doc["status"] == "ok" and doc["n_atoms"] == 5 and doc["scheme"] == "test"
        _check_against_chgnet(doc, config, chgnet)
        assert doc["energy_per_atom_ev"] == pytest.approx(doc["energy_ev"] / 5)
        assert 0.1 < doc["band_gap_ev"] < 5 and doc["vbm_ev"] < 0
        assert doc["provenance"]["level"] == "chgnet-gfn1-xtb"
    # thermal displacements change the gap
    assert docs["c0"]["band_gap_ev"] != docs["c2"]["band_gap_ev"]

    # a re-run selects nothing (all labelled) and leaves the stored labels untouched
    before = {d["label_id"]: d["provenance"]["created_at"] for d in db.query("labels")}
    again = run_flow(labeling_flow("chgnet-gfn1-xtb", batch_size=2, db=db), db)
    assert again.outputs["flow"] == [] and again.n_failed == 0
    assert {d["label_id"]: d["provenance"]["created_at"] for d in db.query("labels")} == before

    # deleted labels are selected again; their batch has the inputs of an earlier batch, so
    # its stored output is reused (the key decides) and the collection is rebuilt from it
    assert db.delete("labels", {"config_id": {"$in": ["c0", "c1"]}}) == 2
    again = run_flow(labeling_flow("chgnet-gfn1-xtb", batch_size=2, db=db), db)
    assert sorted(d["config_id"] for d in again.outputs["flow"]) == ["c0", "c1"]
    assert again.n_reused == 1 and again.n_ran == 1  # the batch; the collecting job is new
    assert db.count("labels", {"level": "chgnet-gfn1-xtb", "status": "ok"}) == 3

    # a second level is a separate set of labels on the same configurations
    run_flow(labeling_flow("chgnet-ipea1-xtb", batch_size=8, limit=2, db=db), db)
    assert db.count("labels", {"level": "chgnet-ipea1-xtb", "status": "ok"}) == 2
    assert db.count("labels") == 5
    # the limit caps the selection, not each run: the same limit again labels nothing new
    again = run_flow(labeling_flow("chgnet-ipea1-xtb", batch_size=8, limit=2, db=db), db)
    assert again.outputs["flow"] == []
    assert db.count("labels", {"level": "chgnet-ipea1-xtb", "status": "ok"}) == 2


def test_scf_failure_is_recorded_and_the_batch_goes_on(any_db):
    db = any_db
    # with at most 6 SCF iterations GFN1-xTB converges for the ideal cell, not the rattled one
    # (it needs 6 and 8 at the level's accuracy)
    configs = _add_configs(db, [0.0, 0.3, 0.0])
    base = load_level("chgnet-gfn1-xtb")
    strict = base.model_copy(
        update={
            "name": "chgnet-gfn1-xtb-6it",
            "embedded": base.embedded.model_copy(update={"gap_max_iterations": 6}),
        }
    )
    out = label_batch(configs, strict)
    assert out.labelled == ["c0:chgnet-gfn1-xtb-6it", "c2:chgnet-gfn1-xtb-6it"]
    assert list(out.failed) == ["c1"] and "SCF" in out.failed["c1"]
    assert [d.config_id for d in out.labels] == ["c0", "c1", "c2"]
    failed = out.labels[1]
    assert failed.status == "failed" and "not converged" in failed.reason
    assert failed.energy_ev is None and failed.band_gap_ev is None and failed.scheme == "test"
    # what the labels builder writes from this output
    db.upsert("labels", [d.model_dump(mode="json") for d in out.labels], key="label_id")
    # failed documents are not labels: not exported, and selected again for relabelling,
    # marked with the failure so that the new batch is not the reused failed one
    exported = label_docs_to_atoms(db.query("labels"))
    assert [a.info["config_id"] for a in exported] == ["c0", "c2"]
    todo, n_done = select_unlabelled(db, strict.name)
    assert [c["config_id"] for c in todo] == ["c1"] and n_done == 2
    assert "not converged" in todo[0]["previous_failure"]
    assert Structure.from_dict(todo[0]["structure"]) == Structure.from_dict(configs[1]["structure"])
    assert todo[0]["scheme"] == "test"
    # a looser level labels it
    loose = strict.model_copy(
        update={"embedded": strict.embedded.model_copy(update={"gap_max_iterations": 100})}
    )
    again = label_batch(todo, loose)
    assert again.labelled == ["c1:chgnet-gfn1-xtb-6it"] and again.labels[0].status == "ok"


def test_flow_builder_validates_settings_before_making_jobs():
    with pytest.raises(UnknownEntryError, match="unknown level 'pbe0'"):
        labeling_flow("pbe0")
    with pytest.raises(InputError, match="batch_size=0"):
        labeling_flow("pbesol", batch_size=0)
    with pytest.raises(InputError, match="limit=-1"):
        labeling_flow("pbesol", limit=-1)
    with pytest.raises(InputError, match="batch_size=0"):
        LabelingFlowMaker(batch_size=0).make("pbesol", [])
    configs = [{"config_id": "b", "structure": _cell(0.0, 1).as_dict(), "scheme": "phonon"}]
    configs += [{"config_id": "a", "structure": _cell(0.01, 2).as_dict(), "scheme": "random"}]
    flow = LabelingFlowMaker(batch_size=4).make("chgnet-gfn1-xtb", configs + configs[:1])
    batch, _summary = flow.jobs
    assert [c["config_id"] for c in batch.function_args[0]] == ["a", "b"]  # sorted, once
    assert batch.function_args[1]["embedded"]["gap_method"] == "GFN1-xTB"
    # a VASP level gets one atomate2 static job and one label job per configuration
    flow = LabelingFlowMaker().make("hsesol", configs, limit=1)
    names = [j.name for j in flow.jobs]
    assert names[-1] == "labeling summary hsesol" and len(names) == 3
    with pytest.raises(InputError, match="is a mapping"):
        LabelingFlowMaker().make("pbesol", {"x": 0.5})  # a query is not configurations
    with pytest.raises(InputError, match="lacks 'structure'"):
        LabelingFlowMaker().make("pbesol", [{"config_id": "x"}])


def test_dataset_and_labeling_flows_run_on_a_memory_job_store(chgnet):
    """No database: configurations and labels travel as job outputs, by reference."""
    from jobflow import Flow, JobStore, run_locally
    from jobflow.core.reference import find_and_resolve_references
    from maggma.stores import MemoryStore

    from thermogap.flows.dataset import dataset_flow

    data = dataset_flow(
        parents=["Ag3SBr"],
        compositions=[1.0],
        schemes=["random", "equilibrium"],
        random_amplitudes_ang=[0.1],
        n_per_batch=2,
        supercell=[1, 1, 1],
        relax_parents=False,
    )
    labels = LabelingFlowMaker(batch_size=2).make("chgnet-gfn1-xtb", data.output["configurations"])
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(Flow([data, labels]), store=store, ensure_success=True)

    configurations = find_and_resolve_references(data.output["configurations"], store)
    assert sorted(c["scheme"] for c in configurations) == ["equilibrium", "random", "random"]
    out = find_and_resolve_references(labels.output, store)
    assert isinstance(out, list) and len(out) == 3
    by_id = {c["config_id"]: c for c in configurations}
    assert {d["config_id"] for d in out} == set(by_id)
    for doc in out:
        LabelDoc.model_validate(doc)
        config = by_id[doc["config_id"]]
        assert doc["status"] == "ok" and doc["scheme"] == config["scheme"]
        structure = config["structure"]
        structure = structure.as_dict() if hasattr(structure, "as_dict") else structure
        _check_against_chgnet(doc, {"structure": structure}, chgnet)
    # the labels made no database: both lists sit in jobflow's data store
    assert store.additional_stores["data"].count() >= 2


def test_dataset_and_labels_presets_fill_the_collections(tmp_path, capsys):
    """The CLI chain: the dataset preset builds ``configurations``, the labels preset labels it."""
    import json

    from thermogap.cli.main import main
    from thermogap.store import ResultsDB

    store = str(tmp_path / "store")
    tiny = ["compositions=[1.0]", "schemes=[random, equilibrium]", "n_per_batch=2"]
    tiny += ["random_amplitudes_ang=[0.1]", "supercell=[1, 1, 1]", "relax_parents=false"]
    tiny += ["parents=[Ag3SBr]", "temperatures_k=[300]"]
    sets = [arg for setting in tiny for arg in ("--set", setting)]
    assert main(["run", "dataset-quick", "--store", store, *sets, "--json"]) == 0
    capsys.readouterr()
    with ResultsDB.from_spec(store) as db:
        configs = db.query("configurations")
        assert sorted(d["scheme"] for d in configs) == ["equilibrium", "random", "random"]
    assert main(["run", "labels-chgnet-gfn1-xtb", "--store", store, "--set", "limit=2"]) == 0
    capsys.readouterr()
    with ResultsDB.from_spec(store) as db:
        labels = db.query("labels")
        first_two = sorted(d["config_id"] for d in configs)[:2]
        assert sorted(d["config_id"] for d in labels) == first_two
        schemes = {d["config_id"]: d["scheme"] for d in configs}
        assert all(d["status"] == "ok" and d["scheme"] == schemes[d["config_id"]] for d in labels)
    # the rest is labelled by the next run, the first two are not selected again
    assert main(["run", "labels-chgnet-gfn1-xtb", "--store", store, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [d["config_id"] for d in report["outputs"]["flow"]] == sorted(schemes)[2:]
    with ResultsDB.from_spec(store) as db:
        assert db.count("labels", {"status": "ok"}) == 3
