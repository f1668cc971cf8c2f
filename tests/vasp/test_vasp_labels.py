"""The VASP labelling path end to end with a fake VASP (reference directories).

Expected numbers are read from the reference vasprun.xml by independent parsers (ASE's
vasprun reader for energy/forces/stress with its own unit and sign conversion, and a
direct XML read of the eigenvalue table for the band edges), never from thermogap.
"""

from __future__ import annotations

import gzip
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from ase.io import read
from pymatgen.io.vasp import Incar, Kpoints

from thermogap.execution import run_flow
from thermogap.flows.labeling import LabelingFlowMaker
from thermogap.levels import load_level
from thermogap.vasp.run import vasp_static_label

VASP_TEST_DIR = Path(__file__).parents[1] / "test_data" / "vasp"


def _reference(case: str):
    atoms = read(VASP_TEST_DIR / case / "outputs" / "vasprun.xml.gz", format="vasp-xml")
    return atoms


def _band_edges_from_xml(case: str) -> tuple[float, float]:
    with gzip.open(VASP_TEST_DIR / case / "outputs" / "vasprun.xml.gz", "rt") as f:
        root = ET.parse(f).getroot()
    rows = [r.text.split() for r in root.find("calculation/eigenvalues").iter("r")]
    table = np.array(rows, dtype=float)
    occupied, empty = table[table[:, 1] > 0.5, 0], table[table[:, 1] <= 0.5, 0]
    return float(empty.min() - occupied.max()), float(occupied.max())


def _configs(db, cell, n=1):
    docs = []
    for i in range(n):
        docs.append(
            {
                "config_id": f"vasp-{i}",
                "structure": cell.as_dict(),
                "x": 1.0,
                "scheme": "test",
                "temperature_k": 0.0,
                "seed": i,
                "formula": "Ag3SBr",
            }
        )
    db.upsert("configurations", docs, key="config_id")
    return [{k: v for k, v in d.items() if k != "_id"} for d in docs]


@pytest.mark.parametrize(
    ("level", "case"), [("pbesol", "Ag3SBr_pbesol_static"), ("hsesol", "Ag3SBr_hsesol_static")]
)
def test_labeling_flow_with_fake_vasp(
    db, tmp_path, mock_vasp, ag3sbr_cell, level, case, monkeypatch
):
    configs = _configs(db, ag3sbr_cell)
    job_name = f"{level} static vasp-0"
    # inputs are checked against the hand-written reference inputs before outputs are copied
    mock_vasp({job_name: case}, {job_name: {"clear_inputs": False}})
    monkeypatch.chdir(tmp_path)  # run_locally runs atomate2's VASP job in the working dir
    summary = run_flow(LabelingFlowMaker().make(level, configs), db)
    assert summary.n_failed == 0
    (out,) = summary.outputs["flow"]  # the flow's output: its label documents
    assert out["label_id"] == f"vasp-0:{level}" and out["scheme"] == "test"

    # one atomate2 static job per configuration, its TaskDoc kept in the job store
    static = db.jobstore().query_one({"name": job_name}, load=True)
    assert static["output"]["task_label"] == job_name
    assert static["output"]["calcs_reversed"][0]["output"]["energy"] == pytest.approx(
        _reference(case).get_potential_energy(), abs=1e-6
    )
    run_dir = tmp_path
    # atomate2's fake only compares the KPOINTS style; check the divisions too
    assert (
        Kpoints.from_file(run_dir / "KPOINTS.gz").kpts
        == Kpoints.from_file(VASP_TEST_DIR / case / "inputs" / "KPOINTS").kpts
        == [(12, 12, 12)]
    )
    assert Incar.from_file(run_dir / "INCAR.gz")["ENCUT"] == 550  # atomate2 gzips the run

    # the labels collection is built from the label job's output
    doc = db.query_one("labels", {"label_id": f"vasp-0:{level}"})
    assert doc["status"] == "ok" and doc["reason"] is None and doc["scheme"] == "test"
    ref = _reference(case)
    assert doc["energy_ev"] == pytest.approx(ref.get_potential_energy(), abs=1e-6)
    assert doc["energy_per_atom_ev"] == pytest.approx(ref.get_potential_energy() / 5, abs=1e-6)
    np.testing.assert_allclose(doc["forces_ev_per_ang"], ref.get_forces(), atol=1e-6)
    np.testing.assert_allclose(doc["stress_ev_per_ang3"], ref.get_stress(voigt=False), atol=1e-9)
    gap, vbm = _band_edges_from_xml(case)
    assert doc["band_gap_ev"] == pytest.approx(gap, abs=1e-6)
    assert doc["vbm_ev"] == pytest.approx(vbm, abs=1e-6)
    assert doc["provenance"]["level"] == level


def test_unconverged_vasp_is_recorded_as_failure_and_batch_goes_on(
    db, tmp_path, mock_vasp, ag3sbr_cell, monkeypatch
):
    configs = _configs(db, ag3sbr_cell, n=2)
    # vasp-0 converges, vasp-1 hits NELM
    mock_vasp(
        {
            "pbesol static vasp-0": "Ag3SBr_pbesol_static",
            "pbesol static vasp-1": "Ag3SBr_pbesol_unconverged",
        }
    )
    monkeypatch.chdir(tmp_path)
    summary = run_flow(LabelingFlowMaker().make("pbesol", configs), db)
    assert summary.n_failed == 0
    ok = db.query("labels", {"status": "ok"})
    failed = db.query("labels", {"status": "failed"})
    assert [d["config_id"] for d in ok] == ["vasp-0"]
    assert [d["config_id"] for d in failed] == ["vasp-1"]
    assert "not converged" in failed[0]["reason"]
    assert failed[0]["energy_ev"] is None and failed[0]["forces_ev_per_ang"] is None
    flow_out = {d["config_id"]: d["status"] for d in summary.outputs["flow"]}
    assert flow_out == {"vasp-0": "ok", "vasp-1": "failed"}


@pytest.mark.parametrize(
    ("max_errors", "n_runs", "error"), [(1, 1, "MaxCorrections"), (3, 2, "NonRecoverableError")]
)
def test_custodian_gives_up(tmp_path, ag3sbr_cell, max_errors, n_runs, error):
    # A real custodian run with a stand-in VASP executable that always prints a VASP error.
    # custodian corrects PRICEL once (SYMPREC/ISYM), then cannot; with max_errors=1 it stops
    # after the first correction.
    fake_vasp = tmp_path / "fake_vasp.sh"
    fake_vasp.write_text(
        "#!/bin/sh\necho 'internal error in subroutine PRICEL'\necho run >> runs.log\n"
    )
    fake_vasp.chmod(fake_vasp.stat().st_mode | stat.S_IEXEC)
    level = load_level("pbesol")
    custodian = level.vasp.custodian.model_copy(
        update={
            "max_errors": max_errors,
            "handlers": ["VaspErrorHandler"],
            "vasp_cmd": str(fake_vasp),
            "polling_time_step_s": 0.05,
        }
    )
    level = level.model_copy(
        update={"vasp": level.vasp.model_copy(update={"custodian": custodian})}
    )
    run_dir = tmp_path / "run"
    doc = vasp_static_label(ag3sbr_cell, "c-1", level, run_dir, potcar_spec=True)
    assert doc.status == "failed"
    assert doc.reason.startswith(f"custodian/VASP failed: {error}")
    assert doc.energy_ev is None and doc.band_gap_ev is None
    assert len((run_dir / "runs.log").read_text().split()) == n_runs
    if n_runs > 1:  # the correction custodian applied is in the INCAR of the last run
        assert Incar.from_file(run_dir / "INCAR")["ISYM"] == 0


def test_atomate2_static_maker_of_a_level(tmp_path, mock_vasp, ag3sbr_cell):
    from jobflow import run_locally

    from thermogap.vasp.makers import relax_maker, static_maker
    from thermogap.vasp.parse import label_doc_from_task_doc

    level = load_level("pbesol")
    maker = static_maker(level)
    assert maker.run_vasp_kwargs["max_errors"] == level.vasp.custodian.max_errors
    assert relax_maker(level).input_set_generator.relax_force_tolerance_ev_per_ang == 0.005
    mock_vasp({maker.name: "Ag3SBr_pbesol_static"})
    job = maker.make(ag3sbr_cell)
    responses = run_locally(job, root_dir=tmp_path, ensure_success=True)
    task_doc = responses[job.uuid][1].output
    doc = label_doc_from_task_doc(task_doc, "c-0", level.name, ag3sbr_cell.as_dict())
    ref = _reference("Ag3SBr_pbesol_static")
    assert doc.status == "ok"
    assert doc.energy_ev == pytest.approx(ref.get_potential_energy(), abs=1e-6)
    np.testing.assert_allclose(doc.stress_ev_per_ang3, ref.get_stress(voigt=False), atol=1e-9)


def test_crashed_vasp_job_becomes_a_failed_label(db, tmp_path, mock_vasp, ag3sbr_cell, monkeypatch):
    configs = _configs(db, ag3sbr_cell, n=2)
    # vasp-1 has no reference directory: atomate2's fake VASP raises, as a crashed run would
    mock_vasp({"pbesol static vasp-0": "Ag3SBr_pbesol_static"})
    monkeypatch.chdir(tmp_path)
    summary = run_flow(LabelingFlowMaker().make("pbesol", configs), db)
    # the static job of vasp-1, and only it, failed
    assert [e.split(":")[0] for e in summary.errors] == ["pbesol static vasp-1"]
    failed = db.query_one("labels", {"config_id": "vasp-1"})
    assert failed["status"] == "failed"
    assert "atomate2 VASP static job failed" in failed["reason"]
    assert db.query_one("labels", {"config_id": "vasp-0"})["status"] == "ok"
    assert [d["status"] for d in summary.outputs["flow"]] == ["ok", "failed"]
