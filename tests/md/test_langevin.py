import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from thermogap.errors import CalculationError, InputError
from thermogap.md.langevin import (
    DatabaseTrajectorySink,
    load_trajectory,
    run_langevin,
    trajectory_id,
)
from thermogap.schemas.md import LangevinSettings, TrajectoryDoc

SETTINGS = LangevinSettings(total_time_ps=0.06, save_interval_steps=5, chunk_frames=3, seed=7)


class CrashingEMT(EMT):
    """EMT that dies (like a killed worker) after a given number of force evaluations."""

    def __init__(self, crash_after):
        super().__init__()
        self.calls, self.crash_after = 0, crash_after

    def calculate(self, *args, **kwargs):
        self.calls += 1
        if self.calls > self.crash_after:
            raise CalculationError("simulated kill")
        super().calculate(*args, **kwargs)


def _copper():
    return bulk("Cu", "fcc", a=3.6, cubic=True) * (2, 2, 2)


def _sink(db, atoms, settings=SETTINGS, temperature_k=300.0):
    from pymatgen.io.ase import AseAtomsAdaptor

    structure = AseAtomsAdaptor.get_structure(atoms).as_dict()
    doc = TrajectoryDoc(
        trajectory_id=trajectory_id("emt", structure, temperature_k, settings),
        model_id="emt",
        formula="Cu",
        n_atoms=len(atoms),
        structure=structure,
        temperature_k=temperature_k,
        timestep_fs=settings.timestep_fs,
        friction_per_fs=settings.friction_per_fs,
        save_interval_steps=settings.save_interval_steps,
        seed=settings.seed,
        n_steps_target=settings.n_steps,
    )
    return DatabaseTrajectorySink(db, doc)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    from thermogap.store import ResultsDB

    atoms = _copper()
    with ResultsDB.from_spec(tmp_path / "a") as db_a:
        sink = _sink(db_a, atoms)
        run_langevin(atoms, EMT(), 300.0, SETTINGS, sink, progress=False)
        full = load_trajectory(db_a, sink.doc.trajectory_id)
    assert full.doc.n_frames_done == 12 and len(full.doc.chunks) == 4 and full.doc.completed

    with ResultsDB.from_spec(tmp_path / "b") as db_b:
        with pytest.raises(CalculationError):  # killed during the third chunk
            run_langevin(
                atoms, CrashingEMT(40), 300.0, SETTINGS, _sink(db_b, atoms), progress=False
            )
        partial = load_trajectory(db_b, full.doc.trajectory_id)
        assert partial.doc.n_frames_done == 6 and not partial.doc.completed
        run_langevin(atoms, EMT(), 300.0, SETTINGS, _sink(db_b, atoms), progress=False)
        resumed = load_trajectory(db_b, full.doc.trajectory_id)
    for key, values in full.arrays.items():
        np.testing.assert_allclose(resumed.arrays[key], values, rtol=1e-8, atol=1e-10, err_msg=key)
    assert resumed.doc.n_steps_done == SETTINGS.n_steps == 60


def test_stored_frames_are_physically_consistent(db):
    atoms = _copper()
    sink = _sink(db, atoms)
    run_langevin(atoms, EMT(), 300.0, SETTINGS, sink, progress=False)
    traj = load_trajectory(db, sink.doc.trajectory_id)
    masses = atoms.get_masses()
    from ase import units

    # kinetic energy from the stored velocities (Å/fs → ASE units), computed independently
    v = traj.arrays["velocities_ang_per_fs"] / units.fs
    kinetic = 0.5 * np.einsum("i,fij->f", masses, v**2)
    np.testing.assert_allclose(traj.arrays["kinetic_energy_ev"], kinetic, rtol=1e-10)
    # stored energy and stress are those of EMT at the stored positions
    frame = traj.atoms(5)
    frame.calc = EMT()
    assert frame.get_potential_energy() == pytest.approx(
        traj.arrays["potential_energy_ev"][5], abs=1e-10
    )
    np.testing.assert_allclose(
        frame.get_stress(voigt=False), traj.arrays["stress_ev_per_ang3"][5], atol=1e-12
    )
    np.testing.assert_array_equal(traj.arrays["steps"], np.arange(5, 61, 5))


def test_maxwell_boltzmann_start_and_thermostat_reach_temperature(db):
    """Over 2 ps with strong friction the mean kinetic temperature is near the target."""
    atoms = _copper()
    settings = LangevinSettings(
        total_time_ps=2.0,
        timestep_fs=5.0,
        friction_per_fs=0.05,
        save_interval_steps=2,
        chunk_frames=100,
        seed=1,
    )
    sink = _sink(db, atoms, settings, temperature_k=500.0)
    run_langevin(atoms, EMT(), 500.0, settings, sink, progress=False)
    # 32 atoms: the kinetic temperature fluctuates by ~sqrt(2/(3N)) ≈ 14% per frame
    assert sink.doc.mean_temperature_k == pytest.approx(500.0, rel=0.15)


def test_bad_inputs_are_rejected(db):
    atoms = _copper()
    with pytest.raises(InputError, match="multiple"):
        run_langevin(atoms, EMT(), 300.0, SETTINGS, _sink(db, atoms), n_steps=7, progress=False)
    with pytest.raises(InputError, match="positive"):
        run_langevin(atoms, EMT(), -1.0, SETTINGS, _sink(db, atoms), progress=False)
