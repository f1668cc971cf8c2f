"""The optics flow runs under run_locally with a memory JobStore and a 'data' store."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from fixtures.optics import OPTICS_SETTINGS
from thermogap.errors import InputError
from thermogap.flows.registry import FLOW_BUILDERS
from thermogap.schemas.optics import OpticsResultDoc, OpticsSpectrumDoc


def _doc(cls, raw):
    return cls.model_validate({k: v for k, v in raw.items() if not k.startswith("@")})


def _primitive_gap_on_folded_mesh():
    from ase.build import bulk

    from thermogap.tb import Sp3sStarModel

    a = 5.431
    ham = Sp3sStarModel().hamiltonian(bulk("Si", "diamond", a=a))
    grid = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing="ij"), -1).reshape(-1, 3)
    energies = np.array([ham.eigenvalues(np.pi / a * k) for k in grid])  # all (h,k,l) π/a
    return energies[:, 4].min() - energies[:, 3].max()


SETTINGS = OPTICS_SETTINGS


def test_optics_flow_runs_locally_with_a_data_store():
    flow = FLOW_BUILDERS.get("optics")(**SETTINGS)
    data = MemoryStore()
    store = JobStore(MemoryStore(), additional_stores={"data": data})
    responses = run_locally(flow, store=store, ensure_success=True)
    assert len(responses) == len(flow.jobs)
    summary = _doc(OpticsResultDoc, store.get_output(flow.jobs[-1].uuid, load=True))
    assert summary.temperatures_k == [300.0, 600.0]
    assert summary.formula == "Si" and summary.n_atoms == 8
    # the clamped 8-atom cell on its 2x2x2 mesh holds the primitive k-points of a π/a grid
    assert summary.clamped_band_gap_ev == pytest.approx(_primitive_gap_on_folded_mesh(), abs=1e-6)
    # the clamped onset is the direct gap near 3.4 eV; thermal snapshots shrink the mean gap
    assert 3.0 < summary.clamped_direct_gap_ev < 3.6
    assert summary.band_gap_ev[1] < summary.clamped_band_gap_ev
    assert set(summary.figures_png_base64) == {"absorption", "tauc", "gap_vs_temperature"}
    assert summary.experiment_gap_ev[0] == pytest.approx(1.166 - 4.73e-4 * 300**2 / 936, abs=1e-4)
    # the big arrays went to the data store, not into the outputs document
    spectrum_uuid = flow.jobs[1].uuid
    raw = store.docs_store.query_one({"uuid": spectrum_uuid})
    assert "blob_uuid" in raw["output"]["arrays"]
    assert data.count() >= 5
    spectrum = _doc(OpticsSpectrumDoc, store.get_output(spectrum_uuid, load=True))
    assert spectrum.n_snapshots == 2 and spectrum.temperature_k == 300.0
    alpha = np.asarray(spectrum.arrays.absorption_cm)
    assert np.all(np.isfinite(alpha)) and alpha.max() > 1e5
    # the clamped cell has no sub-gap tail: its Tauc fit is refused and the refusal stored
    clamped = _doc(OpticsSpectrumDoc, store.get_output(flow.jobs[-2].uuid, load=True))
    assert clamped.sampling_method == "clamped" and clamped.tauc.gap_ev is None
    assert "no straight Tauc window" in clamped.tauc.error


def test_bad_settings_fail_before_any_job():
    with pytest.raises(InputError, match="temperatures_k"):
        FLOW_BUILDERS.get("optics")(**(SETTINGS | {"temperatures_k": [-5.0]}))
    with pytest.raises(InputError, match="material"):
        FLOW_BUILDERS.get("optics")(**(SETTINGS | {"material": "Ge"}))
    with pytest.raises(InputError, match="Si only"):
        FLOW_BUILDERS.get("optics")(**(SETTINGS | {"material": "GaAs"}))


def test_optics_presets_build_their_flows():
    from thermogap.flows.presets import build_preset_flow, load_preset

    for name, n_atoms in (("optics-si-quick", 64), ("optics-si-paper", 512)):
        preset = load_preset(name)
        flow = build_preset_flow(preset)
        assert preset.flow == "optics"
        snapshots = flow.jobs[0]
        structure = snapshots.function_args[0]
        assert len(structure) == n_atoms
        # 4 temperatures x (snapshots, spectrum) + clamped pair + summary
        assert len(flow.jobs) == 2 * len(preset.settings["temperatures_k"]) + 3
