"""thermogap export band-gaps|phonons|trajectory|model and thermogap plots on a small store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fixtures.quick_store import FAKE_MACE_BYTES, KB_EV_PER_K, gap_ev, stderr_ev
from thermogap.cli.main import main


def run(capsys, *args):
    code = main([*args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_band_gaps_csv_and_parquet_hold_the_stored_gaps_with_units(capsys, quick_store, tmp_path):
    store, _ = quick_store
    csv, parquet = tmp_path / "gaps.csv", tmp_path / "gaps.parquet"
    run(capsys, "export", "band-gaps", "--store", str(store), "--csv", str(csv),
        "--parquet", str(parquet))  # fmt: skip
    frame = pd.read_csv(csv)
    assert {"x_fraction", "temperature_K", "band_gap_eV", "band_gap_stderr_eV"} <= set(frame)
    assert len(frame) == 9
    for row in frame.itertuples():
        assert row.band_gap_eV == pytest.approx(gap_ev(row.x_fraction, row.temperature_K))
        expected = stderr_ev(row.temperature_K) if row.temperature_K else 0.0
        assert row.band_gap_stderr_eV == pytest.approx(expected)
        gap0 = gap_ev(row.x_fraction, 0.0)
        assert row.relative_change_percent == pytest.approx(
            100 * (gap_ev(row.x_fraction, row.temperature_K) - gap0) / gap0
        )
    pd.testing.assert_frame_equal(
        pd.read_parquet(parquet)[frame.columns[:12]], frame[frame.columns[:12]], check_dtype=False
    )


def test_phonons_export_is_a_phonopy_file_with_the_force_constants(capsys, quick_store, tmp_path):
    import phonopy

    from thermogap.store import ResultsDB

    store, ids = quick_store
    files = run(capsys, "export", "phonons", ids["phonon_id"], "--store", str(store),
                "--out", str(tmp_path))["files"]  # fmt: skip
    with ResultsDB.from_spec(store) as db:
        doc = db.query_one("phonons", {"phonon_id": ids["phonon_id"]})
        stored_fc = db.blobs.get_array(doc["force_constants"])
    loaded = phonopy.load(files[0], produce_fc=False)
    written_fc = loaded.force_constants
    if written_fc.shape != stored_fc.shape:  # phonopy writes compact FCs: primitive-atom rows
        stored_fc = stored_fc[loaded.primitive.p2s_map]
    np.testing.assert_allclose(written_fc, stored_fc, atol=1e-10)
    # band.yaml: phonopy itself, on the loaded object, gives the same frequencies
    bands = yaml.safe_load(Path(files[1]).read_text())
    qpoints = [point["q-position"] for point in bands["phonon"]]
    written = np.array([[b["frequency"] for b in point["band"]] for point in bands["phonon"]])
    loaded.run_qpoints(qpoints)
    np.testing.assert_allclose(written, loaded.get_qpoints_dict()["frequencies"], atol=1e-6)
    assert len(qpoints) == len(doc["band_structure"]["qpoints"])


@pytest.mark.parametrize("fmt", ["extxyz", "traj"])
def test_trajectory_export_keeps_positions_velocities_and_energies(
    capsys, quick_store, tmp_path, fmt
):
    from ase import units
    from ase.io import read

    from thermogap.md.langevin import load_trajectory
    from thermogap.store import ResultsDB

    store, ids = quick_store
    tid = ids["trajectory_ids"][0]
    (path,) = run(capsys, "export", "trajectory", tid, "--store", str(store), "--format", fmt,
                  "--out", str(tmp_path))["files"]  # fmt: skip
    frames = read(path, index=":", format=fmt)
    with ResultsDB.from_spec(store) as db:
        loaded = load_trajectory(db, tid)
    arrays = loaded.arrays
    assert len(frames) == loaded.doc.n_frames_done == len(arrays["steps"])
    for k, atoms in enumerate(frames):
        np.testing.assert_allclose(atoms.positions, arrays["positions_ang"][k], atol=1e-6)
        np.testing.assert_allclose(
            atoms.get_velocities() * units.fs, arrays["velocities_ang_per_fs"][k], rtol=1e-6
        )
        assert atoms.get_potential_energy() == pytest.approx(arrays["potential_energy_ev"][k])
        # ASE's own kinetic energy: 3/2 N k_B T, as the store was built
        expected = 1.5 * len(atoms) * KB_EV_PER_K * loaded.doc.temperature_k
        assert atoms.get_kinetic_energy() == pytest.approx(expected, rel=1e-6)


def test_model_export_writes_the_verified_file_and_its_document(capsys, quick_store, tmp_path):
    store, ids = quick_store
    files = run(capsys, "export", "model", "mace-quickstore", "--store", str(store),
                "--out", str(tmp_path))["files"]  # fmt: skip
    assert Path(files[0]).read_bytes() == FAKE_MACE_BYTES
    assert json.loads(Path(files[1]).read_text())["model_id"] == "mace-quickstore"
    gnn_file = run(capsys, "export", "model", ids["gnn_model_id"], "--store", str(store),
                   "--out", str(tmp_path))["files"][0]  # fmt: skip
    assert gnn_file.endswith(".pt")
    digest = hashlib.sha256(Path(gnn_file).read_bytes()).hexdigest()
    assert ids["gnn_model_id"] == f"gnn-{digest[:16]}"
    assert main(["export", "model", "mace-nope", "--store", str(store)]) == 1
    err = capsys.readouterr().err
    assert "mace-nope" in err and "mace-quickstore" in err


def test_plots_writes_every_figure_as_png_and_pdf(capsys, quick_store, tmp_path):
    from thermogap.store import ResultsDB

    store, _ = quick_store
    files = run(capsys, "plots", "--store", str(store), "--out", str(tmp_path))["files"]
    pngs = sorted(f for f in files if f.endswith(".png"))
    pdfs = sorted(f for f in files if f.endswith(".pdf"))
    assert [p[:-4] for p in pngs] == [p[:-4] for p in pdfs]
    names = {p.rsplit("/", 1)[-1][:-4] for p in pngs}
    # the three Eg figures of the family, the phonon dispersion + DOS, the stored parity plot
    assert {n.split("_Ag3SBr_xI")[0] for n in names if "Ag3SBr_xI" in n} == {
        "gap_vs_temperature", "gap_vs_composition", "relative_change"
    }  # fmt: skip
    assert any(n.startswith("phonons_") for n in names)
    assert any(n.startswith("electron_phonon_Ag3SBr_300K") for n in names)
    (parity,) = [p for p in pngs if "parity_trained" in p]
    with ResultsDB.from_spec(store) as db:
        ref = db.query_one("models", {"model_id": "mace-quickstore"})["plot_blobs"]["trained"]
        assert Path(parity).read_bytes() == db.blobs.get_bytes(ref)
    for path in pngs:
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for path in pdfs:
        assert Path(path).read_bytes()[:5] == b"%PDF-"
