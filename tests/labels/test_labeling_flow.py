"""The embedded labelling flow: labels stored once per (config, level), failures recorded.

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


def test_flow_labels_each_configuration_once(db, chgnet):
    configs = _add_configs(db, [0.0, 0.02, 0.04])
    flow = LabelingFlowMaker(batch_size=2).make("chgnet-gfn1-xtb")
    summary = run_flow(flow, db)
    out = summary.outputs["flow"]
    assert (out.n_selected, out.n_labelled, out.n_batches, out.failed) == (3, 3, 2, {})
    docs = {d["config_id"]: d for d in db.query("labels", {"level": "chgnet-gfn1-xtb"})}
    assert sorted(docs) == ["c0", "c1", "c2"]

    for config in configs:
        doc = docs[config["config_id"]]
        assert doc["label_id"] == f"{config['config_id']}:chgnet-gfn1-xtb"
        assert doc["status"] == "ok" and doc["n_atoms"] == 5
        atoms = AseAtomsAdaptor.get_atoms(Structure.from_dict(config["structure"]))
        atoms.calc = chgnet
        assert doc["energy_ev"] == pytest.approx(atoms.get_potential_energy(), abs=1e-5)
        np.testing.assert_allclose(doc["forces_ev_per_ang"], atoms.get_forces(), atol=1e-5)
        np.testing.assert_allclose(
            doc["stress_ev_per_ang3"], atoms.get_stress(voigt=False), atol=1e-7
        )
        assert doc["energy_per_atom_ev"] == pytest.approx(doc["energy_ev"] / 5)
        assert 0.1 < doc["band_gap_ev"] < 5 and doc["vbm_ev"] < 0
        assert doc["provenance"]["level"] == "chgnet-gfn1-xtb"
    # thermal displacements change the gap
    assert docs["c0"]["band_gap_ev"] != docs["c2"]["band_gap_ev"]

    # re-running labels nothing and leaves the stored labels untouched
    before = {d["label_id"]: d["provenance"]["created_at"] for d in db.query("labels")}
    again = run_flow(LabelingFlowMaker(batch_size=2).make("chgnet-gfn1-xtb"), db)
    out = again.outputs["flow"]
    assert (out.n_selected, out.n_already_labelled, out.n_batches, out.n_labelled) == (3, 3, 0, 0)
    assert {d["label_id"]: d["provenance"]["created_at"] for d in db.query("labels")} == before

    # labels deleted from the database are computed again by the next run, even when the
    # new batch has exactly the inputs of an earlier batch (no stale reuse of job outputs)
    assert db.delete("labels", {"config_id": {"$in": ["c0", "c1"]}}) == 2
    again = run_flow(LabelingFlowMaker(batch_size=2).make("chgnet-gfn1-xtb"), db)
    assert (again.outputs["flow"].n_batches, again.outputs["flow"].n_labelled) == (1, 2)
    assert db.count("labels", {"level": "chgnet-gfn1-xtb", "status": "ok"}) == 3

    # a second level is a separate set of labels on the same configurations
    run_flow(LabelingFlowMaker(batch_size=8).make("chgnet-ipea1-xtb", limit=2), db)
    assert db.count("labels", {"level": "chgnet-ipea1-xtb", "status": "ok"}) == 2
    assert db.count("labels") == 5
    # the limit caps the selection, not each run: the same limit again labels nothing new
    run_flow(LabelingFlowMaker(batch_size=8).make("chgnet-ipea1-xtb", limit=2), db)
    assert db.count("labels", {"level": "chgnet-ipea1-xtb", "status": "ok"}) == 2


def test_scf_failure_is_recorded_and_the_batch_goes_on(any_db):
    db = any_db
    # with at most 6 SCF iterations GFN1-xTB converges for the ideal cell, not the rattled one
    # (it needs 6 and 8 at the level's accuracy)
    _add_configs(db, [0.0, 0.3, 0.0])
    base = load_level("chgnet-gfn1-xtb")
    strict = base.model_copy(
        update={
            "name": "chgnet-gfn1-xtb-6it",
            "embedded": base.embedded.model_copy(update={"gap_max_iterations": 6}),
        }
    )
    out = label_batch(db, ["c0", "c1", "c2", "missing"], strict)
    assert out.labelled == ["c0:chgnet-gfn1-xtb-6it", "c2:chgnet-gfn1-xtb-6it"]
    assert list(out.failed) == ["c1"] and "SCF" in out.failed["c1"]
    assert out.missing == ["missing"]
    failed = db.query_one("labels", {"config_id": "c1"})
    assert failed["status"] == "failed" and "not converged" in failed["reason"]
    assert failed["energy_ev"] is None and failed["band_gap_ev"] is None
    # failed documents are not labels: not exported, and selected again for relabelling
    exported = label_docs_to_atoms(db.query("labels"))
    assert [a.info["config_id"] for a in exported] == ["c0", "c2"]
    todo, n_done = select_unlabelled(db, strict.name)
    assert (todo, n_done) == (["c1"], 2)
    # a looser level labels it; the failure record is replaced by the label
    loose = strict.model_copy(
        update={"embedded": strict.embedded.model_copy(update={"gap_max_iterations": 100})}
    )
    assert label_batch(db, ["c1"], loose).labelled == ["c1:chgnet-gfn1-xtb-6it"]
    assert db.count("labels", {"config_id": "c1"}) == 1
    assert db.query_one("labels", {"config_id": "c1"})["status"] == "ok"


def test_flow_builder_validates_settings_before_making_jobs():
    with pytest.raises(UnknownEntryError, match="unknown level 'pbe0'"):
        labeling_flow("pbe0")
    with pytest.raises(InputError, match="batch_size=0"):
        labeling_flow("pbesol", batch_size=0)
    with pytest.raises(InputError, match="limit=-1"):
        labeling_flow("pbesol", limit=-1)
    flow = labeling_flow("hsesol", criteria={"x": 0.5}, batch_size=4)
    (job,) = flow.jobs
    assert job.function_kwargs == {} and job.function_args[0]["vasp"]["functional"] == "HSEsol"
    assert job.function_args[1] == {"x": 0.5}
