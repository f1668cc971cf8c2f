"""ElectronPhononCouplingMaker run with jobflow on documents passed by reference.

The phonons and the GNN arrive as documents carrying their bytes (no database is read by the
job); the reference is the same calculation done here by hand from the in-memory phonopy
object and the gap models called directly.
"""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.io.ase import AseAtomsAdaptor

from fixtures.carried_docs import carried, tiny_gnn_doc
from thermogap.engines.embedded import xtb_band_edges
from thermogap.errors import InputError
from thermogap.execution import run_flow
from thermogap.execution.artifacts import current_blobs, job_blob_scope
from thermogap.gnn.bundle import gnn_from_model
from thermogap.gnn.inference import predict
from thermogap.jobs.electron_phonon import (
    ELECTRON_PHONON_COLLECTION,
    ElectronPhononCouplingMaker,
    embedded_gap_fn,
)
from thermogap.jobs.phonons import phonon_document
from thermogap.phonons.analysis import analyse_phonons
from thermogap.phonons.electron_phonon import gamma_mode_distortions
from thermogap.phonons.harmonic import phonopy_atoms_to_structure
from thermogap.schemas.phonons import PhononSettings

torch.set_num_threads(1)


def phonon_doc(phonon) -> dict:
    """The PhononDoc of ``phonon`` carrying its force constants (plain functions, no db)."""
    structure = phonopy_atoms_to_structure(phonon.primitive)
    settings = PhononSettings(dos_mesh=[4, 4, 4], band_npoints=5)
    analysis = analyse_phonons(phonon, band_npoints=5, dos_mesh=[4, 4, 4])

    def make():
        ref = current_blobs().put_array(np.asarray(phonon.force_constants), kind="force_constants")
        return phonon_document(
            structure,
            phonon,
            analysis,
            force_constants_ref=ref.model_dump(),
            calculator="emt",
            calculator_kwargs={},
            model_id=None,
            settings=settings,
        )

    return carried(make)


def test_gnn_coupling_job_matches_direct_calculation(db, cu3au_phonon):
    phonon = phonon_doc(cu3au_phonon)
    primitive = phonopy_atoms_to_structure(cu3au_phonon.primitive)
    gnn = carried(lambda: tiny_gnn_doc(primitive))
    supercell = primitive * (2, 1, 1)
    maker = ElectronPhononCouplingMaker(temperature_k=600.0)
    summary = run_flow(maker.make(phonon, gnn, structure=supercell), db)
    assert summary.n_failed == 0, summary.errors
    assert summary.built[ELECTRON_PHONON_COLLECTION] == 1  # built from the job's output

    (doc,) = db.query(ELECTRON_PHONON_COLLECTION, {"phonon_id": phonon["phonon_id"]})
    with job_blob_scope(gnn):
        bundle = gnn_from_model(gnn)
    distortions = gamma_mode_distortions(cu3au_phonon, supercell, 600.0)
    reference = predict(bundle, [supercell])[0]
    gaps = predict(bundle, [d.structure for d in distortions]).reshape(-1, 2)
    assert doc["reference_gap_ev"] == pytest.approx(reference, abs=1e-6)
    np.testing.assert_allclose(doc["gaps_ev"], gaps, atol=1e-6)
    np.testing.assert_allclose(
        doc["relative_gap_change"], (gaps.mean(axis=1) - reference) / reference, atol=1e-6
    )
    np.testing.assert_allclose(
        doc["frequency_thz"], cu3au_phonon.run_qpoints([[0, 0, 0]]).frequencies[0][3:], atol=1e-6
    )
    assert doc["n_modes_excluded"] == 3
    assert doc["n_atoms_cell"] == 8
    assert doc["gap_source"] == f"gnn:{gnn['model_id']}"
    assert doc["settings"]["gap_model_id"] == gnn["model_id"]
    assert doc["provenance"]["model_sha256"] == bundle.sha256 == gnn["sha256"]
    png = db.blobs.get_bytes(doc["plot"])  # the builder copied the carried figure
    assert mpimg.imread(io.BytesIO(png), format="png").shape[:2] == (456, 600)

    again = run_flow(maker.make(phonon, gnn, structure=supercell), db)
    assert (again.n_ran, again.n_reused) == (0, 1)
    assert db.count(ELECTRON_PHONON_COLLECTION, {}) == 1


def test_embedded_level_gap(cu3au_phonon):
    phonon = phonon_doc(cu3au_phonon)
    maker = ElectronPhononCouplingMaker(temperature_k=300.0, engine="chgnet-gfn1-xtb", signs=[1])
    job = maker.make(phonon)
    responses = run_locally(Flow([job]), store=memory_store(), ensure_success=True)
    doc = responses[job.uuid][1].output.model_dump()

    def gap(structure):  # chgnet-gfn1-xtb.yaml: GFN1-xTB, accuracy 100, 300 K smearing
        atoms = AseAtomsAdaptor.get_atoms(structure)
        return xtb_band_edges(atoms, "GFN1-xTB", 100.0, 100, 300.0).band_gap_ev

    primitive = phonopy_atoms_to_structure(cu3au_phonon.primitive)
    distortions = gamma_mode_distortions(cu3au_phonon, None, 300.0, sign=(1,))
    reference = gap(primitive)
    expected = [(gap(d.structure) - reference) / reference for d in distortions]
    np.testing.assert_allclose(doc["relative_gap_change"], expected, rtol=1e-6)
    assert doc["signs"] == [1]
    assert doc["gap_source"] == "level:chgnet-gfn1-xtb"


def test_job_needs_exactly_one_gap_source(cu3au_phonon):
    phonon = phonon_doc(cu3au_phonon)
    for maker, gnn in (
        (ElectronPhononCouplingMaker(), None),
        (ElectronPhononCouplingMaker(engine="chgnet-gfn1-xtb"), {"model_id": "gnn-x"}),
    ):
        with pytest.raises(InputError, match="exactly one"):
            run_locally(Flow([maker.make(phonon, gnn)]), store=memory_store(), raise_immediately=1)
    with pytest.raises(InputError, match="embedded level"):
        embedded_gap_fn("pbesol")


def test_finite_temperature_gamma_frequencies_are_read_in_band_order():
    """The NMD document's Γ modes, by 0 K band index, give the amplitudes' frequencies."""
    from thermogap.jobs.electron_phonon import gamma_frequencies_at_t

    modes = [
        {"qpoint": [0.5, 0.0, 0.0], "band_index": 0, "frequency_thz": 9.0},
        {"qpoint": [0.0, 0.0, 0.0], "band_index": 1, "frequency_thz": 1.5},
        {"qpoint": [0.0, 0.0, 0.0], "band_index": 0, "frequency_thz": 0.7},
    ]
    nmd = {"phonon_id": "nmd-1", "kind": "nmd", "harmonic_phonon_id": "h-1", "modes": modes}
    np.testing.assert_allclose(gamma_frequencies_at_t(nmd, "h-1"), [0.7, 1.5])
    with pytest.raises(InputError, match="not on 'h-2'"):
        gamma_frequencies_at_t(nmd, "h-2")
    with pytest.raises(InputError, match="not an NMD document"):
        gamma_frequencies_at_t({"phonon_id": "h-1", "modes": modes}, "h-1")


def memory_store() -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
