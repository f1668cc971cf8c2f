"""Batched multi-replica Langevin MD (thermogap.md.batched) against independent references.

* The batched MACE evaluation equals mace-torch's own ASE ``MACECalculator`` cell by cell.
* The batched integrator samples what ASE's ``Langevin`` (``run_langevin``) samples: same
  mean temperature (and the thermostat's), same mean band gap of a synthetic gap model, same
  velocity autocorrelation, for one replica driven by the same force field; a wrong
  temperature and a wrong friction are detected as different (negative controls).
* A killed batch resumes into the trajectories of an uninterrupted run.
* The Maker runs in a flow without a database and its documents carry their frames.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.calculators.calculator import Calculator, all_changes
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gnn.synthetic import synthetic_gap_ev
from mlip.tiny_mace import ag3sbr_cell
from thermogap.errors import CalculationError, InputError, StoreError
from thermogap.md.batched import (
    MaceBatchEvaluator,
    MemoryTrajectorySink,
    Replica,
    run_batched_langevin,
)
from thermogap.md.langevin import KB_EV_PER_K, run_langevin
from thermogap.md.statistics import integrated_autocorrelation_time, mean_and_stderr
from thermogap.mlip.calculator import contained_mace_import
from thermogap.schemas.md import LangevinSettings


@pytest.fixture(autouse=True)
def _keep_torch_default_dtype():
    # MACECalculator sets torch's global default dtype; give the next test the old one back
    previous = torch.get_default_dtype()
    yield
    torch.set_default_dtype(previous)


def tiny_random_mace(seed: int = 0):
    """An untrained tiny ScaleShiftMACE (S, Br, Ag) with ZBL repulsion, float64."""
    from fixtures.models import tiny_mace

    return tiny_mace(seed)


def mace_calculator(model, dtype="float64"):
    with contained_mace_import():
        from mace.calculators import MACECalculator

    return MACECalculator(models=model, device="cpu", default_dtype=dtype)


# ---------------------------------------------------------------------------------------------
# batched MACE evaluation = MACECalculator


def test_batched_mace_equals_mace_calculator_per_cell():
    model = tiny_random_mace()
    rng = np.random.default_rng(0)
    cells = [ag3sbr_cell(), ag3sbr_cell() * (2, 1, 1), ag3sbr_cell(5.1)]
    for k, atoms in enumerate(cells):  # rattled, and the last one far outside its cell
        atoms.positions += rng.normal(0, 0.25, atoms.positions.shape) + (7.0 if k == 2 else 0)
    calc = mace_calculator(model)
    reference = []
    for atoms in cells:
        a = atoms.copy()
        a.calc = calc
        reference.append((a.get_potential_energy(), a.get_forces(), a.get_stress(voigt=False)))

    for dtype, tol in (("float64", 1e-10), ("float32", 2e-5)):
        evaluator = MaceBatchEvaluator(model, cells, dtype=dtype, skin_ang=1.0)
        evaluator.set_active([2, 0, 1])
        order = [2, 0, 1]
        positions = torch.tensor(np.concatenate([cells[r].positions for r in order]))
        assert evaluator.update_neighbours(positions) == 3
        energy, forces, stress = evaluator.evaluate(positions, compute_stress=True)
        start = 0
        for k, r in enumerate(order):
            n = len(cells[r])
            e_ref, f_ref, s_ref = reference[r]
            assert energy[k].item() == pytest.approx(e_ref, abs=tol * max(1, abs(e_ref)))
            np.testing.assert_allclose(forces[start : start + n].numpy(), f_ref, atol=tol)
            np.testing.assert_allclose(stress[k].numpy(), s_ref, atol=tol)
            start += n

    # within the skin the list is reused (no rebuild) and still gives MACECalculator's forces
    moved = [a.copy() for a in cells]
    for a in moved:
        a.positions += rng.uniform(-0.25, 0.25, a.positions.shape)
    positions = torch.tensor(np.concatenate([moved[r].positions for r in order]))
    assert evaluator.update_neighbours(positions) == 0
    _, forces, _ = evaluator.evaluate(positions)
    a = moved[1].copy()
    a.calc = calc
    n0, n1 = len(moved[2]), len(moved[0])
    np.testing.assert_allclose(forces[n0 + n1 :].numpy(), a.get_forces(), atol=2e-5)
    # beyond half the skin, that replica's list (and only that one) is rebuilt
    positions[n0, 0] += 0.6
    assert evaluator.update_neighbours(positions) == 1


def test_unknown_element_and_bad_dtype_are_refused():
    model = tiny_random_mace()
    cu = ag3sbr_cell()
    cu.numbers[0] = 29
    with pytest.raises(InputError, match=r"\[29\]"):
        MaceBatchEvaluator(model, [cu])
    with pytest.raises(InputError, match="float16"):
        MaceBatchEvaluator(model, [ag3sbr_cell()], dtype="float16")


# ---------------------------------------------------------------------------------------------
# statistics: batched integrator vs ASE Langevin with one force field

#: Morse bonds D [(1 - exp(-a (r - r0)))^2 - 1] with r0 the pair's nearest-neighbour distance
#: in cubic Ag3SBr (a = 4.9 Å), so the crystal is the minimum: a stiff, anharmonic solid.
MORSE_D_EV, MORSE_A_PER_ANG = 0.3, 1.6
R0_ANG = np.full((100, 100), np.inf)  # by atomic numbers; inf: no bond
for (z1, z2), r0 in {(16, 47): 4.9 / 2, (47, 47): 4.9 / 2**0.5, (35, 47): 4.9 / 2**0.5}.items():
    R0_ANG[z1, z2] = R0_ANG[z2, z1] = r0
CUT_ON, CUT_OFF = 3.8, 4.1


class MorseForceField:
    """A batched pair force field (torch, autograd forces) for any list of cells."""

    def __init__(self, cells):
        self.cells, self.n_rebuilds, self.active = cells, 0, []

    def set_active(self, replicas):
        self.active = list(replicas)

    def update_neighbours(self, positions):
        return 0  # a full list is built at every call

    def _energy(self, atoms, x):
        from matscipy.neighbours import neighbour_list

        i, j, shift = neighbour_list(
            "ijS", positions=x.detach().numpy(), cell=atoms.cell, pbc=atoms.pbc, cutoff=CUT_OFF
        )
        r0 = R0_ANG[atoms.numbers[i], atoms.numbers[j]]
        bonded = np.isfinite(r0)
        i, j, shift, r0 = i[bonded], j[bonded], shift[bonded], torch.tensor(r0[bonded])
        vectors = x[j] - x[i] + torch.tensor(shift @ atoms.cell[:], dtype=x.dtype)
        r = torch.linalg.vector_norm(vectors, dim=1)
        t = ((r - CUT_ON) / (CUT_OFF - CUT_ON)).clamp(0, 1)
        switch = 0.5 * (1 + torch.cos(np.pi * t))
        morse = MORSE_D_EV * ((1 - torch.exp(-MORSE_A_PER_ANG * (r - r0))) ** 2 - 1)
        return 0.5 * (morse * switch).sum()  # every pair is listed twice

    def evaluate(self, positions, compute_stress=False):
        energies, forces, start = [], [], 0
        for r in self.active:
            atoms = self.cells[r]
            x = positions[start : start + len(atoms)].detach().clone().requires_grad_(True)
            start += len(atoms)
            energy = self._energy(atoms, x)
            (grad,) = torch.autograd.grad(energy, x)
            energies.append(energy.detach())
            forces.append(-grad)
        stress = torch.zeros(len(self.active), 3, 3) if compute_stress else None  # not modelled
        return torch.stack(energies), torch.cat(forces), stress


class ForceFieldCalculator(Calculator):
    """The same force field as an ASE calculator, for ``run_langevin``."""

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self, atoms):
        super().__init__()
        self.field = MorseForceField([atoms])
        self.field.set_active([0])

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        positions = torch.tensor(self.atoms.positions)
        energy, forces, _ = self.field.evaluate(positions)
        self.results = {"energy": float(energy[0]), "forces": forces.numpy(), "stress": np.zeros(6)}


def _mean(series):
    """Mean and its standard error corrected for the series' autocorrelation time."""
    return mean_and_stderr(series, integrated_autocorrelation_time(series))


def _observables(arrays, atoms, discard=0.2, n_blocks=8, max_lag_frames=40):
    """Mean T and mean synthetic gap (± stderr), and the normalised VACF (± block stderr)."""
    skip = int(discard * len(arrays["steps"]))
    temperature = 2 * arrays["kinetic_energy_ev"][skip:] / (3 * len(atoms) * KB_EV_PER_K)
    structure = AseAtomsAdaptor.get_structure(atoms)
    gaps = [
        synthetic_gap_ev(
            Structure(structure.lattice, structure.species, x, coords_are_cartesian=True)
        )
        for x in arrays["positions_ang"][skip::2]
    ]
    v = arrays["velocities_ang_per_fs"][skip:]
    curves = []
    for block in np.array_split(v, n_blocks):
        n = len(block)
        c = [
            np.mean(np.sum(block[: n - lag] * block[lag:], axis=2)) for lag in range(max_lag_frames)
        ]
        curves.append(np.array(c) / c[0])
    curves = np.array(curves)
    vacf = (curves.mean(axis=0), curves.std(axis=0, ddof=1) / np.sqrt(n_blocks))
    return _mean(temperature), _mean(np.array(gaps)), vacf


def _same(a, b, n_sigma=3.5):
    """Whether two (mean, stderr) agree within ``n_sigma`` combined standard errors."""
    return abs(a[0] - b[0]) <= n_sigma * np.hypot(a[1], b[1])


def _same_vacf(a, b, max_chi2=4.0):
    """Whether two VACFs agree: mean squared z-score over the lags below ``max_chi2``."""
    z = (a[0][1:] - b[0][1:]) / np.hypot(a[1][1:], b[1][1:])
    return float(np.mean(z**2)) < max_chi2, float(np.mean(z**2))


def test_batched_integrator_samples_the_ase_langevin_ensemble():
    atoms = ag3sbr_cell() * (2, 2, 2)
    temperature = 300.0
    settings = LangevinSettings(total_time_ps=5.0, save_interval_steps=5, chunk_frames=400, seed=4)
    ase_sink = MemoryTrajectorySink()
    run_langevin(
        atoms, ForceFieldCalculator(atoms), temperature, settings, ase_sink, progress=False
    )
    # the replica under test and, in the same batch, a negative control 50 % hotter
    batched, hotter = MemoryTrajectorySink(), MemoryTrajectorySink()
    replicas = [
        Replica(atoms, temperature, batched, seed=1),
        Replica(atoms, 1.5 * temperature, hotter, seed=2),
    ]
    run_batched_langevin(MorseForceField([atoms, atoms]), replicas, settings, progress=False)
    # negative control: ten times the friction changes the dynamics (not the ensemble)
    sticky = MemoryTrajectorySink()
    run_batched_langevin(
        MorseForceField([atoms]),
        [Replica(atoms, temperature, sticky, seed=1)],
        settings.model_copy(update={"friction_per_fs": 10 * settings.friction_per_fs}),
        progress=False,
    )

    t_ase, gap_ase, vacf_ase = _observables(ase_sink.arrays(), atoms)
    t_bat, gap_bat, vacf_bat = _observables(batched.arrays(), atoms)
    t_hot, gap_hot, _ = _observables(hotter.arrays(), atoms)
    _, _, vacf_sticky = _observables(sticky.arrays(), atoms)
    print(f"T: ASE {t_ase}, batched {t_bat}, hot control {t_hot}")
    print(f"gap: ASE {gap_ase}, batched {gap_bat}, hot control {gap_hot}")
    same_vacf, chi2 = _same_vacf(vacf_bat, vacf_ase)
    differs, chi2_sticky = _same_vacf(vacf_sticky, vacf_ase)
    print(f"VACF chi2: batched {chi2:.2f}, friction x10 {chi2_sticky:.2f}")

    # the thermostat's temperature (equipartition) and the ASE path, within error bars
    assert _same(t_bat, (temperature, 0.0)) and _same(t_ase, (temperature, 0.0))
    assert _same(t_bat, t_ase)
    assert _same(gap_bat, gap_ase)
    assert same_vacf
    # the comparison can fail: 50 % hotter, or ten times the friction, are told apart
    assert not _same(t_hot, t_ase) and not _same(gap_hot, gap_ase)
    assert not differs


# ---------------------------------------------------------------------------------------------
# restart


class KilledSink(MemoryTrajectorySink):
    """Memory sink that dies (like a killed worker) when asked for chunk ``die_at``."""

    def __init__(self, die_at=None, chunks=None):
        super().__init__()
        self.die_at, self.chunks = die_at, list(chunks or [])

    def write_chunk(self, arrays, rng_state):
        if self.die_at is not None and len(self.chunks) == self.die_at:
            raise CalculationError("simulated kill")
        super().write_chunk(arrays, rng_state)


def test_killed_batch_resumes_into_the_uninterrupted_trajectories():
    model = tiny_random_mace()
    cells = [ag3sbr_cell(), ag3sbr_cell() * (2, 1, 1)]
    settings = LangevinSettings(total_time_ps=0.06, save_interval_steps=5, chunk_frames=3)
    temps = [300.0, 700.0]

    def replicas(sinks):
        return [
            Replica(c, t, s, seed=10 + k)
            for k, (c, t, s) in enumerate(zip(cells, temps, sinks, strict=True))
        ]

    full = [MemoryTrajectorySink(), MemoryTrajectorySink()]
    report = run_batched_langevin(model, replicas(full), settings, dtype="float64", progress=False)
    assert report.replica_steps == 120 and [len(s.chunks) for s in full] == [4, 4]

    # killed while writing the third chunks: the first replica has stored it, the second not
    killed = [KilledSink(), KilledSink(die_at=2)]
    with pytest.raises(CalculationError):
        run_batched_langevin(model, replicas(killed), settings, dtype="float64", progress=False)
    assert [len(s.chunks) for s in killed] == [3, 2]
    resumed = [KilledSink(chunks=s.chunks) for s in killed]
    report = run_batched_langevin(
        model, replicas(resumed), settings, dtype="float64", progress=False
    )
    assert report.replica_steps == (60 - 45) + (60 - 30)
    for a, b in zip(full, resumed, strict=True):
        for key, values in a.arrays().items():
            np.testing.assert_allclose(b.arrays()[key], values, rtol=1e-7, atol=1e-9, err_msg=key)

    # the replicas' streams are their own: another seed gives another trajectory
    other = MemoryTrajectorySink()
    run_batched_langevin(
        model, [Replica(cells[0], 300.0, other, seed=99)], settings, dtype="float64", progress=False
    )
    assert not np.allclose(other.arrays()["positions_ang"], full[0].arrays()["positions_ang"])
    # a trajectory of the ASE path (numpy random state) is not continued by the batched one
    ase_sink = MemoryTrajectorySink()
    run_langevin(cells[0], mace_calculator(model), 300.0, settings, ase_sink, progress=False)
    ase_sink.chunks = ase_sink.chunks[:1]
    with pytest.raises(StoreError, match="batched"):
        run_batched_langevin(model, [Replica(cells[0], 300.0, ase_sink)], settings, progress=False)


def test_bad_inputs_are_refused():
    model = tiny_random_mace()
    settings = LangevinSettings(total_time_ps=0.01, save_interval_steps=3)
    with pytest.raises(InputError, match="multiple"):
        run_batched_langevin(model, [Replica(ag3sbr_cell(), 300, MemoryTrajectorySink())], settings)
    settings = LangevinSettings(total_time_ps=0.01, save_interval_steps=5)
    with pytest.raises(InputError, match="positive"):
        run_batched_langevin(model, [Replica(ag3sbr_cell(), 0.0, MemoryTrajectorySink())], settings)
    with pytest.raises(InputError, match="empty"):
        run_batched_langevin(model, [], settings)


# ---------------------------------------------------------------------------------------------
# the Maker in a flow


def test_maker_runs_replicas_in_a_flow_and_returns_readable_trajectories():
    from jobflow import Flow, JobStore, run_locally
    from maggma.stores import MemoryStore

    from fixtures.models import mlip_model_doc
    from thermogap.execution.artifacts import job_blob_scope
    from thermogap.jobs.md import BatchedLangevinMDMaker
    from thermogap.md.langevin import trajectory_from_doc

    mlip = mlip_model_doc(tiny_random_mace())  # the weights-only form models travel in
    small, large = ag3sbr_cell(), ag3sbr_cell() * (2, 1, 1)
    structures = [AseAtomsAdaptor.get_structure(a) for a in (small, large, small)]
    settings = LangevinSettings(total_time_ps=0.02, save_interval_steps=5, chunk_frames=3)
    maker = BatchedLangevinMDMaker(settings=settings, progress=False)
    job = maker.make(structures, mlip, [300.0, 300.0, 600.0], ["a", "b", "a"], [1.0, 1.0, 1.0])
    # one temperature for three structures: the job fails (the error is raised when it runs)
    bad = maker.make(structures, mlip, [300.0])
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(Flow([job, bad]), store=store)
    assert not responses.get(bad.uuid)
    docs = responses[job.uuid][1].output
    assert [d.temperature_k for d in docs] == [300.0, 300.0, 600.0]
    assert [d.n_atoms for d in docs] == [5, 10, 5] and [d.structure_id for d in docs] == list("aba")
    assert len({d.trajectory_id for d in docs}) == 3 and len({d.seed for d in docs}) == 3
    for doc in docs:
        assert doc.completed and doc.integrator == "baoab-batched" and doc.model_dtype == "float32"
        with job_blob_scope(doc):  # the bytes the document carries (what the gap jobs read)
            loaded = trajectory_from_doc(doc)
        np.testing.assert_array_equal(loaded.arrays["steps"], [5, 10, 15, 20])
        assert (
            len(loaded.doc.chunks) == 2 and loaded.arrays["positions_ang"].shape[1] == doc.n_atoms
        )
        t = 2 * loaded.arrays["kinetic_energy_ev"] / (3 * doc.n_atoms * KB_EV_PER_K)
        assert doc.mean_temperature_k == pytest.approx(t.mean())
        assert np.all(np.isfinite(loaded.arrays["stress_ev_per_ang3"]))

    # a longer run given the earlier documents extends them instead of restarting
    longer = BatchedLangevinMDMaker(settings=settings.model_copy(update={"total_time_ps": 0.03}))
    job = longer.make(
        structures[:1], mlip, [300.0], ["a"], [1.0], previous=[docs[0].model_dump(mode="json")]
    )
    responses = run_locally(Flow([job]), store=store, ensure_success=True)
    (extended,) = responses[job.uuid][1].output
    assert extended.trajectory_id == docs[0].trajectory_id
    with job_blob_scope(extended):
        stored = trajectory_from_doc(extended)
    np.testing.assert_array_equal(stored.arrays["steps"], [5, 10, 15, 20, 25, 30])
    np.testing.assert_array_equal(stored.arrays["positions_ang"][:4], loaded_positions(docs[0]))


def loaded_positions(doc):
    from thermogap.execution.artifacts import job_blob_scope
    from thermogap.md.langevin import trajectory_from_doc

    with job_blob_scope(doc):
        return trajectory_from_doc(doc).arrays["positions_ang"]
