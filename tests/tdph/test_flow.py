"""The tdph flow under jobflow.run_locally with a MemoryStore and a "data" additional store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Lattice, Structure

from thermogap.engines import CALCULATORS
from thermogap.errors import InputError
from thermogap.flows.registry import FLOW_BUILDERS
from thermogap.flows.tdph import TDPH_EXAMPLES, TdphFlowMaker, example_structures, tdph_flow
from thermogap.jobs.tdph import TdphHarmonicMaker, TdphRenormaliseMaker
from thermogap.schemas.tdph import TdphDoc, TdphSettings, TdphSummaryDoc
from thermogap.tdph.compound import collect_inputs

ENGINE = "tdph-test-emt"  # ASE's EMT: Cu, Al, Ni, Ag, Au, Pd, Pt only; milliseconds per call
if ENGINE not in CALCULATORS:
    CALCULATORS.register(ENGINE, "ase.calculators.emt:EMT")


def _store() -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})


def _cu() -> Structure:
    return Structure(
        Lattice.cubic(3.61), ["Cu"] * 4, [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]
    ).get_primitive_structure()


def _maker(temperatures: list[float]) -> TdphFlowMaker:
    return TdphFlowMaker(
        temperatures_k=temperatures,
        harmonic_maker=TdphHarmonicMaker(calculator=ENGINE, supercell_matrix=[2, 2, 2]),
        renormalise_maker=TdphRenormaliseMaker(
            calculator=ENGINE,
            settings=TdphSettings(
                n_samples=4, shift_mesh=[4, 4, 4], band_npoints=5, baseline_temperature_k=1.0
            ),
        ),
    )


def test_flow_runs_records_failure_and_keeps_going(tmp_path: Path) -> None:
    cu = _cu()
    bad = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    cu_file = tmp_path / "Cu.cif"
    cu.to(filename=str(cu_file))
    flow = _maker([100.0, 800.0]).make([bad, str(cu_file)])
    store = _store()
    run_locally(flow, store=store, log=False, root_dir=tmp_path)
    summary = TdphSummaryDoc.model_validate(store.query_one({"name": "tdph summary"})["output"])
    assert summary.n_compounds == 2 and summary.n_ok == 1
    assert "Si" in summary.failed and "NotImplementedError" in summary.failed["Si"]
    assert {r["compound_id"] for r in summary.rows} == {"Cu"}
    docs = [
        TdphDoc.model_validate(d["output"])
        for d in store.query(
            {"output.compound_id": "Cu", "output.temperature_k": {"$gt": 0}}, load=True
        )
    ]
    by_t = {d.temperature_k: d for d in sorted(docs, key=lambda d: d.temperature_k)}
    assert set(by_t) == {100.0, 800.0}
    # EMT copper is anharmonic: hotter means a larger renormalisation (monotonic in T)
    assert 0 < by_t[100.0].r_full < by_t[800.0].r_full
    assert by_t[100.0].r_onsite_max < by_t[800.0].r_onsite_max
    # the 1 K baseline (same draws) renormalises less than 800 K does
    assert by_t[800.0].r_onsite_max_baseline < 0.5 * by_t[800.0].r_onsite_max
    assert by_t[800.0].baseline_temperature_k == 1.0
    assert by_t[800.0].stable_harmonic and by_t[800.0].spacegroup_number == 225
    # force constants went to the data store, not into the outputs document
    raw = store.query_one({"output.compound_id": "Cu", "output.temperature_k": 800.0}, load=False)
    assert "blob_uuid" in raw["output"]["force_constants"]
    fc = np.asarray(by_t[800.0].force_constants)
    assert fc.shape == (8, 8, 3, 3) and abs(fc.sum(axis=1)).max() < 1e-8


def test_phonopy_yaml_skips_harmonic(tmp_path: Path) -> None:
    from ase.calculators.emt import EMT

    from thermogap.phonons.harmonic import compute_force_constants

    phonon = compute_force_constants(_cu(), EMT(), supercell_matrix=(2, 2, 2))
    path = tmp_path / "Cu_phonopy.yaml"
    phonon.save(str(path), settings={"force_constants": True})
    (compound,) = collect_inputs([str(path)])
    assert compound.phonopy_yaml == str(path) and compound.structure is None
    flow = _maker([300.0]).make([str(path)])
    store = _store()
    run_locally(flow, store=store, log=False, root_dir=tmp_path)
    harmonic = store.query_one({"name": {"$regex": "^tdph harmonic"}}, load=True)["output"]
    assert harmonic["source"] == str(path) and harmonic["n_calculator_calls"] == 0
    np.testing.assert_allclose(harmonic["force_constants"], phonon.force_constants, atol=1e-10)


def test_inputs_and_registry() -> None:
    assert FLOW_BUILDERS.get("tdph") is tdph_flow
    paths = example_structures()
    assert len(paths) == len(TDPH_EXAMPLES) >= 5
    compounds = collect_inputs([*paths, Structure.from_file(paths[0])])
    assert [c.compound_id for c in compounds][-1] == "SrTiO3-2"  # ids made unique
    with pytest.raises(InputError):
        collect_inputs(["/nonexistent/POSCAR"])
    with pytest.raises(InputError):
        example_structures(["Unobtainium"])
    with pytest.raises(InputError):
        TdphFlowMaker(temperatures_k=[-5.0]).make(paths[:1])
    flow = tdph_flow(examples=["NaCl", "Si"], temperatures_k=[300, 600])
    assert len(flow.jobs) == 3  # two compound sub-flows and the summary


@pytest.mark.parametrize("name", ["tdph-quick", "tdph-paper"])
def test_presets_build(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from thermogap.flows.presets import build_preset_flow, load_preset

    preset = load_preset(name)
    assert preset.flow == "tdph"
    overrides = {}
    if name == "tdph-paper":  # the paper preset points at a folder the user provides
        folder = tmp_path / "structures"
        folder.mkdir()
        for path in example_structures(["Si", "MgO"]):
            (folder / Path(path).name).write_text(Path(path).read_text())
        overrides = {"structures": [str(folder)]}
    flow = build_preset_flow(preset, overrides)
    n_compounds = len(preset.settings.get("examples") or []) or 2
    assert len(flow.jobs) == n_compounds + 1


def test_run_flow_into_results_db_then_query(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from thermogap.cli.query import command as query_command
    from thermogap.execution.local import run_flow
    from thermogap.store import ResultsDB

    store = str(tmp_path / "db")
    db = ResultsDB.from_spec(store)
    run_flow(_maker([300.0]).make([_cu()]), db)
    derived = db.query("tdph", {"compound_id": "Cu"})
    db.close()
    assert len(derived) == 1 and derived[0]["temperature_k"] == 300.0
    out = CliRunner().invoke(query_command, ["tdph", "--store", store, "--json"])
    assert out.exit_code == 0, out.output
    (doc,) = json.loads(out.output)
    assert doc["compound_id"] == "Cu" and doc["r_onsite_max"] == derived[0]["r_onsite_max"]


def test_second_run_reuses_finished_jobs(tmp_path: Path) -> None:
    from thermogap.execution.local import run_flow
    from thermogap.store import ResultsDB

    db = ResultsDB.from_spec(str(tmp_path / "db"))
    first = run_flow(_maker([300.0]).make([_cu()]), db)
    second = run_flow(_maker([300.0]).make([_cu()]), db)
    db.close()
    assert first.n_reused == 0 and second.n_reused >= 2  # harmonic + renormalise reused
