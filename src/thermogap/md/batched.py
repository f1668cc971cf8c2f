"""Batched Langevin NVT MD: many replicas advanced together by one MACE evaluation per step.

Why not TorchSim
----------------
``torch-sim-atomistic`` 0.3.0 installs beside this project's torch pin and runs MACE, but its
Langevin integrator draws the noise of every system from torch's *global* generator and
rebuilds every neighbour list at every step. The thermogap trajectories need one random
stream per replica (so that a killed run resumes exactly where it stopped, whatever the other
replicas in the batch do) and the chunked, resumable storage of
:mod:`thermogap.md.langevin`. Both fit in a short integrator written here around
mace-torch's model, with no new dependency.

Integrator
----------
BAOAB splitting of the Langevin equation (Leimkuhler & Matthews, 2013) with, per replica, its
own temperature and ``torch.Generator``::

    B  v += (dt/2) F/m
    A  x += (dt/2) v
    O  v  = c v + sqrt((1 - c^2) k_B T / m) xi,   c = exp(-gamma dt)
    A  x += (dt/2) v
       F  = F(x)                                  (one batched model call)
    B  v += (dt/2) F/m

After every stored chunk a replica's generator is reseeded from (its seed, the step), so the
restart state stored with a chunk is a few numbers and a resumed replica draws the noise an
uninterrupted one would have drawn.

It samples the same canonical ensemble as ASE's ``Langevin`` (used by :func:`run_langevin`)
with the same friction, time step and Maxwell–Boltzmann start; the trajectories differ (other
splitting, other random numbers), the statistics do not (``tests/md/test_batched.py``).

Cost
----
All replicas form one disconnected graph, so one forward/backward pass of the model serves the
whole batch. Neighbour lists are built with a skin (cutoff ``r_max + skin``) and reused until
an atom of the replica moved more than ``skin/2``; at every step the reused list is filtered
to the pairs within ``r_max``, so the model sees exactly the edges a fresh list would give.
The integrator state is float64; the model is evaluated in float32 by default. Stress is
computed only on the steps whose frame is stored, and frames are written chunk by chunk.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from thermogap.errors import CalculationError, InputError, StoreError
from thermogap.md.langevin import KB_EV_PER_K, ResumeState, TrajectorySink
from thermogap.schemas.md import CHUNK_ARRAYS, LangevinSettings

if TYPE_CHECKING:
    import torch
    from ase import Atoms

__all__ = [
    "BATCHED_INTEGRATOR",
    "BatchForceField",
    "BatchedRunReport",
    "MaceBatchEvaluator",
    "MemoryTrajectorySink",
    "Replica",
    "batched_trajectory_id",
    "run_batched_langevin",
]

#: Name of the integrator recorded in trajectory documents made here.
BATCHED_INTEGRATOR = "baoab-batched"
#: Allowed model precisions.
MODEL_DTYPES = ("float32", "float64")
#: Parts of a step timed by ``run_batched_langevin(..., profile=True)``.
PROFILE_PARTS = ("neighbour_list", "model", "integrator", "io")


def batched_trajectory_id(
    model_id: str,
    structure: dict[str, Any],
    temperature_k: float,
    settings: LangevinSettings,
    model_dtype: str = "float32",
) -> str:
    """Return the id of a batched trajectory (same rules as :func:`trajectory_id`).

    The integrator and the model precision are part of the id, so a batched run never
    continues a trajectory of the ASE path (whose stored random state it could not use).
    """
    physics = settings.model_dump(exclude={"total_time_ps", "chunk_frames"})
    payload = {
        "model_id": model_id,
        "structure": structure,
        "temperature_k": float(temperature_k),
        "settings": physics,
        "integrator": BATCHED_INTEGRATOR,
        "model_dtype": model_dtype,
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return "md-" + hashlib.sha256(blob).hexdigest()[:24]


@dataclass
class Replica:
    """One trajectory of a batch.

    Parameters
    ----------
    atoms
        Starting configuration (not modified); used only if ``sink`` holds no frames yet.
    temperature_k
        Thermostat and Maxwell–Boltzmann start temperature, K.
    sink
        Where its chunks go and where a resumed run starts from.
    seed
        Seed of its own random stream (Maxwell–Boltzmann start and noise).
    """

    atoms: Atoms
    temperature_k: float
    sink: TrajectorySink
    seed: int = 0


@dataclass
class BatchedRunReport:
    """What a call of :func:`run_batched_langevin` did.

    ``seconds`` holds the wall time spent in each of :data:`PROFILE_PARTS` (only when the run
    was profiled; empty otherwise); ``replica_steps`` the steps summed over replicas.
    """

    replica_steps: int = 0
    batched_steps: int = 0
    neighbour_rebuilds: int = 0
    wall_time_s: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ms_per_replica_step(self) -> float:
        """Wall time per replica-step, ms."""
        return 1e3 * self.wall_time_s / max(self.replica_steps, 1)


@runtime_checkable
class BatchForceField(Protocol):
    """Energies and forces of a batch of cells, as :func:`run_batched_langevin` needs them.

    :class:`MaceBatchEvaluator` is the implementation for MACE models; any other force field
    built for the replicas' cells (same order) can drive the integrator.
    """

    n_rebuilds: int

    def set_active(self, replicas: Sequence[int]) -> None:
        """Evaluate only the cells ``replicas`` (indices, in this order) from now on."""

    def update_neighbours(self, positions: torch.Tensor) -> int:
        """Refresh neighbour lists for ``positions`` (Å); return how many were rebuilt."""

    def evaluate(
        self, positions: torch.Tensor, compute_stress: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return energies (eV), forces (eV/Å) and, if asked, stresses (eV/Å^3)."""


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    # some mace/e3nn code makes tensors in torch's default dtype: match the model's, then
    # restore the caller's (no global state leaks out)
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _stream_seed(seed: int, step: int) -> int:
    """Seed of a replica's random stream from step ``step`` on (64-bit, from SHA-256)."""
    digest = hashlib.sha256(f"{int(seed)}:{int(step)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _random_state(seed: int, step: int) -> dict[str, Any]:
    # the stream is reseeded from (seed, step) after every stored chunk, so this small dict
    # is the whole restart state (a torch CPU generator's own state is 5 kB per chunk)
    return {"integrator": BATCHED_INTEGRATOR, "stream_seed": int(seed), "step": int(step)}


def _resumed_seed(state: dict[str, Any], n_steps_done: int) -> int:
    if state.get("integrator") != BATCHED_INTEGRATOR or "stream_seed" not in state:
        raise StoreError(
            "stored trajectory was not written by the batched integrator "
            f"(random state {sorted(state)}; expected integrator={BATCHED_INTEGRATOR!r})"
        )
    if int(state["step"]) != n_steps_done:
        raise StoreError(f"random state of step {state['step']} stored with step {n_steps_done}")
    return int(state["stream_seed"])


class MaceBatchEvaluator:
    """Energies, forces and stresses of several periodic cells in one MACE call.

    Parameters
    ----------
    model
        A mace-torch ``MACE``/``ScaleShiftMACE`` module (e.g. from
        :func:`thermogap.mlip.calculator.load_mace_model`); it is copied, not modified.
    cells_atoms
        The replicas' ASE atoms (species, cell, pbc); positions are given at each call.
    dtype
        Precision of the model evaluation, one of :data:`MODEL_DTYPES`.
    device
        Torch device of the evaluation, e.g. ``"cpu"`` or ``"cuda"``.
    skin_ang
        Neighbour-list skin, Å: lists are rebuilt when an atom moved more than half of it.
    head
        Model head to evaluate (multi-head models); default: ``"Default"`` or the last head.
    """

    def __init__(
        self,
        model: Any,
        cells_atoms: Sequence[Atoms],
        dtype: str = "float32",
        device: str = "cpu",
        skin_ang: float = 1.0,
        head: str | None = None,
    ) -> None:
        import torch

        if dtype not in MODEL_DTYPES:
            raise InputError(f"{dtype=} is not a model dtype; allowed: {', '.join(MODEL_DTYPES)}")
        if skin_ang < 0:
            raise InputError(f"{skin_ang=} Å must be >= 0")
        if getattr(model, "embedding_specs", None):
            raise InputError("MACE models with extra embeddings (charge/spin) are not supported")
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype)
        self.model = copy.deepcopy(model).to(device=self.device, dtype=self.dtype).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.r_max = float(self.model.r_max)
        self.skin = float(skin_ang)
        self.n_rebuilds = 0
        z_table = [int(z) for z in self.model.atomic_numbers]
        heads = list(getattr(self.model, "heads", None) or ["Default"])
        self.head_index = _head_index(heads, head)
        self._cells = [np.array(a.cell[:], dtype=float) for a in cells_atoms]
        self._pbc = [np.array(a.pbc, dtype=bool) for a in cells_atoms]
        self._n_atoms = [len(a) for a in cells_atoms]
        self._node_attrs = []
        for atoms in cells_atoms:
            unknown = sorted(set(atoms.numbers.tolist()) - set(z_table))
            if unknown:
                raise InputError(
                    f"atomic numbers {unknown} are not in the model's elements {z_table}"
                )
            index = torch.tensor([z_table.index(int(z)) for z in atoms.numbers])
            one_hot = torch.nn.functional.one_hot(index, num_classes=len(z_table))
            self._node_attrs.append(one_hot.to(self.device, self.dtype))
        # per replica: reference positions and the skin list (sender, receiver, unit shifts)
        self._reference: list[np.ndarray | None] = [None] * len(cells_atoms)
        self._edges: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [
            (np.zeros(0, int), np.zeros(0, int), np.zeros((0, 3)))
        ] * len(cells_atoms)
        self._active: list[int] = []
        self._layout: dict[str, torch.Tensor] = {}

    # -- batch layout ------------------------------------------------------------------------
    def set_active(self, replicas: Sequence[int]) -> None:
        """Evaluate only ``replicas`` (indices into ``cells_atoms``) from now on, in order."""
        import torch

        self._active = list(replicas)
        sizes = [self._n_atoms[r] for r in self._active]
        ptr = np.concatenate([[0], np.cumsum(sizes)])
        self._offsets = ptr[:-1]
        self._layout = {
            "node_attrs": torch.cat([self._node_attrs[r] for r in self._active]),
            "batch": torch.repeat_interleave(
                torch.arange(len(sizes), device=self.device),
                torch.tensor(sizes, device=self.device),
            ),
            "ptr": torch.tensor(ptr, device=self.device),
            "cell": torch.tensor(
                np.concatenate([self._cells[r] for r in self._active]),
                device=self.device,
                dtype=self.dtype,
            ),
            "head": torch.full((len(sizes),), self.head_index, device=self.device),
        }
        if all(self._reference[r] is not None for r in self._active):
            self._concatenate_edges()

    def _rebuild(self, replica: int, positions: np.ndarray) -> None:
        from matscipy.neighbours import neighbour_list

        sender, receiver, shifts = neighbour_list(
            "ijS",
            positions=positions,
            cell=self._cells[replica],
            pbc=self._pbc[replica],
            cutoff=self.r_max + self.skin,
        )
        keep = ~((sender == receiver) & np.all(shifts == 0, axis=1))
        self._edges[replica] = (sender[keep], receiver[keep], shifts[keep].astype(float))
        self._reference[replica] = positions.copy()
        self.n_rebuilds += 1

    def _concatenate_edges(self) -> None:
        import torch

        senders, receivers, unit_shifts, shifts = [], [], [], []
        for offset, r in zip(self._offsets, self._active, strict=True):
            sender, receiver, unit = self._edges[r]
            senders.append(sender + offset)
            receivers.append(receiver + offset)
            unit_shifts.append(unit)
            shifts.append(unit @ self._cells[r])
        as_tensor = {"device": self.device, "dtype": self.dtype}
        self._skin_edges = torch.tensor(
            np.stack([np.concatenate(senders), np.concatenate(receivers)]), device=self.device
        )
        self._skin_unit_shifts = torch.tensor(np.concatenate(unit_shifts), **as_tensor)
        self._skin_shifts = torch.tensor(np.concatenate(shifts), **as_tensor)
        self._reference_t = torch.tensor(
            np.concatenate([self._reference[r] for r in self._active]),
            device=self.device,
            dtype=torch.float64,
        )

    def update_neighbours(self, positions: torch.Tensor) -> int:
        """Rebuild the lists of replicas with an atom moved by more than ``skin/2``.

        Parameters
        ----------
        positions
            Positions of the active replicas' atoms, Å, shape=(n_active_atoms, 3).

        Returns
        -------
        int
            Number of lists rebuilt.
        """
        import torch

        if not bool(torch.isfinite(positions).all()):
            raise CalculationError("non-finite atomic positions in batched MD (unstable run?)")
        stale = [r for r in self._active if self._reference[r] is None]
        if not stale:
            moved = torch.linalg.vector_norm(positions - self._reference_t, dim=1)
            if float(moved.max()) <= 0.5 * self.skin:
                return 0
            worst = torch.zeros(len(self._active), dtype=moved.dtype, device=moved.device)
            worst.scatter_reduce_(0, self._layout["batch"], moved, reduce="amax")
            stale = [
                r for r, d in zip(self._active, worst.tolist(), strict=True) if d > 0.5 * self.skin
            ]
        host = positions.detach().cpu().numpy()
        for r in stale:
            k = self._active.index(r)
            start = self._offsets[k]
            self._rebuild(r, host[start : start + self._n_atoms[r]])
        self._concatenate_edges()
        return len(stale)

    # -- evaluation --------------------------------------------------------------------------
    def graph(self, positions: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the model input at ``positions`` (Å): the skin list cut to ``r_max``."""
        import torch

        with torch.no_grad():
            sender, receiver = self._skin_edges
            x = positions.to(self.dtype)
            lengths = torch.linalg.vector_norm(x[receiver] - x[sender] + self._skin_shifts, dim=1)
            keep = torch.nonzero(lengths < self.r_max).squeeze(1)
        return self._layout | {
            "positions": x.detach().clone(),
            "edge_index": self._skin_edges[:, keep],
            "shifts": self._skin_shifts[keep],
            "unit_shifts": self._skin_unit_shifts[keep],
        }

    def evaluate(
        self, positions: torch.Tensor, compute_stress: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Energies (eV, shape=(n_active,)), forces (eV/Å), stresses (eV/Å^3, ASE sign).

        Parameters
        ----------
        positions
            Positions of the active replicas' atoms, Å, shape=(n_active_atoms, 3).
        compute_stress
            Also return the stresses, shape=(n_active, 3, 3) (else ``None``).
        """
        import torch

        with _default_dtype(self.dtype):
            out = self.model(
                self.graph(positions),
                training=False,
                compute_force=True,
                compute_stress=compute_stress,
            )
        energy = out["energy"].detach().to(torch.float64)
        forces = out["forces"].detach().to(torch.float64)
        stress = out["stress"].detach().to(torch.float64) if compute_stress else None
        return energy, forces, stress


def _head_index(heads: list[str], head: str | None) -> int:
    if head is not None:
        if head not in heads:
            raise InputError(f"{head=} is not a head of the model; allowed: {', '.join(heads)}")
        return heads.index(head)
    default = [i for i, name in enumerate(heads) if name.lower() == "default"]
    return default[0] if default else len(heads) - 1


class MemoryTrajectorySink:
    """A :class:`~thermogap.md.langevin.TrajectorySink` that keeps its chunks in memory.

    For benchmarks, tests and short one-off runs; ``chunks`` holds ``(arrays, rng_state)``
    pairs in the order written.
    """

    def __init__(self) -> None:
        self.chunks: list[tuple[dict[str, np.ndarray], dict[str, Any]]] = []
        self.n_steps_target = 0

    def resume_state(self) -> ResumeState | None:
        """Return the last stored frame, or ``None``."""
        if not self.chunks:
            return None
        arrays, rng_state = self.chunks[-1]
        return ResumeState(
            n_frames_done=sum(len(a["steps"]) for a, _ in self.chunks),
            n_steps_done=int(arrays["steps"][-1]),
            positions_ang=arrays["positions_ang"][-1],
            velocities_ang_per_fs=arrays["velocities_ang_per_fs"][-1],
            rng_state=json.loads(json.dumps(rng_state)),
        )

    def write_chunk(self, arrays: dict[str, np.ndarray], rng_state: dict[str, Any]) -> None:
        """Keep one chunk."""
        self.chunks.append((arrays, rng_state))

    def finish(self, n_steps_target: int) -> None:
        """Record the target."""
        self.n_steps_target = n_steps_target

    def arrays(self) -> dict[str, np.ndarray]:
        """All frames, concatenated (keys of :data:`~thermogap.schemas.md.CHUNK_ARRAYS`)."""
        return {key: np.concatenate([a[key] for a, _ in self.chunks]) for key in CHUNK_ARRAYS}


class _ChunkBuffer:
    """Frames of one replica waiting to be written as a chunk."""

    def __init__(self, n_atoms: int, chunk_frames: int) -> None:
        self.arrays = {
            "steps": np.zeros(chunk_frames, dtype=np.int64),
            "positions_ang": np.zeros((chunk_frames, n_atoms, 3)),
            "velocities_ang_per_fs": np.zeros((chunk_frames, n_atoms, 3)),
            "potential_energy_ev": np.zeros(chunk_frames),
            "kinetic_energy_ev": np.zeros(chunk_frames),
            "stress_ev_per_ang3": np.zeros((chunk_frames, 3, 3)),
        }
        self.n = 0

    def add(self, **frame: Any) -> None:
        for key, value in frame.items():
            self.arrays[key][self.n] = value
        self.n += 1

    def take(self) -> dict[str, np.ndarray]:
        arrays = {key: self.arrays[key][: self.n].copy() for key in CHUNK_ARRAYS}
        self.n = 0
        return arrays


@dataclass
class _ReplicaState:
    replica: Replica
    n_atoms: int
    masses_amu: np.ndarray
    generator: Any
    seed: int
    steps_done: int
    positions: np.ndarray
    velocities: np.ndarray
    buffer: _ChunkBuffer


def _start(replica: Replica, settings: LangevinSettings, device: Any) -> _ReplicaState:
    import torch
    from ase import units

    if replica.temperature_k <= 0:
        raise InputError(f"temperature_k={replica.temperature_k} K must be positive")
    atoms = replica.atoms
    masses = atoms.get_masses()
    generator = torch.Generator(device=device)
    seed = int(replica.seed)
    state: ResumeState | None = replica.sink.resume_state()
    if state is None:
        generator.manual_seed(_stream_seed(seed, 0))
        # Maxwell–Boltzmann start, then zero total momentum (as ASE's Stationary)
        sigma = np.sqrt(KB_EV_PER_K * replica.temperature_k / masses)[:, None] * units.fs
        xi = torch.randn((len(atoms), 3), generator=generator, device=device, dtype=torch.float64)
        velocities = sigma * xi.cpu().numpy()
        velocities -= masses @ velocities / masses.sum()
        positions, steps_done = atoms.get_positions(), 0
    else:
        if state.positions_ang.shape != atoms.positions.shape:
            raise StoreError(
                f"stored trajectory has {len(state.positions_ang)} atoms, "
                f"structure has {len(atoms)}"
            )
        seed = _resumed_seed(state.rng_state, state.n_steps_done)
        generator.manual_seed(_stream_seed(seed, state.n_steps_done))
        positions = np.array(state.positions_ang, dtype=float)
        velocities = np.array(state.velocities_ang_per_fs, dtype=float)
        steps_done = state.n_steps_done
    return _ReplicaState(
        replica=replica,
        n_atoms=len(atoms),
        masses_amu=masses,
        generator=generator,
        seed=seed,
        steps_done=steps_done,
        positions=positions,
        velocities=velocities,
        buffer=_ChunkBuffer(len(atoms), settings.chunk_frames),
    )


class _Timer:
    """Accumulates wall time per part of the step (only when enabled)."""

    def __init__(self, enabled: bool, device: Any) -> None:
        self.enabled = enabled
        self.cuda = enabled and str(device).startswith("cuda")
        self.seconds = {part: 0.0 for part in PROFILE_PARTS} if enabled else {}

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        import torch

        start = time.perf_counter()
        yield
        if self.cuda:
            torch.cuda.synchronize()
        self.seconds[name] += time.perf_counter() - start


def run_batched_langevin(
    model: Any,
    replicas: Sequence[Replica],
    settings: LangevinSettings,
    n_steps: int | None = None,
    dtype: str = "float32",
    device: str = "cpu",
    skin_ang: float = 1.0,
    progress: bool = True,
    profile: bool = False,
) -> BatchedRunReport:
    """Run (or resume) Langevin MD of several replicas with one MACE call per step.

    Each replica's frames are stored through its own sink, chunk by chunk, exactly as
    :func:`thermogap.md.langevin.run_langevin` stores them; a replica whose sink already holds
    frames resumes from its last frame and random state, so a killed batch run continued by
    the same call produces the trajectories an uninterrupted run would have produced (up to
    floating-point round-off).

    Parameters
    ----------
    model
        A mace-torch ``MACE``/``ScaleShiftMACE`` module (not modified), or a
        :class:`BatchForceField` made for ``[r.atoms for r in replicas]``.
    replicas
        The trajectories: start, temperature (K), sink and seed of each.
    settings
        Time step, friction, saving interval, chunk size; ``settings.seed`` is not used
        (each replica has its own seed).
    n_steps
        Total steps of every trajectory (including any already stored); default
        ``settings.n_steps``. Must be a multiple of ``settings.save_interval_steps``.
    dtype
        Precision of a MACE model's evaluation (the integrator itself runs in float64).
    device
        Torch device, e.g. ``"cpu"`` or ``"cuda"``.
    skin_ang
        Neighbour-list skin of a MACE model, Å.
    progress
        Show a tqdm progress bar (only when stderr is a terminal).
    profile
        Time the parts of the step (neighbour list, model, integrator, I/O).

    Returns
    -------
    BatchedRunReport
        Steps run, neighbour-list rebuilds, wall time and (if profiled) its breakdown.
    """
    import torch
    from ase import units
    from tqdm.auto import tqdm

    n_steps = settings.n_steps if n_steps is None else n_steps
    interval = settings.save_interval_steps
    if n_steps % interval:
        raise InputError(f"{n_steps=} is not a multiple of save_interval_steps={interval}")
    if not replicas:
        raise InputError("replicas is empty; give at least one trajectory")
    start_time = time.perf_counter()
    dev = torch.device(device)
    states = [_start(r, settings, dev) for r in replicas]
    if isinstance(model, BatchForceField):
        evaluator = model
    else:
        evaluator = MaceBatchEvaluator(
            model, [r.atoms for r in replicas], dtype=dtype, device=device, skin_ang=skin_ang
        )
    report = BatchedRunReport()
    timer = _Timer(profile, dev)
    total = sum(n_steps for _ in states)
    with tqdm(
        total=total,
        initial=sum(min(s.steps_done, n_steps) for s in states),
        unit="replica-step",
        disable=None if progress else True,
        desc=f"batched Langevin ({len(states)} replicas)",
    ) as bar:
        while True:
            active = [k for k, s in enumerate(states) if s.steps_done < n_steps]
            if not active:
                break
            steps, n_advanced = _advance(
                states, active, evaluator, settings, n_steps, dev, timer, bar, units
            )
            report.replica_steps += steps * n_advanced
            report.batched_steps += steps
    for s in states:
        s.replica.sink.finish(n_steps)
    report.neighbour_rebuilds = evaluator.n_rebuilds
    report.wall_time_s = time.perf_counter() - start_time
    report.seconds = timer.seconds
    return report


def _advance(
    states: list[_ReplicaState],
    active: list[int],
    evaluator: BatchForceField,
    settings: LangevinSettings,
    n_steps: int,
    dev: Any,
    timer: _Timer,
    bar: Any,
    units: Any,
) -> tuple[int, int]:
    """Advance the active replicas furthest behind until they catch up or end.

    Replicas at different step counts (a batch killed while writing its chunks) are advanced
    in groups, the group furthest behind first; returns (steps, replicas advanced).
    """
    import torch

    behind = min(states[k].steps_done for k in active)
    group = [k for k in active if states[k].steps_done == behind]
    ahead = [states[k].steps_done for k in active if k not in group]
    end = min([n_steps, *ahead])
    chosen = [states[k] for k in group]
    evaluator.set_active(group)
    f64 = {"device": dev, "dtype": torch.float64}
    positions = torch.tensor(np.concatenate([s.positions for s in chosen]), **f64)
    velocities = torch.tensor(np.concatenate([s.velocities for s in chosen]), **f64)
    masses = np.concatenate([s.masses_amu for s in chosen])
    sizes = [s.n_atoms for s in chosen]
    atom_replica = torch.repeat_interleave(
        torch.arange(len(chosen), device=dev), torch.tensor(sizes, device=dev)
    )
    temperatures = np.repeat([s.replica.temperature_k for s in chosen], sizes)
    dt = settings.timestep_fs
    c = float(np.exp(-settings.friction_per_fs * dt))
    # accelerations in Å/fs^2 from eV/Å and amu; noise amplitudes in Å/fs
    accel = torch.tensor(units.fs**2 / masses, **f64)[:, None]
    noise_sigma = torch.tensor(
        np.sqrt((1 - c**2) * KB_EV_PER_K * temperatures / masses) * units.fs, **f64
    )[:, None]
    masses_t = torch.tensor(masses, **f64)[:, None]
    total_mass = torch.zeros(len(chosen), **f64).index_add_(0, atom_replica, masses_t[:, 0])

    def remove_drift(v: torch.Tensor) -> torch.Tensor:
        momentum = torch.zeros(len(chosen), 3, **f64).index_add_(0, atom_replica, masses_t * v)
        return v - (momentum / total_mass[:, None])[atom_replica]

    with timer.part("neighbour_list"):
        evaluator.update_neighbours(positions)
    with timer.part("model"):
        _, forces, _ = evaluator.evaluate(positions)
    step = behind
    interval = settings.save_interval_steps
    while step < end:
        step += 1
        save = step % interval == 0
        with timer.part("integrator"):
            velocities += (0.5 * dt) * accel * forces
            positions += (0.5 * dt) * velocities
            noise = torch.cat(
                [torch.randn((s.n_atoms, 3), generator=s.generator, **f64) for s in chosen]
            )
            velocities = c * velocities + noise_sigma * noise
            if settings.fix_com:
                velocities = remove_drift(velocities)
            positions += (0.5 * dt) * velocities
        with timer.part("neighbour_list"):
            evaluator.update_neighbours(positions)
        with timer.part("model"):
            energy, forces, stress = evaluator.evaluate(positions, compute_stress=save)
        with timer.part("integrator"):
            velocities += (0.5 * dt) * accel * forces
        if save:
            with timer.part("io"):
                _store_frames(
                    chosen, step, positions, velocities, energy, stress, settings, step == n_steps
                )
            bar.update(interval * len(chosen))
    for s in chosen:
        s.steps_done = end
    return end - behind, len(chosen)


def _store_frames(
    chosen: list[_ReplicaState],
    step: int,
    positions: torch.Tensor,
    velocities: torch.Tensor,
    energy: torch.Tensor,
    stress: torch.Tensor | None,
    settings: LangevinSettings,
    last: bool,
) -> None:
    from ase import units

    energies = energy.cpu().numpy()
    if not np.all(np.isfinite(energies)):
        raise CalculationError(f"non-finite potential energy {energies} at MD step {step}")
    x = positions.cpu().numpy()
    v = velocities.cpu().numpy()
    sigma = stress.cpu().numpy() if stress is not None else np.full((len(chosen), 3, 3), np.nan)
    start = 0
    for k, s in enumerate(chosen):
        rows = slice(start, start + s.n_atoms)
        start += s.n_atoms
        s.positions, s.velocities = x[rows].copy(), v[rows].copy()
        kinetic = 0.5 * float(s.masses_amu @ (v[rows] ** 2).sum(axis=1)) / units.fs**2
        s.buffer.add(
            steps=step,
            positions_ang=x[rows],
            velocities_ang_per_fs=v[rows],
            potential_energy_ev=energies[k],
            kinetic_energy_ev=kinetic,
            stress_ev_per_ang3=sigma[k],
        )
        if s.buffer.n == settings.chunk_frames or last:
            s.replica.sink.write_chunk(s.buffer.take(), _random_state(s.seed, step))
            s.generator.manual_seed(_stream_seed(s.seed, step))
