"""band_gaps_frame / trajectory_frame against the closed forms of the small store; figure labels."""

from __future__ import annotations

import numpy as np

from fixtures.quick_store import COMPOSITIONS, FAMILY, TEMPERATURES_K, gap_ev
from thermogap.results import band_gaps_frame, trajectory_frame
from thermogap.results.plots import composition_label, figure_gap_vs_composition
from thermogap.store import ResultsDB


def test_band_gaps_frame_rows_units_and_order(quick_store):
    store, _ = quick_store
    with ResultsDB.from_spec(store) as db:
        frame = band_gaps_frame(db)
        only_half = band_gaps_frame(db, {"x": 0.5})
    expected = [(x, t) for x in COMPOSITIONS for t in TEMPERATURES_K]
    assert list(zip(frame.x_fraction, frame.temperature_K, strict=True)) == expected
    np.testing.assert_allclose(frame.band_gap_eV, [gap_ev(x, t) for x, t in expected])
    np.testing.assert_allclose(
        frame.delta_gap_eV, [gap_ev(x, t) - gap_ev(x, 0) for x, t in expected], atol=1e-12
    )
    assert all(c.endswith(("_eV", "_K", "_fs", "_fraction", "_percent")) for c in frame.columns
               if frame[c].dtype.kind == "f")  # fmt: skip
    assert list(only_half.x_fraction) == [0.5] * 3


def test_trajectory_frame_temperature_and_gnn_gaps(quick_store):
    from pymatgen.core import Structure

    from thermogap.gnn.bundle import load_gnn
    from thermogap.gnn.inference import predict
    from thermogap.md.langevin import load_trajectory

    store, ids = quick_store
    tid = ids["trajectory_ids"][0]
    with ResultsDB.from_spec(store) as db:
        frame = trajectory_frame(db, tid, gnn_model_id=ids["gnn_model_id"])
        loaded = load_trajectory(db, tid)
        bundle = load_gnn(db, ids["gnn_model_id"])
    # the store was built with E_kin = 3/2 N k_B T exactly
    np.testing.assert_allclose(frame.kinetic_temperature_K, loaded.doc.temperature_k, rtol=1e-9)
    np.testing.assert_allclose(frame.time_fs, loaded.arrays["steps"] * loaded.doc.timestep_fs)
    # per-frame gaps equal the GNN applied to each frame as a pymatgen structure
    start = Structure.from_dict(loaded.doc.structure)
    structures = [
        Structure(start.lattice, start.species, pos, coords_are_cartesian=True)
        for pos in loaded.arrays["positions_ang"][:5]
    ]
    np.testing.assert_allclose(frame.band_gap_eV[:5], predict(bundle, structures), rtol=1e-5)
    assert frame.attrs["trajectory"]["trajectory_id"] == tid


def test_composition_axis_names_the_family():
    assert composition_label(FAMILY) == "x in Ag$_{3}$SBr$_{x}$I$_{1-x}$"
    assert composition_label("Cs_xFA_(1-x)PbI3") == "x in Cs$_{x}$FA$_{1-x}$PbI$_{3}$"
    docs = [{"family": FAMILY, "x": x, "temperature_k": 300.0, "band_gap_ev": 1.0 + x}
            for x in COMPOSITIONS]  # fmt: skip
    ax = figure_gap_vs_composition(docs).axes[0]
    assert ax.get_xlabel() == composition_label(FAMILY)
    assert ax.get_ylabel() == "band gap (eV)"
    mixed = [*docs, {"family": "other", "x": 0.0, "temperature_k": 300.0, "band_gap_ev": 2.0}]
    assert figure_gap_vs_composition(mixed).axes[0].get_xlabel().startswith("x (fraction")


def test_phonon_figure_draws_the_dos_beside_the_dispersion(quick_store):
    from thermogap.phonons.plots import phonon_doc_figure

    store, ids = quick_store
    with ResultsDB.from_spec(store) as db:
        doc = db.query_one("phonons", {"phonon_id": ids["phonon_id"]})
    fig = phonon_doc_figure(doc)
    bands_ax, dos_ax = fig.axes
    assert bands_ax.get_ylabel() == "frequency (THz)" and "THz" in dos_ax.get_xlabel()
    assert bands_ax.get_ylim() == dos_ax.get_ylim()  # one frequency axis
    (line,) = [ln for ln in dos_ax.get_lines() if len(ln.get_xdata()) > 2]
    np.testing.assert_allclose(line.get_xdata(), doc["dos"]["dos"])
    np.testing.assert_allclose(line.get_ydata(), doc["dos"]["frequencies_thz"])
    n_branches = 3 * doc["n_atoms"]
    n_segments = len(doc["band_structure"]["segment_ends"])
    drawn = [ln for ln in bands_ax.get_lines() if len(ln.get_xdata()) > 2]
    assert len(drawn) == n_segments * n_branches  # every branch of every path segment


def test_finite_temperature_dispersion_has_both_dos_styled_like_their_bands(quick_store):
    from matplotlib.colors import to_rgba

    from thermogap.phonons.plots import dispersion_figure
    from thermogap.schemas.phonons import PhononBandStructureDoc

    store, ids = quick_store
    with ResultsDB.from_spec(store) as db:
        doc = db.query_one("phonons", {"phonon_id": ids["phonon_id"]})
    cold = PhononBandStructureDoc.model_validate(doc["band_structure"])
    hot = cold.model_copy(
        update={"frequencies_thz": (0.95 * np.asarray(cold.frequencies_thz)).tolist()}
    )
    freqs, states = doc["dos"]["frequencies_thz"], doc["dos"]["dos"]
    fig = dispersion_figure(
        [(cold, "0 K"), (hot, "300 K")],
        dos=[(freqs, states, "0 K"), ((0.95 * np.asarray(freqs)).tolist(), states, "300 K")],
    )
    bands_ax, dos_ax = fig.axes
    dos_lines = [ln for ln in dos_ax.get_lines() if len(ln.get_xdata()) > 2]
    assert [ln.get_label() for ln in dos_lines] == ["0 K", "300 K"]
    band_lines = [ln for ln in bands_ax.get_lines() if len(ln.get_xdata()) > 2]
    colours = {to_rgba(ln.get_color()) for ln in band_lines}
    assert {to_rgba(ln.get_color()) for ln in dos_lines} == colours  # same two styles
    np.testing.assert_allclose(dos_lines[1].get_ydata(), 0.95 * np.asarray(freqs))
