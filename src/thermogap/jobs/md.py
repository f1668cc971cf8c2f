"""jobflow Makers for Langevin MD with an MLIP passed as its model document."""

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
from thermogap.structures.identity import as_structure

__all__ = [
    "BatchedLangevinMDMaker",
    "LangevinMDMaker",
    "LangevinTemperatureSweepMaker",
    "model_document",
]


@dataclass
class LangevinMDMaker(Maker):
    """Langevin NVT MD at one temperature, frames in blob chunks carried by the output.

    The MLIP comes in as its model document (the training job's output, or a stored model
    embedded with :func:`thermogap.execution.artifacts.document_with_artifacts`); no database
    is opened. The chunks are written to the job's blob store and travel with the returned
    :class:`TrajectoryDoc` (``artifacts``). A killed job starts its trajectory again; a
    finished one is continued to a longer ``total_time_ps`` by passing its document as
    ``previous`` (see ``docs/batched_md.md``).

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
    >>> job = maker.make(structure, training_job.output, temperature_k=300)  # doctest: +SKIP
    """

    name: str = "langevin md"
    settings: LangevinSettings = field(default_factory=LangevinSettings)
    device: str = "cpu"
    progress: bool = True

    @tg_job
    def make(
        self,
        structure: Structure,
        mlip: Any,
        temperature_k: float,
        structure_id: str | None = None,
        x: float | None = None,
        previous: Any = None,
    ) -> TrajectoryDoc:
        """Run MD of ``structure`` with the MLIP document ``mlip`` at ``temperature_k`` K.

        ``previous`` (optional) is an earlier document of the same trajectory, continued
        from its last frame instead of starting again.
        """
        from thermogap.md.langevin import BlobTrajectorySink, run_langevin, trajectory_id
        from thermogap.mlip.calculator import calculator_from_model

        model = model_document(mlip)
        model_id = model["model_id"]
        structure = as_structure(structure)
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
        sink = BlobTrajectorySink(doc, previous)
        if sink.doc.n_steps_done < self.settings.n_steps:
            calc = calculator_from_model(model, device=self.device)
            run_langevin(
                AseAtomsAdaptor.get_atoms(structure),
                calc,
                temperature_k,
                self.settings,
                sink,
                progress=self.progress,
            )
        return sink.doc


def model_document(mlip: Any) -> dict[str, Any]:
    """Return the MLIP model document ``mlip`` as a dict; refuse a bare id.

    Raises
    ------
    InputError
        If ``mlip`` is not a model document (no ``model_id`` and ``model_blob``).
    """
    doc = mlip.model_dump(mode="json") if hasattr(mlip, "model_dump") else mlip
    if not isinstance(doc, dict) or "model_id" not in doc or "model_blob" not in doc:
        raise InputError(
            f"mlip must be a model document (the training job's output, or a stored model "
            f"passed through document_with_artifacts), got {str(mlip)[:80]!r}"
        )
    return doc


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
    >>> sweep = LangevinTemperatureSweepMaker(temperatures_k=[100, 300])
    >>> flow = sweep.make(s, training_job.output)  # doctest: +SKIP
    """

    name: str = "langevin temperature sweep"
    temperatures_k: list[float] = field(default_factory=lambda: [300.0])
    md_maker: LangevinMDMaker = field(default_factory=LangevinMDMaker)

    def make(
        self,
        structure: Structure,
        mlip: Any,
        structure_id: str | None = None,
        x: float | None = None,
    ) -> Flow:
        """Return a flow of MD jobs; its output lists the trajectory documents by temperature."""
        if not self.temperatures_k or any(t <= 0 for t in self.temperatures_k):
            raise InputError(f"temperatures_k={self.temperatures_k} must be positive and non-empty")
        jobs: list[Flow | Job] = []
        for temperature in self.temperatures_k:
            job: Job = self.md_maker.make(structure, mlip, float(temperature), structure_id, x)
            job.name = f"{self.md_maker.name} {temperature:g} K"
            jobs.append(job)
        return Flow(jobs, output=[j.output for j in jobs], name=self.name)


@dataclass
class BatchedLangevinMDMaker(Maker):
    """Langevin NVT MD of many trajectories with one MLIP, advanced as one batch.

    Every (structure, temperature) pair is a replica with its own random stream; all replicas
    share one model call per step (:func:`thermogap.md.batched.run_batched_langevin`). The
    output is a list of one :class:`TrajectoryDoc` per replica, each carrying its own chunks'
    bytes like those of :class:`LangevinMDMaker`, so the jobs that read trajectories take
    either (``job.output[i]``). No database is opened: the MLIP comes in as its model
    document. A killed job starts again; finished trajectories are continued by passing
    their documents as ``previous``. Only MACE models are supported.

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
    >>> job = maker.make([s1, s2], training_job.output, [300.0, 600.0])  # doctest: +SKIP
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
        mlip: Any,
        temperatures: list[float],
        structure_ids: list[str | None] | None = None,
        xs: list[float | None] | None = None,
        previous: list[Any] | None = None,
    ) -> list[TrajectoryDoc]:
        """Run MD of ``structures[i]`` at ``temperatures[i]`` K with the MLIP document ``mlip``.

        ``structure_ids`` and ``xs`` (optional, one per replica) are copied to the documents.
        ``previous`` (optional) holds earlier trajectory documents: a replica whose
        trajectory is among them continues it instead of starting again (one that matches
        no replica is an error).
        """
        from thermogap.md.batched import Replica, run_batched_langevin

        structures = [as_structure(s) for s in structures]
        n = len(structures)
        if n == 0 or len(temperatures) != n:
            raise InputError(
                f"{len(structures)} structures and {len(temperatures)} temperatures: give one "
                "temperature per structure (and at least one)"
            )
        structure_ids = list(structure_ids) if structure_ids is not None else [None] * n
        xs = list(xs) if xs is not None else [None] * n
        for label, values in (("structure_ids", structure_ids), ("xs", xs)):
            if len(values) != n:
                raise InputError(f"{label} has {len(values)} entries, expected {n} (one a replica)")
        model_doc = model_document(mlip)
        earlier = {}
        for item in previous or []:
            if isinstance(item, dict):  # without the builder's and jobflow's keys
                item = {k: v for k, v in item.items() if k in TrajectoryDoc.model_fields}
            item = TrajectoryDoc.model_validate(item)
            earlier[item.trajectory_id] = item
        sinks = [
            _batched_sink(self, s, model_doc, float(t), sid, x, earlier)
            for s, t, sid, x in zip(structures, temperatures, structure_ids, xs, strict=True)
        ]
        unused = sorted(set(earlier) - {sink.doc.trajectory_id for sink in sinks})
        if unused:
            raise InputError(
                f"previous trajectories {unused} are none of the replicas asked for: model, "
                "structure, temperature, dynamics settings, dtype and seed must be the same "
                "to continue one"
            )
        replicas = [
            Replica(AseAtomsAdaptor.get_atoms(s), sink.doc.temperature_k, sink, sink.doc.seed)
            for s, sink in zip(structures, sinks, strict=True)
            # (not doc.completed: a stored doc keeps the flag of its own, shorter target)
            if sink.doc.n_steps_done < self.settings.n_steps
        ]
        if replicas:
            run_batched_langevin(
                _batched_model(model_doc, self.device),
                replicas,
                self.settings,
                dtype=self.dtype,
                device=self.device,
                skin_ang=self.skin_ang,
                progress=self.progress,
            )
        return [sink.doc for sink in sinks]


def _batched_model(model_doc: dict[str, Any], device: str) -> Any:
    """Return the MACE module of a model document, from its hash-checked bytes."""
    from thermogap.errors import BlobIntegrityError
    from thermogap.execution.artifacts import current_blobs
    from thermogap.mlip.calculator import load_mace_model_bytes

    kind = model_doc.get("kind", "mace")
    if kind != "mace":
        raise InputError(f"batched MD runs MACE models; model {model_doc['model_id']!r} is {kind=}")
    if model_doc["model_blob"].get("sha256") != model_doc.get("sha256"):
        raise BlobIntegrityError(
            f"model {model_doc['model_id']!r}: blob sha256 {model_doc['model_blob'].get('sha256')}"
            f" != document {model_doc.get('sha256')}"
        )
    data = current_blobs().get_bytes(model_doc["model_blob"])  # checks the SHA-256
    return load_mace_model_bytes(data, device=device)


def _batched_sink(
    maker: BatchedLangevinMDMaker,
    structure: Structure,
    model_doc: dict[str, Any],
    temperature_k: float,
    structure_id: str | None,
    x: float | None,
    earlier: dict[str, TrajectoryDoc],
) -> Any:
    """Return the sink of one replica: a new document, or its earlier one continued."""
    from thermogap.md.batched import BATCHED_INTEGRATOR, batched_trajectory_id
    from thermogap.md.langevin import BlobTrajectorySink

    model_id = model_doc["model_id"]
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
        provenance=make_provenance(model_id=model_id, model_sha256=model_doc.get("sha256")),
    )
    return BlobTrajectorySink(doc, earlier.get(tid))
