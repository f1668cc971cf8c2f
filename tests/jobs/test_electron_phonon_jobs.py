"""ElectronPhononCouplingMaker run with jobflow against an embedded results database.

The phonons come from the store (force constants through the blob store) and the gaps from a
stored GNN or the embedded xTB level; the reference is the same calculation done here by hand
from the in-memory phonopy object and the gap models called directly.
"""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.engines.embedded import xtb_band_edges
from thermogap.errors import InputError
from thermogap.execution import run_flow
from thermogap.gnn.bundle import register_gnn
from thermogap.gnn.inference import predict
from thermogap.gnn.training import train_gnn
from thermogap.jobs.electron_phonon import (
    ELECTRON_PHONON_COLLECTION,
    ElectronPhononCouplingMaker,
    embedded_gap_fn,
)
from thermogap.jobs.phonons import phonon_document
from thermogap.phonons.analysis import analyse_phonons
from thermogap.phonons.electron_phonon import gamma_mode_distortions
from thermogap.phonons.harmonic import phonopy_atoms_to_structure
from thermogap.phonons.storage import PHONONS_COLLECTION
from thermogap.schemas.gnn import GNNTrainingSettings
from thermogap.schemas.phonons import PhononSettings

torch.set_num_threads(1)


def store_phonon(db, phonon) -> str:
    structure = phonopy_atoms_to_structure(phonon.primitive)
    settings = PhononSettings(dos_mesh=[4, 4, 4], band_npoints=5)
    analysis = analyse_phonons(phonon, band_npoints=5, dos_mesh=[4, 4, 4])
    ref = db.blobs.put_array(np.asarray(phonon.force_constants), kind="force_constants")
    doc = phonon_document(
        structure,
        phonon,
        analysis,
        force_constants_ref=ref.model_dump(),
        calculator="emt",
        calculator_kwargs={},
        model_id=None,
        settings=settings,
    )
    db.upsert(PHONONS_COLLECTION, [doc.model_dump()], key="phonon_id")
    return doc.phonon_id


def tiny_gnn(db, primitive: Structure) -> str:
    """A GNN fitted for a few epochs to a smooth function of the Au–Cu distances."""
    rng = np.random.default_rng(0)
    cells, gaps = [], []
    for _ in range(24):
        cell = primitive * (2, 1, 1)
        cell = Structure(
            cell.lattice,
            cell.species,
            cell.cart_coords + rng.normal(0, 0.08, (len(cell), 3)),
            coords_are_cartesian=True,
        )
        cells.append(cell)
        gaps.append(1.0 + cell.distance_matrix[0, 1:].std())
    settings = GNNTrainingSettings(
        hidden_channels=8, dropout=0.0, learning_rate=1e-2, batch_size=8, max_epochs=3
    )
    result = train_gnn(cells, gaps, settings, levels=["synthetic"])
    return register_gnn(db, result.bundle, {"settings": settings}).model_id


def test_gnn_coupling_job_matches_direct_calculation(db, cu3au_phonon):
    from thermogap.gnn.bundle import load_gnn

    phonon_id = store_phonon(db, cu3au_phonon)
    primitive = phonopy_atoms_to_structure(cu3au_phonon.primitive)
    model_id = tiny_gnn(db, primitive)
    supercell = primitive * (2, 1, 1)
    maker = ElectronPhononCouplingMaker(temperature_k=600.0, gap_model_id=model_id)
    summary = run_flow(maker.make(phonon_id, structure=supercell), db)
    assert summary.n_failed == 0, summary.errors

    (doc,) = db.query(ELECTRON_PHONON_COLLECTION, {"phonon_id": phonon_id})
    bundle = load_gnn(db, model_id)
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
    assert doc["gap_source"] == f"gnn:{model_id}"
    assert doc["provenance"]["model_sha256"] == bundle.sha256
    png = db.blobs.get_bytes(doc["plot"])
    assert mpimg.imread(io.BytesIO(png), format="png").shape[:2] == (456, 600)

    again = run_flow(maker.make(phonon_id, structure=supercell), db)
    assert (again.n_ran, again.n_reused) == (0, 1)
    assert db.count(ELECTRON_PHONON_COLLECTION, {}) == 1


def test_embedded_level_gap(db, cu3au_phonon):
    phonon_id = store_phonon(db, cu3au_phonon)
    maker = ElectronPhononCouplingMaker(temperature_k=300.0, engine="chgnet-gfn1-xtb", signs=[1])
    summary = run_flow(maker.make(phonon_id), db)
    assert summary.n_failed == 0, summary.errors
    (doc,) = db.query(ELECTRON_PHONON_COLLECTION, {"phonon_id": phonon_id})

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


def test_maker_needs_exactly_one_gap_source():
    with pytest.raises(InputError, match="exactly one"):
        ElectronPhononCouplingMaker()
    with pytest.raises(InputError, match="exactly one"):
        ElectronPhononCouplingMaker(gap_model_id="gnn-x", engine="chgnet-gfn1-xtb")
    with pytest.raises(InputError, match="embedded level"):
        embedded_gap_fn("pbesol")


def test_finite_temperature_gamma_frequencies_are_read_in_band_order(db):
    """The NMD document's Γ modes, by 0 K band index, give the amplitudes' frequencies."""
    from thermogap.jobs.electron_phonon import gamma_frequencies_at_t

    modes = [
        {"qpoint": [0.5, 0.0, 0.0], "band_index": 0, "frequency_thz": 9.0},
        {"qpoint": [0.0, 0.0, 0.0], "band_index": 1, "frequency_thz": 1.5},
        {"qpoint": [0.0, 0.0, 0.0], "band_index": 0, "frequency_thz": 0.7},
    ]
    db.upsert(
        PHONONS_COLLECTION,
        [{"phonon_id": "nmd-1", "kind": "nmd", "harmonic_phonon_id": "h-1", "modes": modes}],
        key="phonon_id",
    )
    np.testing.assert_allclose(gamma_frequencies_at_t(db, "nmd-1", "h-1"), [0.7, 1.5])
    with pytest.raises(InputError, match="not on 'h-2'"):
        gamma_frequencies_at_t(db, "nmd-1", "h-2")
    with pytest.raises(InputError, match="not an NMD document"):
        gamma_frequencies_at_t(db, "nmd-2", "h-1")
