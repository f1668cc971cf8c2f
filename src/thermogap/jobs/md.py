"""jobflow Makers for Langevin MD with a stored MLIP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow, Job, Maker
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.schemas.base import make_provenance
from thermogap.schemas.md import LangevinSettings, TrajectoryDoc

__all__ = ["BatchedLangevinMDMaker", "LangevinMDMaker", "LangevinTemperatureSweepMaker"]


@dataclass
class LangevinMDMaker(Maker):
    """Langevin NVT MD at one temperature, frames stored in blob chunks, restartable.

    If the job is killed and run again with the same inputs, it resumes from the last
    stored chunk of the trajectory (same ``trajectory_id``) instead of starting over.

    Parameters
    ----------
    name
        Job name.
    settings
        Time step (paper: 1 fs), friction (paper: 5e-3 1/fs), simulated time (paper: 40 ps),
        saving interval, chunk size, seed.
    device
        Torch device of the model.
    progress
        Show a tqdm progress bar.

    Examples
    --------
    >>> from thermogap.structures import load_structure
    >>> structure = load_structure("Ag3SBr")
    >>> maker = LangevinMDMaker(settings=LangevinSettings(total_time_ps=10))
    >>> job = maker.make(structure, model_id="mace-0123456789abcdef", temperature_k=300)
    """

    name: str = "langevin md"
    settings: LangevinSettings = field(default_factory=LangevinSettings)
    device: str = "cpu"
    progress: bool = True

    @tg_job
    def make(
        self,
        structure: Structure,
        model_id: str,
        temperature_k: float,
        structure_id: str | None = None,
        x: float | None = None,
    ) -> TrajectoryDoc:
        """Run (or resume) MD of ``structure`` with model ``model_id`` at ``temperature_k`` K."""
        from thermogap.md.langevin import DatabaseTrajectorySink, run_langevin, trajectory_id
        from thermogap.mlip.calculator import calculator_from_model_id
        from thermogap.store import current_db

        db = current_db()
        model = db.query_one("models", {"model_id": model_id}, properties=["sha256"]) or {}
        start = structure.as_dict()
        doc = TrajectoryDoc(
            trajectory_id=trajectory_id(model_id, start, temperature_k, self.settings),
            model_id=model_id,
            structure_id=structure_id,
            formula=structure.composition.reduced_formula,
            x=x,
            n_atoms=len(structure),
            structure=start,
            temperature_k=temperature_k,
            timestep_fs=self.settings.timestep_fs,
            friction_per_fs=self.settings.friction_per_fs,
            save_interval_steps=self.settings.save_interval_steps,
            seed=self.settings.seed,
            n_steps_target=self.settings.n_steps,
            provenance=make_provenance(model_id=model_id, model_sha256=model.get("sha256")),
        )
        sink = DatabaseTrajectorySink(db, doc)
        if not sink.doc.completed:
            calc = calculator_from_model_id(db, model_id, device=self.device)
            run_langevin(
                AseAtomsAdaptor.get_atoms(structure),
                calc,
                temperature_k,
                self.settings,
                sink,
                progress=self.progress,
            )
        return sink.doc


@dataclass
class LangevinTemperatureSweepMaker(Maker):
    """One :class:`LangevinMDMaker` job per temperature.

    Parameters
    ----------
    name
        Flow name.
    temperatures_k
        Temperatures, K.
    md_maker
        The Maker of each MD job.

    Examples
    --------
    >>> from thermogap.structures import load_structure
    >>> s = load_structure("Ag3SI")
    >>> flow = LangevinTemperatureSweepMaker(temperatures_k=[100, 300]).make(s, "mace-...")
    >>> len(flow.jobs)
    2
    """

    name: str = "langevin temperature sweep"
    temperatures_k: list[float] = field(default_factory=lambda: [300.0])
    md_maker: LangevinMDMaker = field(default_factory=LangevinMDMaker)

    def make(
        self,
        structure: Structure,
        model_id: str,
        structure_id: str | None = None,
        x: float | None = None,
    ) -> Flow:
        """Return a flow of MD jobs; its output lists the trajectory documents by temperature."""
        if not self.temperatures_k or any(t <= 0 for t in self.temperatures_k):
            raise InputError(f"temperatures_k={self.temperatures_k} must be positive and non-empty")
        jobs: list[Flow | Job] = []
        for temperature in self.temperatures_k:
            job: Job = self.md_maker.make(structure, model_id, float(temperature), structure_id, x)
            job.name = f"{self.md_maker.name} {temperature:g} K"
            jobs.append(job)
        return Flow(jobs, output=[j.output for j in jobs], name=self.name)


@dataclass
class BatchedLangevinMDMaker(Maker):
    """Langevin NVT MD of many trajectories with one MLIP, advanced as one batch.

    Every (structure, temperature) pair is a replica with its own random stream; all replicas
    share one model call per step (:func:`thermogap.md.batched.run_batched_langevin`). The
    output is one :class:`TrajectoryDoc` per replica, stored like those of
    :class:`LangevinMDMaker` (chunks in the blob store, documents in ``trajectories``), so
    the jobs that read trajectories take either. A killed job run again resumes every replica
    from its last stored chunk. Only MACE models are supported.

    Parameters
    ----------
    name
        Job name.
    settings
        Time step (paper: 1 fs), friction (paper: 5e-3 1/fs), simulated time (paper: 40 ps),
        saving interval, chunk size, seed (each replica's stream is derived from it and from
        the replica's trajectory id).
    device
        Torch device of the model, ``"cpu"`` or ``"cuda"``.
    dtype
        Precision of the model evaluation (``"float32"`` or ``"float64"``).
    skin_ang
        Neighbour-list skin, Å.
    progress
        Show a tqdm progress bar (only on a terminal).

    Examples
    --------
    >>> maker = BatchedLangevinMDMaker(settings=LangevinSettings(total_time_ps=10))
    >>> job = maker.make([s1, s2], "mace-0123456789abcdef", [300.0, 600.0])  # doctest: +SKIP
    """

    name: str = "batched langevin md"
    settings: LangevinSettings = field(default_factory=LangevinSettings)
    device: str = "cpu"
    dtype: str = "float32"
    skin_ang: float = 1.0
    progress: bool = True

    @tg_job
    def make(
        self,
        structures: list[Structure],
        model_id: str,
        temperatures_k: list[float],
        structure_ids: list[str | None] | None = None,
        xs: list[float | None] | None = None,
    ) -> list[TrajectoryDoc]:
        """Run (or resume) MD of ``structures[i]`` at ``temperatures_k[i]`` K with ``model_id``.

        ``structure_ids`` and ``xs`` (optional, one per replica) are copied to the documents.
        """
        from thermogap.md.batched import Replica, run_batched_langevin

        structures = [s if isinstance(s, Structure) else Structure.from_dict(s) for s in structures]
        n = len(structures)
        if n == 0 or len(temperatures_k) != n:
            raise InputError(
                f"{len(structures)} structures and {len(temperatures_k)} temperatures: give one "
                "temperature per structure (and at least one)"
            )
        structure_ids = list(structure_ids) if structure_ids is not None else [None] * n
        xs = list(xs) if xs is not None else [None] * n
        for label, values in (("structure_ids", structure_ids), ("xs", xs)):
            if len(values) != n:
                raise InputError(f"{label} has {len(values)} entries, expected {n} (one a replica)")
        db, model, model_doc = _batched_model(model_id, self.device)
        sinks = [
            _batched_sink(db, self, s, model_id, float(t), sid, x, model_doc.get("sha256"))
            for s, t, sid, x in zip(structures, temperatures_k, structure_ids, xs, strict=True)
        ]
        replicas = [
            Replica(AseAtomsAdaptor.get_atoms(s), sink.doc.temperature_k, sink, sink.doc.seed)
            for s, sink in zip(structures, sinks, strict=True)
            # (not doc.completed: a stored doc keeps the flag of its own, shorter target)
            if sink.doc.n_steps_done < self.settings.n_steps
        ]
        if replicas:
            run_batched_langevin(
                model,
                replicas,
                self.settings,
                dtype=self.dtype,
                device=self.device,
                skin_ang=self.skin_ang,
                progress=self.progress,
            )
        return [sink.doc for sink in sinks]


def _batched_model(model_id: str, device: str) -> tuple[Any, Any, dict[str, Any]]:
    """Return the results database, the hash-checked MACE module of ``model_id``, its doc."""
    from thermogap.mlip.calculator import load_mace_model, materialise_model_file
    from thermogap.store import current_db

    db = current_db()
    path, doc = materialise_model_file(db, model_id)
    kind = doc.get("kind", "mace")
    if kind != "mace":
        raise InputError(f"batched MD runs MACE models; model {model_id!r} is {kind=}")
    return db, load_mace_model(path, expected_sha256=doc["sha256"], device=device), doc


def _batched_sink(
    db: Any,
    maker: BatchedLangevinMDMaker,
    structure: Structure,
    model_id: str,
    temperature_k: float,
    structure_id: str | None,
    x: float | None,
    model_sha256: str | None,
) -> Any:
    """Return the sink of one replica: its stored trajectory, or a new document."""
    from thermogap.md.batched import BATCHED_INTEGRATOR, batched_trajectory_id
    from thermogap.md.langevin import DatabaseTrajectorySink

    start = structure.as_dict()
    settings = maker.settings
    tid = batched_trajectory_id(model_id, start, temperature_k, settings, maker.dtype)
    doc = TrajectoryDoc(
        trajectory_id=tid,
        model_id=model_id,
        structure_id=structure_id,
        formula=structure.composition.reduced_formula,
        x=x,
        n_atoms=len(structure),
        structure=start,
        temperature_k=temperature_k,
        timestep_fs=settings.timestep_fs,
        friction_per_fs=settings.friction_per_fs,
        save_interval_steps=settings.save_interval_steps,
        # one stream per replica, fixed by the trajectory id (which holds settings.seed)
        seed=int(tid[3:18], 16),
        n_steps_target=settings.n_steps,
        integrator=BATCHED_INTEGRATOR,
        model_dtype=maker.dtype,
        provenance=make_provenance(model_id=model_id, model_sha256=model_sha256),
    )
    return DatabaseTrajectorySink(db, doc)
