"""jobflow Makers for Langevin MD with a stored MLIP."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, Job, Maker
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.schemas.base import make_provenance
from thermogap.schemas.md import LangevinSettings, TrajectoryDoc

__all__ = ["LangevinMDMaker", "LangevinTemperatureSweepMaker"]


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
