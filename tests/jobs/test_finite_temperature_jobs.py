"""FiniteTemperaturePhononMaker on phonon and trajectory documents passed by reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore

from fixtures.carried_docs import carried, langevin_trajectory
from phonons.harmonic_md import (
    harmonic_calculator,
    shifted_force_constants,
    supercell_atoms,
)
from thermogap.errors import InputError
from thermogap.execution import run_flow
from thermogap.execution.artifacts import current_blobs, job_blob_scope
from thermogap.jobs.finite_temperature import FiniteTemperaturePhononMaker
from thermogap.jobs.phonons import phonon_document
from thermogap.md.langevin import trajectory_from_doc
from thermogap.phonons.analysis import analyse_phonons
from thermogap.phonons.harmonic import phonopy_from_force_constants
from thermogap.phonons.storage import load_phonopy
from thermogap.schemas.finite_temperature import FiniteTemperaturePhononDoc, NMDSettings
from thermogap.schemas.md import LangevinSettings
from thermogap.schemas.phonons import PhononSettings

torch.set_num_threads(2)

MD = LangevinSettings(
    timestep_fs=4.0,
    friction_per_fs=2e-3,
    total_time_ps=24.0,
    save_interval_steps=2,
    chunk_frames=1000,
    seed=11,
)
NMD = NMDSettings(equilibration_time_ps=2.0, segment_time_ps=6.0, band_npoints=9)
SHIFT_THZ2 = 6.0  # f'^2 = f^2 - 6 THz^2: the 1.77 and 2.17 THz modes become imaginary


def harmonic_doc(unit, force_constants):
    """A 'harmonic' PhononDoc of ``force_constants`` carrying them (plain functions, no db)."""
    softened = phonopy_from_force_constants(unit, (2, 2, 2), force_constants)
    settings = PhononSettings(band_npoints=9, dos_mesh=[4, 4, 4])
    analysis = analyse_phonons(softened, band_npoints=9, dos_mesh=(4, 4, 4))

    def make():
        ref = current_blobs().put_array(force_constants, kind="force_constants")
        return phonon_document(
            unit,
            softened,
            analysis,
            force_constants_ref=ref.model_dump(),
            calculator="softened-emt",
            calculator_kwargs={},
            model_id=None,
            settings=settings,
        )

    return carried(make)


def harmonic_trajectory(phonon, order=None, settings=MD):
    """Langevin MD of the (stable) EMT harmonic crystal; a TrajectoryDoc carrying its chunks."""
    atoms = supercell_atoms(phonon, order)
    calc = harmonic_calculator(phonon, phonon.force_constants, order)
    return carried(lambda: langevin_trajectory(atoms, calc, 300.0, settings, "harmonic-emt"))


def test_nmd_job_stabilises_modes_that_are_imaginary_at_0k(db, cu3au_phonon, cu3au_structure):
    """0 K phonons softened to imaginary, MD with the true stable FCs: NMD finds them stable.

    The softened force constants have the same eigenvectors as the true ones (D - λ at
    every q), so the NMD peaks must sit at the true harmonic frequencies, which phonopy
    gives independently.
    """
    soft_fc = shifted_force_constants(cu3au_phonon, SHIFT_THZ2)
    harmonic = harmonic_doc(cu3au_structure, soft_fc)
    assert not harmonic["dynamically_stable"]
    order = np.random.default_rng(2).permutation(len(cu3au_phonon.supercell))
    traj = harmonic_trajectory(cu3au_phonon, order)

    maker = FiniteTemperaturePhononMaker(settings=NMD)
    summary = run_flow(maker.make(harmonic, traj), db)
    assert (summary.n_ran, summary.n_failed) == (1, 0), summary.errors

    # the job wrote nothing itself: the phonons collection is built from its output
    assert summary.built["phonons"] == 1
    stored = db.query_one("phonons", {"kind": "nmd"})
    doc = FiniteTemperaturePhononDoc.model_validate(
        {
            k: v
            for k, v in stored.items()
            if k not in ("_id", "job_uuid", "job_name", "completed_at")
        }
    )
    assert doc.harmonic_phonon_id == harmonic["phonon_id"]
    assert doc.temperature_k == 300.0 and doc.trajectory_id == traj["trajectory_id"]
    assert doc.supercell_matrix == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
    assert doc.n_frames_used == (MD.n_steps - 500) // 2

    # every non-acoustic mode peaks at the true harmonic frequency (phonopy, stable FCs)
    q = np.array([m.qpoint for m in doc.modes])
    truth = cu3au_phonon.run_qpoints(q).frequencies
    optical = [i for i, m in enumerate(doc.modes) if not m.acoustic]
    assert len(optical) == 8 * 12 - 3
    for i in optical:
        mode = doc.modes[i]
        assert abs(mode.frequency_thz - truth[i, mode.band_index]) < 2 * doc.resolution_thz
        squared = truth[i, mode.band_index] ** 2 - SHIFT_THZ2  # f'^2 of the softened FCs
        expected_0k = np.sign(squared) * np.sqrt(abs(squared))
        assert mode.harmonic_frequency_thz == pytest.approx(expected_0k, abs=1e-6)

    # the modes below sqrt(6) = 2.45 THz were imaginary at 0 K and are stabilised at T
    soft = sum(1 for i in optical if truth[i, doc.modes[i].band_index] < np.sqrt(SHIFT_THZ2))
    assert soft > 0
    assert doc.stabilised_modes == soft
    assert sum(m.imaginary_at_0k for m in doc.modes) == soft
    assert doc.dynamically_stable_at_T and doc.unstable_modes == 0

    # the stored renormalised phonons load like harmonic ones and reproduce the peaks
    renormalised = load_phonopy(db, doc.phonon_id)
    qpoints = np.unique(np.round(q, 8), axis=0)
    at_q = renormalised.run_qpoints(qpoints).frequencies  # sorted: T may reorder bands
    for k, point in enumerate(qpoints):
        fitted = [m.frequency_thz for m in doc.modes if np.allclose(m.qpoint, point)]
        np.testing.assert_allclose(at_q[k], np.sort(fitted), atol=1e-6)
    png = db.blobs.get_bytes(doc.dispersion_png)
    assert png.startswith(b"\x89PNG")
    spectra = db.blobs.get_arrays(doc.spectra)
    assert spectra["spectra"].shape == (8, 12, len(spectra["frequencies_thz"]))

    # issue 10: the verdict rests on the order parameter and equipartition too; the
    # thermostat's width is subtracted; the resolution and the dispersion's nature are stated
    assert doc.stability_basis == "order parameter + equipartition + peak"
    assert doc.resolution_thz <= NMD.stability_threshold_thz
    assert doc.thermostat_width_thz == pytest.approx(1000 * MD.friction_per_fs / (2 * np.pi))
    assert doc.dispersion_kind == "interpolated" and doc.n_commensurate_qpoints == 8
    for i in optical:
        mode = doc.modes[i]
        if mode.soft_at_0k:
            assert mode.order_parameter_significance < NMD.order_parameter_sigma
        assert mode.equipartition_frequency_thz == pytest.approx(
            truth[i, mode.band_index], rel=0.25
        )
    coarse = NMDSettings(equilibration_time_ps=2.0, segment_time_ps=2.0, band_npoints=9)
    refused = run_flow(FiniteTemperaturePhononMaker(settings=coarse).make(harmonic, traj), db)
    assert refused.n_failed == 1 and "coarser than 0.2 THz" in refused.errors[0]

    # the same job again reuses its output and the collection gets no duplicate
    again = run_flow(maker.make(harmonic, traj), db)
    assert (again.n_ran, again.n_reused, again.n_failed) == (0, 1, 0)
    assert db.count("phonons", {"kind": "nmd"}) == 1


def test_nmd_job_refuses_too_short_trajectories_and_non_harmonic_phonons(
    cu3au_phonon, cu3au_structure
):
    harmonic = harmonic_doc(cu3au_structure, np.asarray(cu3au_phonon.force_constants))
    traj = harmonic_trajectory(cu3au_phonon, settings=MD.model_copy(update={"total_time_ps": 0.4}))
    maker = FiniteTemperaturePhononMaker(settings=NMDSettings(equilibration_time_ps=1.0))
    from thermogap.jobs.finite_temperature import _production_frames

    with job_blob_scope(traj), pytest.raises(InputError, match="frames remain after equil"):
        _production_frames(trajectory_from_doc(traj).arrays, 8.0, maker.settings)
    with pytest.raises(InputError, match="frames remain"):
        run_locally(
            Flow([maker.make(harmonic, traj)]), store=memory_store(), raise_immediately=True
        )
    nmd = harmonic | {"kind": "nmd"}  # an NMD document is no basis for another NMD
    with pytest.raises(InputError, match="NMD projects on the eigenvectors of a harmonic"):
        run_locally(Flow([maker.make(nmd, traj)]), store=memory_store(), raise_immediately=1)


def memory_store() -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
