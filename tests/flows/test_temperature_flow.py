"""The finite-temperature band-gap flow end to end on tiny settings, and its input checks."""

import io
import json
import subprocess
import sys

import pytest
from pymatgen.core import Structure

from fixtures.temperature import TINY
from thermogap.errors import InputError
from thermogap.execution import run_flow
from thermogap.flows.temperature import temperature_flow
from thermogap.gnn.bundle import load_gnn
from thermogap.gnn.inference import predict
from thermogap.md.langevin import load_trajectory


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from thermogap.store import ResultsDB

    db = ResultsDB.from_spec(tmp_path_factory.mktemp("study") / "store")
    first = run_flow(temperature_flow(**TINY), db)
    second = run_flow(temperature_flow(**TINY), db)
    yield db, first, second
    db.close()


def test_flow_completes_and_stores_one_result_per_x_and_t(study):
    db, first, _ = study
    assert first.n_failed == 0, first.errors
    docs = db.query("band_gaps")
    assert sorted((d["x"], d["temperature_k"]) for d in docs) == [
        (0.0, 0.0),
        (0.0, 300.0),
        (0.5, 0.0),
        (0.5, 300.0),
    ]
    for d in docs:
        assert d["levels_of_theory"] == ["chgnet-gfn1-xtb", "chgnet-ipea1-xtb"]
        assert d["level"] == "chgnet-ipea1-xtb"
        assert d["delta_gap_ev"] == pytest.approx(d["band_gap_ev"] - d["band_gap_0k_ev"])


def test_zero_kelvin_gap_is_the_gnn_gap_of_the_lowest_relaxed_configuration(study):
    db, _, _ = study
    for x in (0.0, 0.5):
        ranking = db.query_one("disorder", {"x": x})
        lowest = min(ranking["configurations"], key=lambda c: c["energy_per_atom_ev"])
        result = db.query_one("band_gaps", {"x": x, "temperature_k": 0.0})
        bundle = load_gnn(db, result["gnn_model_id"])
        expected = predict(bundle, [Structure.from_dict(lowest["structure"])])[0]
        assert result["band_gap_ev"] == pytest.approx(expected, abs=1e-6)
        assert result["stderr_ev"] == 0.0 and result["delta_gap_ev"] == pytest.approx(0.0)


def test_disorder_ranking_covers_every_inequivalent_configuration(study):
    db, _, _ = study
    ranking = db.query_one("disorder", {"x": 0.5})
    # 2x2x2 cube corners, 4 of 8 substituted: 6 classes, multiplicities summing to C(8,4)
    assert ranking["n_inequivalent"] == 6 and len(ranking["configurations"]) == 6
    assert sum(c["multiplicity"] for c in ranking["configurations"]) == 70
    energies = [c["energy_per_atom_ev"] for c in ranking["configurations"]]
    assert energies == sorted(energies)


def test_finite_temperature_gap_is_a_snapshot_average_of_its_trajectory(study):
    db, _, _ = study
    result = db.query_one("band_gaps", {"x": 0.5, "temperature_k": 300.0})
    loaded = load_trajectory(db, result["trajectory_ids"][0])
    start = Structure.from_dict(loaded.doc.structure)
    frames = [
        Structure(start.lattice, start.species, positions, coords_are_cartesian=True)
        for positions in loaded.arrays["positions_ang"]
    ]
    gaps = predict(load_gnn(db, result["gnn_model_id"]), frames)
    assert gaps.min() <= result["band_gap_ev"] <= gaps.max()
    assert 2 <= result["n_snapshots"] <= len(frames)  # every frame after equilibration
    assert result["n_independent"] > 0 and result["equilibration"] == "detected"
    # provenance: every upstream job, from the parent phonons to the MD, by uuid
    upstream = set(result["upstream"].values())
    assert {"mace training", "gnn fine-tune chgnet-ipea1-xtb"} <= upstream
    assert "batched md (2 trajectories)" in upstream  # two trajectories share the MLIP
    assert "snapshot gaps (2 trajectories)" in upstream  # and one batched GNN inference
    assert "harmonic phonons Ag3SBr" in upstream
    assert result["stderr_ev"] > 0 and result["correlation_time_fs"] > 0
    assert result["snapshot_spacing_fs"] >= 2.0  # at least one saved frame (2 steps of 1 fs)


def test_rerun_reuses_the_expensive_jobs(study):
    db, _, second = study
    assert second.n_failed == 0, second.errors
    docs = db.query("outputs", {"hosts": second.flow_uuid}, properties=["name", "metadata"])
    ran = {d["name"] for d in docs if not d["metadata"]["thermogap"].get("reused")}
    # only jobs that read the database or dispatch other jobs run again; training, labels,
    # relaxations, phonons, MD and gaps are all reused
    cheap = (
        "electron-phonon",
        "finite-T phonons",
        "gnn dataset",
        "labelled_config_ids",
        "select configurations to label",
        "labeling summary",
        "store_inputs",
        "self-check summary",
    )
    expensive = sorted(name for name in ran if not name.startswith(cheap))
    assert ran and not expensive, expensive
    assert db.count("band_gaps") == 4 and db.count("models", {"kind": "mace"}) == 1


def test_study_summary_has_a_table_and_figures(study):
    import matplotlib.image as mpimg

    db, first, _ = study
    summary = first.outputs["flow"]
    assert len(summary.table) == 4
    assert summary.levels_of_theory == ["chgnet-gfn1-xtb", "chgnet-ipea1-xtb"]
    for ref in summary.plots.values():
        image = mpimg.imread(io.BytesIO(db.blobs.get_bytes(ref)), format="png")
        assert image.ndim == 3 and image.shape[0] > 100
    assert db.count("electron_phonon") == 2


def test_query_filters_the_stored_results(study):
    db, _, _ = study
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "thermogap.cli.main",
            "query",
            "band-gaps",
            "--store",
            str(db.config.path),
            "--x",
            "0.5",
            "--temperature",
            "300",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    docs = json.loads(out.stdout)
    assert [(d["x"], d["temperature_k"]) for d in docs] == [(0.5, 300.0)]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"compositions": [0.3]}, "1/8"),
        ({"temperatures_k": [0, -50]}, "-50"),
        ({"species": ["Br", "Xx"]}, "Xx"),
        ({"compositions": []}, "compositions"),
        ({"finite_temperature_phonons": True}, "coarser than the stability threshold"),
    ],
)
def test_bad_input_fails_before_any_job(override, message):
    with pytest.raises(InputError, match=message):
        temperature_flow(**(TINY | override))


def test_nmd_can_run_on_a_larger_md_cell_with_more_qpoints():
    long_md = {"total_time_ps": 40.0, "save_interval_steps": 10}
    flow = temperature_flow(
        **(
            TINY
            | {"finite_temperature_phonons": True, "md": long_md, "temperatures_k": [0, 300]}
            | {"compositions": [0.0], "nmd": {"md_supercell": [2, 1, 1]}}
        )
    )
    names = [job.name for job, _ in flow.iterflow()]
    assert "nmd md 2x1x1 x=0 300 K" in names and "nmd cell 2x1x1 x=0" in names
    assert any(name.startswith("finite-T phonons x=0 300 K") for name in names)


def test_missing_model_id_is_named(db):
    with pytest.raises(InputError, match="mace-doesnotexist"):
        temperature_flow(db=db, **(TINY | {"mlip_model_id": "mace-doesnotexist"}))


def test_cli_bad_x_is_one_line_and_writes_nothing(tmp_path):
    store = tmp_path / "store"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "thermogap.cli.main",
            "run",
            "quick",
            "--store",
            str(store),
            "--set",
            "compositions=[0.3]",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "0.3" in out.stderr and "1/8" in out.stderr
    assert not (store / "db").exists() or not any((store / "db").iterdir())


def test_boltzmann_selection_simulates_the_lowest_few_configurations():
    boltzmann = TINY | {"selection": "boltzmann", "max_configurations": 3}
    # by default the 4 trajectories are one batched MD job and one batched GNN-gap job
    names = [job.name for job, _ in temperature_flow(**boltzmann).iterflow()]
    assert names.count("batched md (4 trajectories)") == 1
    assert names.count("snapshot gaps (4 trajectories)") == 1
    assert not any(name.startswith(("md x=", "snapshot gaps x=")) for name in names)
    # the ASE engine makes one MD job per trajectory
    flow = temperature_flow(**(boltzmann | {"md_engine": "ase"}))
    names = [job.name for job, _ in flow.iterflow()]
    assert sum(name.startswith("snapshot gaps x=0.5 300 K #") for name in names) == 3
    # x = 0 has one configuration; x = 1/2 has 6 classes, of which the 3 lowest are simulated
    assert sum(name.startswith("md x=0 ") for name in names) == 1
    assert sorted(n for n in names if n.startswith("md x=0.5 ")) == [
        "md x=0.5 300 K #0",
        "md x=0.5 300 K #1",
        "md x=0.5 300 K #2",
    ]


def test_band_gaps_carry_the_reference_level_computed_directly(study):
    """Independent check: IPEA1-xTB (level B's gap Hamiltonian) on the relaxed 0 K structure."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from thermogap.engines.embedded import xtb_band_edges
    from thermogap.levels import load_level

    db, first, _ = study
    gap = load_level("chgnet-ipea1-xtb").embedded
    for x in (0.0, 0.5):
        ranking = db.query_one("disorder", {"x": x})
        lowest = min(ranking["configurations"], key=lambda c: c["energy_per_atom_ev"])
        atoms = AseAtomsAdaptor.get_atoms(Structure.from_dict(lowest["structure"]))
        expected = xtb_band_edges(
            atoms, gap.gap_method, gap.gap_accuracy, gap.gap_max_iterations
        ).band_gap_ev
        zero = db.query_one("band_gaps", {"x": x, "temperature_k": 0.0})
        assert zero["reference_band_gap_ev"] == pytest.approx(expected, abs=1e-6)
        hot = db.query_one("band_gaps", {"x": x, "temperature_k": 300.0})
        assert hot["reference_band_gap_0k_ev"] == pytest.approx(expected, abs=1e-6)
        assert hot["n_reference_snapshots"] == 3 and hot["reference_level"] == "chgnet-ipea1-xtb"
        assert hot["reference_delta_gap_ev"] == pytest.approx(
            hot["reference_band_gap_ev"] - expected
        )
        assert hot["gnn_reference_mae_ev"] > 0
    check = first.outputs["flow"].self_check
    assert check["line"].startswith("self-check vs chgnet-ipea1-xtb on 6 MD snapshots")
    assert isinstance(check["passed"], bool) and len(check["comparisons"]) == 2


def test_configurations_are_fully_relaxed_with_the_cell():
    flow = temperature_flow(**TINY)
    ranks = [j for j, _ in flow.iterflow() if j.name.startswith("relax and rank")]
    assert ranks and all(j.maker.relax_cell for j in ranks)
    ions_only = temperature_flow(**(TINY | {"relax_cell": False}))
    assert not any(
        j.maker.relax_cell for j, _ in ions_only.iterflow() if j.name.startswith("relax and rank")
    )


def test_rerun_with_another_md_length_keeps_both_results(study):
    """Last test of the module: it adds results to the shared study's database."""
    db, _, _ = study
    before = {d["result_id"]: d for d in db.query("band_gaps")}
    longer = TINY | {"md": TINY["md"] | {"total_time_ps": 0.14}}
    third = run_flow(temperature_flow(**longer), db)
    assert third.n_failed == 0, third.errors
    # training, labels, relaxations and phonons were reused; the MD and what follows ran
    reused = {r["name"] for r in third.reused}
    assert "mace training" in reused and any(n.startswith("0 K phonons") for n in reused)
    assert not any(n.startswith(("md ", "batched md")) for n in reused)
    after = {d["result_id"]: d for d in db.query("band_gaps")}
    assert set(before) < set(after)  # nothing overwritten, new results added
    hot = [d for d in after.values() if d["temperature_k"] == 300.0]
    assert len(hot) == 4  # two x, two MD lengths
    for x in (0.0, 0.5):
        (tid,) = {d["trajectory_ids"][0] for d in hot if d["x"] == x}  # one trajectory, longer
        runs = db.query("trajectories", {"trajectory_id": tid}, properties=["n_steps_done"])
        assert sorted(r["n_steps_done"] for r in runs) == [100, 140]  # 0.1 and 0.14 ps, 1 fs
