"""Documents of molecular-dynamics runs (``trajectories`` collection)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from thermogap.schemas.base import MakerSettings, ThermogapDocument

__all__ = ["CHUNK_ARRAYS", "LangevinSettings", "TrajectoryChunk", "TrajectoryDoc"]

#: Arrays in every trajectory chunk (npz), with units and shapes (n_f frames, n atoms).
CHUNK_ARRAYS = {
    "steps": "MD step after which the frame was taken, shape=(n_f,)",
    "positions_ang": "Cartesian positions, Å, shape=(n_f, n, 3)",
    "velocities_ang_per_fs": "velocities, Å/fs, shape=(n_f, n, 3)",
    "potential_energy_ev": "potential energy, eV, shape=(n_f,)",
    "kinetic_energy_ev": "kinetic energy, eV, shape=(n_f,)",
    "stress_ev_per_ang3": "potential (virial) stress without the kinetic term, eV/Å^3, "
    "ASE sign, shape=(n_f, 3, 3)",
}


class LangevinSettings(MakerSettings):
    """Langevin NVT settings (defaults: the seed paper's)."""

    model_config = ConfigDict(extra="forbid")

    timestep_fs: float = Field(1.0, gt=0, description="Time step, fs (paper: 1 fs).")
    friction_per_fs: float = Field(
        5e-3, gt=0, description="Langevin friction coefficient, 1/fs (paper: 5e-3 fs⁻¹)."
    )
    total_time_ps: float = Field(40.0, gt=0, description="Simulated time, ps (paper: 40 ps).")
    save_interval_steps: int = Field(10, ge=1, description="Steps between saved frames.")
    chunk_frames: int = Field(
        200, ge=1, description="Frames per blob chunk; a restart resumes after the last chunk."
    )
    seed: int = Field(0, description="Seed of the Maxwell–Boltzmann start and the noise.")
    fix_com: bool = Field(
        False, description="Keep the centre of mass fixed (ASE's deprecated fixcm)."
    )

    @property
    def n_steps(self) -> int:
        """Number of MD steps, ``round(total_time_ps * 1000 / timestep_fs)``."""
        return round(self.total_time_ps * 1000.0 / self.timestep_fs)


class TrajectoryChunk(BaseModel):
    """One stored chunk of frames."""

    index: int = Field(..., ge=0, description="Chunk number, from 0.")
    first_frame: int = Field(..., ge=0, description="Index of the chunk's first frame.")
    n_frames: int = Field(..., ge=1, description="Frames in the chunk.")
    last_step: int = Field(..., ge=1, description="MD step of the chunk's last frame.")
    blob: dict[str, Any] = Field(..., description="BlobRef of the npz (see CHUNK_ARRAYS).")
    rng_state: str = Field(
        ..., description="JSON of the noise generator's state after the last frame (restart)."
    )


class TrajectoryDoc(ThermogapDocument):
    """A Langevin MD trajectory, with its frames in blob chunks."""

    trajectory_id: str = Field(..., description="Id derived from model, structure and settings.")
    model_id: str = Field(..., description="MLIP that drove the MD.")
    structure_id: str | None = Field(None, description="Id of the starting structure, if any.")
    formula: str = Field(..., description="Formula of the simulated cell.")
    x: float | None = Field(None, description="Composition x of a solid solution, if any.")
    n_atoms: int = Field(..., ge=1, description="Atoms in the cell.")
    structure: dict[str, Any] = Field(..., description="Starting structure (pymatgen as_dict).")
    temperature_k: float = Field(..., gt=0, description="Thermostat temperature, K.")
    timestep_fs: float = Field(..., description="Time step, fs.")
    friction_per_fs: float = Field(..., description="Friction coefficient, 1/fs.")
    save_interval_steps: int = Field(..., description="Steps between saved frames.")
    seed: int = Field(..., description="Random seed.")
    n_steps_target: int = Field(..., ge=0, description="Steps asked for.")
    n_steps_done: int = Field(0, ge=0, description="Steps covered by the stored frames.")
    n_frames_done: int = Field(0, ge=0, description="Frames stored.")
    completed: bool = Field(False, description="Whether n_steps_target steps are stored.")
    chunks: list[TrajectoryChunk] = Field(default_factory=list, description="Stored chunks.")
    mean_temperature_k: float | None = Field(
        None, description="Mean kinetic temperature over the stored frames, K."
    )
    integrator: str = Field(
        "ase-langevin",
        description="MD integrator: 'ase-langevin' (ASE's Langevin, one trajectory per job) "
        "or 'baoab-batched' (thermogap.md.batched, many replicas per model call).",
    )
    model_dtype: str | None = Field(
        None, description="Precision the MLIP was evaluated in (float32/float64), if recorded."
    )
