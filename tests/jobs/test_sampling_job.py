"""The sampling job reads its parent's force constants from the PhononDoc it is given.

No results database: the parent phonon document comes by reference from an upstream job
and carries its force-constant bytes (``artifacts``); the amplitudes the job derives from
them are checked against phonopy's own thermal displacements of the same force constants.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase.calculators.emt import EMT
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Structure

from thermogap.errors import StoreError
from thermogap.execution import tg_job
from thermogap.execution.artifacts import current_blobs
from thermogap.jobs.phonons import analyse_with_settings, phonon_document
from thermogap.jobs.sampling import DisplacedConfigurationsMaker, collect_configurations
from thermogap.phonons.harmonic import compute_force_constants
from thermogap.schemas.configurations import ConfigurationBatchDoc
from thermogap.schemas.phonons import PhononDoc, PhononSettings

MESH = [4, 4, 4]
CUTOFF_THZ = 0.05
SETTINGS = PhononSettings(band_npoints=5, dos_mesh=[4, 4, 4])


@tg_job
def emt_phonons(structure: Structure) -> PhononDoc:
    """EMT phonons whose force constants go to the job's blob store (not a database)."""
    phonon = compute_force_constants(structure, EMT(), supercell_matrix=(2, 2, 2))
    ref = current_blobs().put_array(np.asarray(phonon.force_constants), kind="force_constants")
    return phonon_document(
        structure,
        phonon,
        analyse_with_settings(phonon, SETTINGS),
        force_constants_ref=ref.model_dump(),
        calculator="emt",
        calculator_kwargs={},
        model_id=None,
        settings=SETTINGS,
    )


def _memory_store() -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})


def _unit_cell_index(supercell: Structure, unit: Structure) -> list[int]:
    """For each supercell site, the unit-cell site it repeats (by fractional position)."""
    out = []
    for site in supercell:
        frac = np.mod(unit.lattice.get_fractional_coords(site.coords), 1.0)
        d = frac - unit.frac_coords
        d -= np.rint(d)
        out.append(int(np.argmin(np.linalg.norm(d, axis=1))))
    return out


def test_phonon_scheme_uses_the_force_constants_carried_by_the_phonon_doc(
    cu3au_structure, cu3au_phonon
):
    supercell = cu3au_structure * (2, 2, 2)
    parent = emt_phonons(cu3au_structure)
    maker = DisplacedConfigurationsMaker(
        scheme="phonon", n_configurations=3, seed=4, mesh=MESH, frequency_cutoff_thz=CUTOFF_THZ
    )
    batch_job = maker.make(supercell, 1.0, temperature_k=300.0, parent_phonons=[parent.output])
    collect = collect_configurations([batch_job.output])
    store = _memory_store()
    responses = run_locally(Flow([parent, batch_job, collect]), store=store, ensure_success=True)

    batch = responses[batch_job.uuid][1].output
    assert isinstance(batch, ConfigurationBatchDoc)
    phonon_doc = responses[parent.uuid][1].output
    assert batch.parent_phonon_id == phonon_doc.phonon_id and phonon_doc.artifacts
    # ζ² from phonopy's own thermal displacements of the same force constants at 300 K
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cu3au_phonon.run_mesh(
            MESH, is_mesh_symmetry=False, with_eigenvectors=True, is_gamma_center=True
        )
        td = cu3au_phonon.run_thermal_displacements(temperatures=[300.0], freq_min=CUTOFF_THZ)
    msd = np.asarray(td.thermal_displacements).reshape(-1, 3)
    expected = msd[_unit_cell_index(supercell, cu3au_structure)]
    np.testing.assert_allclose(np.asarray(batch.amplitudes_ang) ** 2, expected, rtol=1e-5)

    # the configurations travel in the output, each within its amplitudes, ids unique
    assert Structure.from_dict(batch.supercell.as_dict()) == supercell
    assert [c.config_id for c in batch.configurations] == batch.config_ids
    assert len(set(batch.config_ids)) == 3
    zeta = np.asarray(batch.amplitudes_ang)
    for config in batch.configurations:
        assert config.scheme == "phonon" and config.parent_phonon_ids == [phonon_doc.phonon_id]
        dfrac = config.structure.frac_coords - supercell.frac_coords
        u = (dfrac - np.rint(dfrac)) @ supercell.lattice.matrix
        assert np.all(np.abs(u) <= zeta + 1e-9) and np.abs(u).max() > 0
    listed = responses[collect.uuid][1].output
    assert [c["config_id"] for c in listed] == batch.config_ids
    assert all(isinstance(c, dict) and c["scheme"] == "phonon" for c in listed)


def test_phonon_doc_without_its_bytes_is_refused(cu3au_structure):
    """Given only the document (no artifacts), the job cannot reach the force constants."""
    parent = emt_phonons(cu3au_structure)
    store = _memory_store()
    responses = run_locally(Flow([parent]), store=store, ensure_success=True)
    doc = responses[parent.uuid][1].output.model_dump()
    doc["artifacts"] = None
    maker = DisplacedConfigurationsMaker(scheme="gaussian", n_configurations=1, mesh=MESH)
    job = maker.make(cu3au_structure * (2, 2, 2), 1.0, temperature_k=300.0, parent_phonons=[doc])
    store.connect()
    with pytest.raises(StoreError, match="neither among this job's inputs"):
        job.run(store)
