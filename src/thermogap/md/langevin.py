"""Langevin NVT molecular dynamics with chunked, restartable trajectory storage.

Frames (positions, velocities, energies, stress) are buffered and written as one npz blob per
chunk; after each chunk the trajectory document is updated with the chunk's reference and
the state of the noise generator. A run continued from its last stored frame with the stored
generator state is the one an uninterrupted run would have produced (up to floating-point
round-off of the velocity round trip). Inside jobs the chunks go to the job's blob store
(:class:`BlobTrajectorySink`) and travel with the returned document; a killed job starts
again, a finished trajectory can be continued from its document. Outside jobs
:class:`DatabaseTrajectorySink` saves every chunk to a results database as it is written, so
a killed run resumes from its last chunk.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from thermogap.errors import CalculationError, InputError, StoreError
from thermogap.schemas.md import CHUNK_ARRAYS, LangevinSettings, TrajectoryChunk, TrajectoryDoc

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

__all__ = [
    "BlobTrajectorySink",
    "DatabaseTrajectorySink",
    "LoadedTrajectory",
    "ResumeState",
    "TrajectorySink",
    "load_trajectory",
    "run_langevin",
    "trajectory_id",
    "trajectory_from_doc",
]

COLLECTION = "trajectories"
KB_EV_PER_K = 8.617333262e-5


def trajectory_id(
    model_id: str, structure: dict[str, Any], temperature_k: float, settings: LangevinSettings
) -> str:
    """Return a stable id for an MD run: same model, start, T and dynamics → same id.

    The simulated time and the chunk size are left out on purpose, so a longer run of the
    same trajectory extends the stored one instead of starting again.
    """
    physics = settings.model_dump(exclude={"total_time_ps", "chunk_frames"})
    payload = {
        "model_id": model_id,
        "structure": structure,
        "temperature_k": float(temperature_k),
        "settings": physics,
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return "md-" + hashlib.sha256(blob).hexdigest()[:24]


@dataclass
class ResumeState:
    """Where a stored trajectory ends."""

    n_frames_done: int
    n_steps_done: int
    positions_ang: np.ndarray
    velocities_ang_per_fs: np.ndarray
    rng_state: dict[str, Any]


class TrajectorySink(Protocol):
    """Where :func:`run_langevin` stores chunks and finds the point to resume from."""

    def resume_state(self) -> ResumeState | None:
        """Return the last stored frame, or ``None`` if nothing is stored."""

    def write_chunk(self, arrays: dict[str, np.ndarray], rng_state: dict[str, Any]) -> None:
        """Store one chunk of frames (see :data:`thermogap.schemas.md.CHUNK_ARRAYS`)."""

    def finish(self, n_steps_target: int) -> None:
        """Mark the run finished at ``n_steps_target`` steps."""


def _record_chunk(
    doc: TrajectoryDoc,
    arrays: dict[str, np.ndarray],
    ref: dict[str, Any],
    rng_state: dict[str, Any],
) -> None:
    """Append one stored chunk (blob ``ref``) to ``doc`` and update its running totals."""
    n_frames = len(arrays["steps"])
    chunk = TrajectoryChunk(
        index=len(doc.chunks),
        first_frame=doc.n_frames_done,
        n_frames=n_frames,
        last_step=int(arrays["steps"][-1]),
        blob=ref,
        rng_state=json.dumps(rng_state),
    )
    t_new = 2.0 * arrays["kinetic_energy_ev"] / (3.0 * doc.n_atoms * KB_EV_PER_K)
    t_old = (doc.mean_temperature_k or 0.0) * doc.n_frames_done
    doc.chunks.append(chunk)
    doc.n_frames_done += n_frames
    doc.n_steps_done = chunk.last_step
    doc.mean_temperature_k = float((t_old + t_new.sum()) / doc.n_frames_done)
    doc.completed = doc.n_steps_done >= doc.n_steps_target


def _resume_from(doc: TrajectoryDoc, blobs: Any) -> ResumeState | None:
    """Return the last frame of ``doc``'s last chunk read from ``blobs``, or ``None``."""
    if not doc.chunks:
        return None
    last = doc.chunks[-1]
    arrays = blobs.get_arrays(last.blob)
    return ResumeState(
        n_frames_done=doc.n_frames_done,
        n_steps_done=doc.n_steps_done,
        positions_ang=arrays["positions_ang"][-1],
        velocities_ang_per_fs=arrays["velocities_ang_per_fs"][-1],
        rng_state=json.loads(last.rng_state),
    )


class BlobTrajectorySink:
    """Write trajectory chunks to the running job's blob store; keep the document in memory.

    This is the sink of the MD jobs: no database is opened. Every chunk is an npz blob of
    :func:`thermogap.execution.artifacts.current_blobs`; the job returns ``sink.doc``, whose
    chunk references make the bytes travel with the output (``artifacts``).

    A job that is killed loses the chunks it wrote (they are returned with its output, which
    it never returned), so a re-run starts the trajectory again. A finished trajectory can be
    continued to a longer time by passing its document as ``previous``.

    Parameters
    ----------
    doc
        The new trajectory document (no chunks yet).
    previous
        A finished or partial document of the same trajectory (same ``trajectory_id``),
        passed by reference with its chunks' bytes; the run continues from its last frame.
    blobs
        Blob store for the chunks; default: the running job's.

    Raises
    ------
    InputError
        If ``previous`` is another trajectory (different ``trajectory_id``).
    """

    def __init__(self, doc: TrajectoryDoc, previous: Any = None, blobs: Any = None) -> None:
        from thermogap.execution.artifacts import current_blobs

        self.blobs = blobs if blobs is not None else current_blobs()
        if previous is not None:
            if isinstance(previous, dict):
                previous = _document_fields(previous)
            old = TrajectoryDoc.model_validate(previous)
            if old.trajectory_id != doc.trajectory_id:
                raise InputError(
                    f"previous trajectory {old.trajectory_id} is not the run asked for "
                    f"({doc.trajectory_id}): model, structure, temperature, dynamics settings "
                    "and seed must be the same to continue it"
                )
            doc = old.model_copy(
                update={"n_steps_target": doc.n_steps_target, "artifacts": None}, deep=True
            )
        self.doc = doc

    def resume_state(self) -> ResumeState | None:
        """Return the last frame of the previous run's last chunk, or ``None``."""
        return _resume_from(self.doc, self.blobs)

    def write_chunk(self, arrays: dict[str, np.ndarray], rng_state: dict[str, Any]) -> None:
        """Store ``arrays`` as an npz blob and record it (and the RNG state) in the doc."""
        ref = self.blobs.put_arrays(arrays, kind="trajectory-chunk")
        _record_chunk(self.doc, arrays, ref.model_dump(), rng_state)

    def finish(self, n_steps_target: int) -> None:
        """Record the target and completion flag."""
        self.doc.n_steps_target = n_steps_target
        self.doc.completed = self.doc.n_steps_done >= n_steps_target


class DatabaseTrajectorySink:
    """Store trajectory chunks in a results database's blobs and the document in ``trajectories``.

    For code that runs outside jobs with a database at hand (scripts, benchmarks): every
    chunk is saved as it is written, so a killed run resumes from its last chunk. The MD
    jobs use :class:`BlobTrajectorySink` instead and open no database.

    Parameters
    ----------
    db
        :class:`thermogap.store.ResultsDB`.
    doc
        The trajectory document to start from; if a document with the same
        ``trajectory_id`` is stored, it is continued instead.
    """

    def __init__(self, db: Any, doc: TrajectoryDoc) -> None:
        self.db = db
        stored = db.query_one(
            COLLECTION, {"trajectory_id": doc.trajectory_id}, sort={"n_steps_done": -1}
        )
        if stored is not None:
            doc = TrajectoryDoc.model_validate(stored | {"n_steps_target": doc.n_steps_target})
        self.doc = doc

    def resume_state(self) -> ResumeState | None:
        """Return the last frame of the last stored chunk, or ``None``."""
        return _resume_from(self.doc, self.db.blobs)

    def write_chunk(self, arrays: dict[str, np.ndarray], rng_state: dict[str, Any]) -> None:
        """Store ``arrays`` as an npz blob and record it (and the RNG state) in the doc."""
        ref = self.db.blobs.put_arrays(arrays, kind="trajectory-chunk")
        _record_chunk(self.doc, arrays, ref.model_dump(), rng_state)
        self._save()

    def finish(self, n_steps_target: int) -> None:
        """Record the target and completion flag."""
        self.doc.n_steps_target = n_steps_target
        self.doc.completed = self.doc.n_steps_done >= n_steps_target
        self._save()

    def _save(self) -> None:
        self.db.upsert(COLLECTION, [self.doc.model_dump(mode="json")], key="trajectory_id")


def _initial_state(atoms: Atoms, temperature_k: float, rng: np.random.Generator) -> None:
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_k, rng=rng)
    Stationary(atoms)


def _frame(atoms: Atoms, step: int) -> dict[str, Any]:
    from ase import units

    energy = atoms.get_potential_energy()
    if not np.isfinite(energy):
        raise CalculationError(f"non-finite potential energy {energy} at MD step {step}")
    return {
        "steps": step,
        "positions_ang": atoms.get_positions(),
        "velocities_ang_per_fs": atoms.get_velocities() * units.fs,
        "potential_energy_ev": energy,
        "kinetic_energy_ev": atoms.get_kinetic_energy(),
        "stress_ev_per_ang3": atoms.get_stress(voigt=False),
    }


def _stack(frames: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {key: np.asarray([f[key] for f in frames]) for key in CHUNK_ARRAYS}


def run_langevin(
    atoms: Atoms,
    calculator: Calculator,
    temperature_k: float,
    settings: LangevinSettings,
    sink: TrajectorySink,
    n_steps: int | None = None,
    progress: bool = True,
) -> None:
    """Run (or resume) Langevin MD and store frames through ``sink`` chunk by chunk.

    Parameters
    ----------
    atoms
        Starting configuration (not modified); used only if ``sink`` holds no frames yet.
    calculator
        ASE calculator giving energy (eV), forces (eV/Å) and stress (eV/Å^3).
    temperature_k
        Thermostat temperature, K; also the Maxwell–Boltzmann start temperature.
    settings
        Time step, friction, saving interval, chunk size and seed.
    sink
        Storage of chunks; holds the restart point.
    n_steps
        Total number of steps of the trajectory (including any already stored);
        default ``settings.n_steps``. Must be a multiple of ``settings.save_interval_steps``.
    progress
        Show a tqdm progress bar.
    """
    from ase import units
    from ase.md.langevin import Langevin
    from tqdm.auto import tqdm

    if temperature_k <= 0:
        raise InputError(f"{temperature_k=} K must be positive")
    n_steps = settings.n_steps if n_steps is None else n_steps
    interval = settings.save_interval_steps
    if n_steps % interval:
        raise InputError(f"{n_steps=} is not a multiple of save_interval_steps={interval}")

    atoms = atoms.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(settings.seed)
    state = sink.resume_state()
    if state is None:
        _initial_state(atoms, temperature_k, rng)
        steps_done = 0
    else:
        if state.positions_ang.shape != atoms.positions.shape:
            raise StoreError(
                f"stored trajectory has {len(state.positions_ang)} atoms, "
                f"structure has {len(atoms)}"
            )
        atoms.set_positions(state.positions_ang)
        atoms.set_velocities(state.velocities_ang_per_fs / units.fs)
        rng.bit_generator.state = state.rng_state
        steps_done = state.n_steps_done

    dynamics = Langevin(
        atoms,
        timestep=settings.timestep_fs * units.fs,
        temperature_K=temperature_k,
        friction=settings.friction_per_fs / units.fs,
        fixcm=settings.fix_com,
        rng=rng,
    )
    frames: list[dict[str, Any]] = []
    with tqdm(
        total=n_steps,
        initial=min(steps_done, n_steps),
        unit="step",
        disable=None if progress else True,  # None: no bar when stderr is not a terminal
        desc=f"Langevin {temperature_k:g} K",
    ) as bar:
        for step in range(steps_done + interval, n_steps + 1, interval):
            dynamics.run(interval)
            frames.append(_frame(atoms, step))
            bar.update(interval)
            if len(frames) == settings.chunk_frames or step == n_steps:
                sink.write_chunk(_stack(frames), dict(rng.bit_generator.state))
                frames = []
    sink.finish(n_steps)


@dataclass
class LoadedTrajectory:
    """A stored trajectory read back: its document and its frames concatenated.

    ``arrays`` holds the keys of :data:`thermogap.schemas.md.CHUNK_ARRAYS`, each with
    ``n_frames_done`` frames along the first axis.
    """

    doc: TrajectoryDoc
    arrays: dict[str, np.ndarray]

    def atoms(self, frame: int) -> Atoms:
        """Return frame ``frame`` as ASE atoms with velocities (ASE units)."""
        from ase import units
        from pymatgen.core import Structure
        from pymatgen.io.ase import AseAtomsAdaptor

        atoms = AseAtomsAdaptor.get_atoms(Structure.from_dict(self.doc.structure))
        atoms.set_positions(self.arrays["positions_ang"][frame])
        atoms.set_velocities(self.arrays["velocities_ang_per_fs"][frame] / units.fs)
        return atoms


def _document_fields(stored: dict[str, Any]) -> dict[str, Any]:
    """Return the TrajectoryDoc fields of a stored or serialised document.

    Drops what the store and the builders add (``_id``, ``@class``, ``job_uuid``, ...).
    """
    return {k: v for k, v in stored.items() if k in TrajectoryDoc.model_fields}


def load_trajectory(db: Any, trajectory_id: str, n_steps: int | None = None) -> LoadedTrajectory:
    """Read a trajectory's document and all its chunks from the results database.

    Parameters
    ----------
    db
        :class:`thermogap.store.ResultsDB`.
    trajectory_id
        Id of the trajectory document.
    n_steps
        Which run of it (runs of different lengths are kept apart); default: the longest.

    Returns
    -------
    LoadedTrajectory

    Raises
    ------
    StoreError
        If no such trajectory is stored.
    BlobIntegrityError
        If a chunk does not match its SHA-256.
    """
    criteria: dict[str, Any] = {"trajectory_id": trajectory_id}
    if n_steps is not None:
        criteria["n_steps_done"] = n_steps
    stored = db.query_one(COLLECTION, criteria, sort={"n_steps_done": -1})
    if stored is None:
        raise StoreError(f"no trajectory with {criteria} in {COLLECTION!r}")
    doc = TrajectoryDoc.model_validate(_document_fields(stored))
    parts = [db.blobs.get_arrays(chunk.blob) for chunk in doc.chunks]
    arrays = {
        key: np.concatenate([p[key] for p in parts]) if parts else np.zeros(0)
        for key in CHUNK_ARRAYS
    }
    return LoadedTrajectory(doc=doc, arrays=arrays)


def trajectory_from_doc(doc: Any, blobs: Any = None) -> LoadedTrajectory:
    """Read a trajectory from its document passed by reference (no database).

    Parameters
    ----------
    doc
        :class:`TrajectoryDoc` (or its dict), the output of the MD job, carrying its chunks'
        bytes as ``artifacts`` (see :mod:`thermogap.execution.artifacts`).
    blobs
        Blob store to read the chunks from; default: the running job's.

    Raises
    ------
    StoreError
        If a chunk's bytes are not available.
    BlobIntegrityError
        If a chunk does not match its SHA-256.
    """
    from thermogap.execution.artifacts import current_blobs

    if isinstance(doc, dict):
        doc = _document_fields(doc)
    loaded = TrajectoryDoc.model_validate(doc)
    store = blobs or current_blobs()
    parts = [store.get_arrays(chunk.blob) for chunk in loaded.chunks]
    arrays = {
        key: np.concatenate([p[key] for p in parts]) if parts else np.zeros(0)
        for key in CHUNK_ARRAYS
    }
    return LoadedTrajectory(doc=loaded, arrays=arrays)
