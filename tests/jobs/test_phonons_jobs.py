"""PhononMaker run through jobflow: engine names, MLIP documents, the built collection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.io.ase import AseAtomsAdaptor

from fixtures.carried_docs import (
    as_built,
    carried,
    emt_engine,
    mace_calculator,
    mace_model_doc,
    tiny_random_mace,
)
from mlip.tiny_mace import ag3sbr_cell
from thermogap.errors import InputError, UnknownEntryError
from thermogap.execution import run_flow
from thermogap.jobs.phonons import PhononMaker
from thermogap.phonons.harmonic import compute_force_constants
from thermogap.phonons.storage import load_phonopy, phonopy_from_doc
from thermogap.schemas.phonons import PhononDoc, PhononSettings
from thermogap.structures import antiperovskite
from thermogap.structures.identity import structure_id

torch.set_num_threads(2)

SMALL = PhononSettings(band_npoints=5, dos_mesh=[4, 4, 4])


@pytest.fixture(autouse=True)
def _keep_torch_default_dtype():
    # MACECalculator sets torch's global default dtype; give the next test the old one back
    previous = torch.get_default_dtype()
    yield
    torch.set_default_dtype(previous)


@pytest.fixture
def emt():
    with emt_engine():
        yield


@pytest.fixture(scope="module")
def maker() -> PhononMaker:
    return PhononMaker(
        calculator="chgnet", settings=PhononSettings(band_npoints=11, dos_mesh=[6, 6, 6])
    )


def test_phonon_job_stores_document_and_force_constants_and_is_reused(db, maker):
    structure = antiperovskite(4.9)
    summary = run_flow(maker.make(structure), db)
    assert (summary.n_ran, summary.n_failed) == (1, 0)

    docs = db.query("phonons")  # built from the job's output; the job wrote nothing
    assert len(docs) == 1
    doc = PhononDoc(**as_built(docs[0]))
    assert doc.supercell_matrix == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
    assert doc.structure_id == structure_id(structure)

    # the stored force constants are those of an independent direct calculation
    from thermogap.engines import get_calculator

    direct = compute_force_constants(
        structure, get_calculator("chgnet"), supercell_matrix=(2, 2, 2)
    )
    loaded = load_phonopy(db, doc.phonon_id)  # the builder copied the carried bytes
    np.testing.assert_allclose(loaded.force_constants, direct.force_constants, atol=1e-6)

    # cubic Ag3SBr is unstable with CHGNet; every stored imaginary mode is real physics of the FCs
    assert not doc.dynamically_stable and doc.imaginary_modes
    for mode in doc.imaginary_modes[:5]:
        freqs = direct.run_qpoints([mode.qpoint]).frequencies[0]
        assert np.min(np.abs(freqs - mode.frequency_thz)) < 1e-4
    assert doc.min_frequency_thz == pytest.approx(doc.imaginary_modes[0].frequency_thz)
    path = np.array(doc.band_structure.frequencies_thz)
    assert path.shape == (len(doc.band_structure.qpoints), 15)
    assert doc.min_frequency_thz <= path.min() + 1e-12

    # a second run of the same job reuses the stored output and writes no duplicate
    again = run_flow(maker.make(structure), db)
    assert (again.n_ran, again.n_reused) == (0, 1)
    assert db.count("phonons") == 1


def test_other_settings_add_a_document_to_the_collection(db, emt, cu3au_structure, cu3au_phonon):
    """The collection's key includes the settings: a re-run with others adds, not replaces."""
    coarse = PhononMaker(calculator="emt", settings=SMALL)
    fine = PhononMaker(calculator="emt", settings=SMALL.model_copy(update={"band_npoints": 7}))
    run_flow(Flow([coarse.make(cu3au_structure), fine.make(cu3au_structure)]), db)
    docs = [PhononDoc(**as_built(d)) for d in db.query("phonons")]
    assert len({d.phonon_id for d in docs}) == 2
    assert len({len(d.band_structure.qpoints) for d in docs}) == 2  # 5 and 7 per segment
    for doc in docs:  # both are EMT's phonons (phonopy directly: conftest's cu3au_phonon)
        np.testing.assert_allclose(
            load_phonopy(db, doc.phonon_id).force_constants,
            cu3au_phonon.force_constants,
            atol=1e-8,
        )


def test_phonons_of_an_mlip_given_by_its_document():
    """The MLIP arrives as its model document (bytes carried); no database anywhere."""
    model = tiny_random_mace()
    mlip = carried(lambda: mace_model_doc(model))
    structure = AseAtomsAdaptor.get_structure(ag3sbr_cell())
    job = PhononMaker(calculator="chgnet", supercell_matrix=[1, 1, 1], settings=SMALL).make(
        structure, mlip
    )
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(Flow([job]), store=store, ensure_success=True)
    doc = responses[job.uuid][1].output
    assert doc.calculator == "mlip" and doc.model_id == mlip["model_id"]
    assert doc.provenance.model_sha256 == mlip["sha256"]
    assert set(doc.artifacts) == {doc.force_constants["blob_id"]}  # the FCs travel with it

    # reference: mace-torch's own calculator on the same module, phonopy directly
    direct = compute_force_constants(structure, mace_calculator(model), supercell_matrix=(1, 1, 1))
    from thermogap.execution.artifacts import job_blob_scope

    with job_blob_scope(doc):
        rebuilt = phonopy_from_doc(doc)
    np.testing.assert_allclose(rebuilt.force_constants, direct.force_constants, atol=1e-8)
    assert np.abs(direct.force_constants).max() > 1e-3  # the model exerts real forces


def test_mlip_must_be_a_model_document_or_an_engine_name():
    job = PhononMaker(supercell_matrix=[1, 1, 1], settings=SMALL).make(
        antiperovskite(4.9), {"model_id": "mace-0123"}
    )
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    with pytest.raises(InputError, match="model document"):
        run_locally(Flow([job]), store=store, raise_immediately=True)


def test_unknown_phonon_id_lists_known_ones(db):
    with pytest.raises(UnknownEntryError, match="no phonon calculation"):
        load_phonopy(db, "0123456789abcdef")
