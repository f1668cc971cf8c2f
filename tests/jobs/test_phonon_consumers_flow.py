"""The phonon consumers chained by reference, with no results database anywhere.

PhononMaker -> (MD) -> FiniteTemperaturePhononMaker -> ElectronPhononCouplingMaker run under
``run_locally`` with an in-memory job store (outputs + the ``data`` store): every document is
passed as ``job.output`` and its bytes travel as artifacts. The references are independent:
phonopy's EMT phonons computed here directly, the NMD peaks against those harmonic
frequencies (the MD is driven by the same harmonic force field), and the gap changes redone by
hand from the distortions and the GNN. RelaxAndRankMaker takes an MLIP document; its energies
are checked with mace-torch's own calculator.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore

from fixtures.carried_docs import (
    as_built,
    carried,
    emt_engine,
    langevin_trajectory,
    mace_calculator,
    mace_model_doc,
    tiny_gnn_doc,
    tiny_random_mace,
)
from phonons.harmonic_md import harmonic_calculator, supercell_atoms
from thermogap.disorder.enumeration import enumerate_disorder
from thermogap.execution import run_flow, tg_job
from thermogap.execution.artifacts import job_blob_scope
from thermogap.gnn.bundle import gnn_from_model
from thermogap.gnn.inference import predict
from thermogap.jobs.disorder_ranking import RelaxAndRankMaker
from thermogap.jobs.electron_phonon import ElectronPhononCouplingMaker
from thermogap.jobs.finite_temperature import FiniteTemperaturePhononMaker
from thermogap.jobs.phonons import PhononMaker
from thermogap.phonons.electron_phonon import gamma_mode_distortions
from thermogap.phonons.harmonic import phonopy_atoms_to_structure
from thermogap.phonons.storage import phonon_doc_dict, phonopy_from_doc
from thermogap.schemas.band_gaps import DisorderRankingDoc
from thermogap.schemas.disorder import DisorderEnumerationDoc
from thermogap.schemas.finite_temperature import NMDSettings
from thermogap.schemas.md import LangevinSettings, TrajectoryDoc
from thermogap.schemas.phonons import PhononSettings
from thermogap.structures import antiperovskite, solid_solution_supercell

torch.set_num_threads(1)

MD = LangevinSettings(
    timestep_fs=4.0,
    friction_per_fs=2e-3,
    total_time_ps=24.0,
    save_interval_steps=2,
    chunk_frames=1000,
    seed=5,
)
NMD = NMDSettings(equilibration_time_ps=2.0, segment_time_ps=6.0, band_npoints=9)


@tg_job
def harmonic_md(phonon, temperature_k: float, settings: LangevinSettings) -> TrajectoryDoc:
    """Langevin MD driven by the force constants of ``phonon`` (read from its carried bytes)."""
    harmonic = phonopy_from_doc(phonon)
    calc = harmonic_calculator(harmonic, harmonic.force_constants)
    model = "harmonic:" + phonon_doc_dict(phonon)["phonon_id"]
    return langevin_trajectory(supercell_atoms(harmonic), calc, temperature_k, settings, model)


def memory_store() -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})


def test_phonons_nmd_and_coupling_chain_by_reference(cu3au_structure, cu3au_phonon):
    primitive = phonopy_atoms_to_structure(cu3au_phonon.primitive)
    gnn = carried(lambda: tiny_gnn_doc(primitive))  # as a training job's output arrives
    supercell = primitive * (2, 1, 1)

    phonon = PhononMaker(
        calculator="emt", settings=PhononSettings(band_npoints=9, dos_mesh=[4, 4, 4])
    ).make(cu3au_structure)
    md = harmonic_md(phonon.output, 300.0, MD)
    nmd = FiniteTemperaturePhononMaker(settings=NMD).make(phonon.output, md.output)
    coupling = ElectronPhononCouplingMaker(temperature_k=300.0).make(
        phonon.output, gnn, nmd.output, structure=supercell
    )
    store = memory_store()
    with emt_engine():
        responses = run_locally(Flow([phonon, md, nmd, coupling]), store=store, ensure_success=True)
    out = {job.name: responses[job.uuid][1].output for job in (phonon, md, nmd, coupling)}
    harmonic, trajectory = out[phonon.name], out[md.name]
    finite_t, eph = out[nmd.name], out[coupling.name]

    # the bytes went to the data store, the outputs hold references to them
    raw = store.query_one({"uuid": phonon.uuid}, load=False)["output"]
    assert "blob_uuid" in raw["artifacts"]
    assert store.additional_stores["data"].count() == 4  # phonons, MD, NMD, coupling

    # 0 K phonons: EMT's, as phonopy gives them directly (conftest's cu3au_phonon)
    with job_blob_scope(harmonic):
        np.testing.assert_allclose(
            phonopy_from_doc(harmonic).force_constants, cu3au_phonon.force_constants, atol=1e-8
        )
    assert harmonic.calculator == "emt" and harmonic.dynamically_stable

    # NMD of the MD on those force constants: every optical peak at the harmonic frequency
    assert finite_t.harmonic_phonon_id == harmonic.phonon_id
    assert finite_t.trajectory_id == trajectory.trajectory_id
    q = np.array([m.qpoint for m in finite_t.modes])
    truth = cu3au_phonon.run_qpoints(q).frequencies
    optical = [i for i, m in enumerate(finite_t.modes) if not m.acoustic]
    assert len(optical) == 8 * 12 - 3
    for i in optical:
        mode = finite_t.modes[i]
        assert abs(mode.frequency_thz - truth[i, mode.band_index]) < 2 * finite_t.resolution_thz
    assert finite_t.dynamically_stable_at_T and finite_t.stabilised_modes == 0

    # coupling: amplitudes from the NMD's Γ frequencies, gaps from the GNN, redone by hand
    gamma = sorted(
        (m for m in finite_t.modes if np.allclose(m.qpoint, 0.0)), key=lambda m: m.band_index
    )
    at_t = np.array([m.frequency_thz for m in gamma])
    with job_blob_scope(gnn):
        bundle = gnn_from_model(gnn)
    distortions = gamma_mode_distortions(cu3au_phonon, supercell, 300.0, frequencies_at_t_thz=at_t)
    reference = predict(bundle, [supercell])[0]
    gaps = predict(bundle, [d.structure for d in distortions]).reshape(-1, 2)
    assert eph.reference_gap_ev == pytest.approx(reference, abs=1e-6)
    np.testing.assert_allclose(eph.gaps_ev, gaps, atol=1e-6)
    np.testing.assert_allclose(
        eph.relative_gap_change, (gaps.mean(axis=1) - reference) / reference, atol=1e-6
    )
    np.testing.assert_allclose(eph.frequency_thz, at_t[3:], atol=1e-9)
    assert set(eph.frequency_source) == {"finite_temperature"}
    assert eph.settings.finite_temperature_phonon_id == finite_t.phonon_id
    assert eph.settings.gap_model_id == gnn["model_id"] == eph.provenance.model_id
    assert eph.phonon_id == harmonic.phonon_id


def test_relax_and_rank_with_an_mlip_document_builds_the_disorder_collection(db):
    """Relaxations with the MLIP given by its document; energies checked with mace-torch."""
    model = tiny_random_mace(seed=3)
    mlip = carried(lambda: mace_model_doc(model))
    parent = antiperovskite(5.2)  # Ag3SBr; 2x2x1 supercell: 4 Br sites
    enumeration = DisorderEnumerationDoc.from_enumeration(
        enumerate_disorder(
            parent, site="Br", species=("Br", "I"), supercell=[2, 2, 1], n_substituted=[2]
        )
    )
    maker = RelaxAndRankMaker(supercell=(2, 2, 1), relax_cell=False, max_steps=15)
    summary = run_flow(maker.make(enumeration, parent, 0.5, mlip), db)
    assert summary.n_failed == 0, summary.errors
    assert summary.built["disorder"] == 1  # the job wrote nothing; the builder did

    (stored,) = db.query("disorder")
    ranking = DisorderRankingDoc.model_validate(as_built(stored))
    assert ranking.mlip_model_id == mlip["model_id"]
    assert ranking.provenance.model_sha256 == mlip["sha256"]
    configs = ranking.configurations
    assert sum(c.multiplicity for c in configs) == math.comb(4, 2)  # every arrangement once
    assert [c.energy_ev for c in configs] == sorted(c.energy_ev for c in configs)
    assert configs[0].relative_energy_mev_per_atom == 0.0

    calc = mace_calculator(model)
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    for config in configs:
        relaxed = AseAtomsAdaptor.get_atoms(Structure.from_dict(config.structure))
        relaxed.calc = calc
        assert relaxed.get_potential_energy() == pytest.approx(config.energy_ev, abs=1e-6)
        # the relaxation started from the configuration's own arrangement on the supercell
        start = solid_solution_supercell(
            parent,
            site="Br",
            species=("Br", "I"),
            supercell=(2, 2, 1),
            x=0.5,
            substituted_sites=config.substituted_sites,
        )
        assert sorted(map(str, start.species)) == sorted(relaxed.get_chemical_symbols())
        start_atoms = AseAtomsAdaptor.get_atoms(start)
        start_atoms.calc = calc
        assert config.energy_ev <= start_atoms.get_potential_energy() + 1e-9  # BFGS went down

    # a ranking with other relaxation settings is another document of the collection
    looser = RelaxAndRankMaker(supercell=(2, 2, 1), relax_cell=False, max_steps=3)
    run_flow(looser.make(enumeration, parent, 0.5, mlip), db)
    assert db.count("disorder") == 2


def test_the_artifacts_of_every_input_document_are_found():
    """Regression: a job with a Maker, settings and two documents saw only some of their bytes.

    ``find_artifacts`` turns models into temporary dicts; a freed one's id was reused by the
    next and that one skipped as already seen.
    """
    from thermogap.execution.artifacts import find_artifacts
    from thermogap.schemas.phonons import PhononDosDoc, RelaxedStructureDoc

    docs = [
        RelaxedStructureDoc.model_construct(
            formula=f"X{i}",
            dos=PhononDosDoc(frequencies_thz=[1.0], dos=[1.0], mesh=[1, 1, 1]),
            artifacts={f"blob-{i}": "AAAA"},
        )
        for i in range(40)
    ]
    inputs = [(FiniteTemperaturePhononMaker(settings=NMD), *docs), {}]
    assert set(find_artifacts(inputs)) == {f"blob-{i}" for i in range(40)}
