"""The finite-temperature band-gap flow of a solid-solution family (seed 000, §II).

parent phonons → phonon-informed dataset → labels at two levels → MACE (level A) and a
two-stage GNN (A then B) → for each x: inequivalent configurations relaxed and ranked with the
MLIP → the lowest (or a Boltzmann-weighted few) → 0 K phonons → MD at each T → decorrelated
snapshots → GNN gaps → Eg(x, T) ± stderr in ``band_gaps`` → figures.

Every setting is validated by :class:`TemperatureStudySettings` before any job exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from jobflow import Flow, Job, Maker
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from thermogap.errors import InputError, first_validation_problem
from thermogap.execution import tg_job
from thermogap.schemas.gnn import GNNTrainingSettings
from thermogap.schemas.md import LangevinSettings
from thermogap.schemas.mlip import MaceTrainingSettings
from thermogap.store import collections as names


class TemperatureStudySettings(BaseModel):
    """Everything the temperature flow needs; presets are YAML renderings of this model."""

    model_config = ConfigDict(extra="forbid")

    family: str = Field("Ag3SBr_xI_(1-x)", description="Name of the solid-solution family.")
    parents: list[str] = Field(
        ["Ag3SBr", "Ag3SI"], description="End members: pure species[0], then pure species[1]."
    )
    site: str = Field("Br", description="Species of the mixed sublattice in the first parent.")
    species: tuple[str, str] = Field(("Br", "I"), description="x is the fraction of the first.")
    supercell: tuple[int, int, int] = Field((2, 2, 2), description="Supercell of the study.")
    compositions: list[float] = Field([0.0, 0.5, 1.0], description="x values (on the grid).")
    temperatures_k: list[float] = Field([0.0, 300.0, 600.0], description="Temperatures, K.")
    selection: Literal["lowest", "boltzmann"] = Field("lowest", description="Configurations.")
    max_configurations: int = Field(3, ge=1, description="Configurations for 'boltzmann'.")
    max_listed: int = Field(100, ge=1, description="List all configurations up to this many.")
    n_samples: int = Field(100, ge=1, description="Otherwise sample this many.")
    seed: int = Field(0, description="Seed of sampling and data generation.")
    # training data and labels
    parent_calculator: str = Field("chgnet", description="Engine of the parent phonons.")
    dataset: dict[str, Any] = Field(
        default_factory=dict, description="Extra settings of thermogap.flows.dataset_flow."
    )
    level_a: str = Field("pbesol", description="Cheap level: MLIP and GNN stage A.")
    level_b: str = Field("hsesol", description="Accurate level: GNN stage B (band gaps).")
    level_b_limit: int = Field(0, ge=0, description="Label at most this many at level B (0: all).")
    label_batch_size: int = Field(16, ge=1, description="Configurations per labelling job.")
    # models (trained unless an id of a stored model is given)
    mlip_model_id: str | None = Field(None, description="Use this stored MLIP, skip training.")
    gnn_model_id: str | None = Field(None, description="Use this stored GNN, skip training.")
    mace: MaceTrainingSettings = Field(default_factory=MaceTrainingSettings)
    foundation_model: str | None = Field(None, description="MACE foundation file or name.")
    gnn_stage_a: GNNTrainingSettings = Field(default_factory=GNNTrainingSettings)
    gnn_stage_b: GNNTrainingSettings = Field(default_factory=GNNTrainingSettings)
    # disorder, phonons, MD
    relax_fmax_ev_per_ang: float = Field(0.05, gt=0, description="Relaxation threshold, eV/Å.")
    relax_max_steps: int = Field(300, ge=1, description="BFGS steps per configuration.")
    relax_cell: bool = Field(
        True, description="Relax the cell too ('fully relaxed', the paper); False: ions only."
    )
    relax_parents: bool = Field(
        True,
        description="Relax the parents (cell + ions) with parent_calculator; Vegard from them.",
    )
    parent_fmax_ev_per_ang: float = Field(
        0.005, gt=0, description="Force/cell threshold of the parent relaxations, eV/Å."
    )
    phonon_supercell: tuple[int, int, int] = Field(
        (1, 1, 1), description="Repetition of the relaxed supercell for its 0 K phonons."
    )
    md: LangevinSettings = Field(default_factory=LangevinSettings)
    md_engine: Literal["auto", "batched", "ase"] = Field(
        "auto",
        description="MD of the study: 'batched' (every trajectory in one job, one model call "
        "per step), 'ase' (one ASE Langevin job per trajectory), 'auto' (batched when more "
        "than one trajectory shares the MLIP).",
    )
    md_dtype: Literal["float32", "float64"] = Field(
        "float32", description="Precision of the MLIP in batched MD."
    )
    device: str = Field("cpu", description="Torch device of the batched MD, e.g. cpu or cuda.")
    equilibration_fraction: float | None = Field(
        None, ge=0, lt=1, description="MD frames discarded; None: detected (pymbar)."
    )
    finite_temperature_phonons: bool = Field(True, description="NMD phonons at each T > 0.")
    nmd: dict[str, Any] = Field(
        default_factory=dict, description="NMDSettings overrides (default: MD's equilibration)."
    )
    electron_phonon: bool = Field(True, description="Mode-resolved coupling at each T > 0.")
    self_check: bool = Field(
        False,
        description="Compute level_b's gap directly on the 0 K structures and on "
        "self_check_snapshots MD frames per (x, T) and compare with the GNN (embedded level_b).",
    )
    self_check_snapshots: int = Field(20, ge=2, description="MD frames per (x, T) checked.")

    @field_validator("temperatures_k")
    @classmethod
    def _temperatures_non_negative(cls, value: list[float]) -> list[float]:
        bad = [t for t in value if t < 0]
        if bad or not value:
            raise ValueError(f"temperatures_k={value} must be non-empty and >= 0 K")
        return sorted(set(float(t) for t in value))


def _settings(raw: dict[str, Any]) -> TemperatureStudySettings:
    try:
        return TemperatureStudySettings(**raw)
    except ValidationError as exc:
        problem = first_validation_problem(exc)
        raise InputError(f"invalid temperature-flow setting {problem}") from None


def _stored_model(db: Any, kind: str, model_id: str) -> dict[str, Any]:
    """Return a stored model as a static input that carries its bytes (read at submission).

    Jobs never look a model up by id: a model given by id is read here, where the results
    database is at hand, and handed to the jobs with its file attached.
    """
    from thermogap.execution.artifacts import document_with_artifacts

    if db is None:
        raise InputError(
            f"{kind} model id {model_id!r} can only be resolved with a results database; "
            "build the flow with make(db) (the CLI does) or pass no model id to train one"
        )
    doc = db.query_one(names.MODELS, {"model_id": model_id})
    if doc is None:
        known = [d["model_id"] for d in db.query(names.MODELS, properties=["model_id"], limit=20)]
        raise InputError(
            f"{kind} model id {model_id!r} is not in the models collection; "
            f"known: {', '.join(known) or '(none)'}"
        )
    return document_with_artifacts(db.blobs, doc)


def _validate(
    settings: TemperatureStudySettings, db: Any
) -> tuple[list[Any], dict[str, float], int]:
    from pymatgen.core import Element

    from thermogap.structures import (
        composition_to_count,
        load_structure,
        make_supercell,
        sublattice_indices,
    )

    for symbol in settings.species:
        if not Element.is_valid_symbol(symbol):
            raise InputError(f"unknown species {symbol!r}; give element symbols, e.g. Br I")
    if len(settings.parents) != 2:
        raise InputError(f"parents={settings.parents} must name the two end members")
    parents = [load_structure(p) for p in settings.parents]
    from thermogap.flows.dataset import dataset_flow  # its settings are checked like a preset's
    from thermogap.flows.presets import validate_builder_settings

    validate_builder_settings(dataset_flow, dict(settings.dataset), "setting dataset")
    n_sites = len(sublattice_indices(make_supercell(parents[0], settings.supercell), settings.site))
    for x in settings.compositions:
        composition_to_count(x, n_sites)  # raises, listing the allowed grid
    lattice = {
        settings.species[0]: parents[0].volume ** (1 / 3),
        settings.species[1]: parents[1].volume ** (1 / 3),
    }
    return parents, lattice, n_sites


def _relaxed_parents(
    settings: TemperatureStudySettings, parents: list[Any], lattice: dict[str, float]
) -> tuple[list[Job], Any]:
    """Relax the parents with the parent engine; return (jobs, Vegard lattice parameters)."""
    if not settings.relax_parents:
        return [], lattice
    from thermogap.flows.dataset import _vasp_level
    from thermogap.jobs.phonons import ParentRelaxMaker, relaxed_lattice_parameters

    level = _vasp_level(settings.parent_calculator)
    jobs: list[Job] = []
    structures = []
    for parent in parents:
        if level is not None:
            from thermogap.levels import load_level
            from thermogap.vasp.makers import relax_maker

            job = relax_maker(load_level(level)).make(parent)  # type: ignore[misc]
        else:
            job = ParentRelaxMaker(
                calculator=settings.parent_calculator,
                fmax_ev_per_ang=settings.parent_fmax_ev_per_ang,
            ).make(parent)
        job.name = f"relax parent {parent.composition.reduced_formula}"
        jobs.append(job)
        structures.append(job.output.structure)
    vegard = relaxed_lattice_parameters(structures, list(settings.species))
    vegard.name = "relaxed lattice parameters"
    return [*jobs, vegard], vegard.output


def _training(
    settings: TemperatureStudySettings, db: Any = None
) -> tuple[list[Flow | Job], Any, Any, list[str]]:
    """Jobs that make the MLIP and GNN (unless given); return jobs, model documents, levels.

    The models are passed on as documents (references to the training jobs' outputs, or
    stored models read at submission), never as ids looked up inside jobs.
    """
    from thermogap.flows.dataset import dataset_flow
    from thermogap.flows.gnn import GNNTransferFlowMaker
    from thermogap.flows.labeling import LabelingFlowMaker
    from thermogap.jobs.mlip import MaceTrainingMaker

    jobs: list[Flow | Job] = []
    levels = [settings.level_a, settings.level_b]
    mlip: Any = (
        _stored_model(db, "MLIP", settings.mlip_model_id) if settings.mlip_model_id else None
    )
    gnn: Any = _stored_model(db, "GNN", settings.gnn_model_id) if settings.gnn_model_id else None
    if mlip is not None and gnn is not None:
        return jobs, mlip, gnn, levels
    data_settings: dict[str, Any] = {
        "compositions": settings.compositions,
        "seed": settings.seed,
        "relax_parents": settings.relax_parents,
        "parent_fmax_ev_per_ang": settings.parent_fmax_ev_per_ang,
    }
    data = dataset_flow(
        settings.parents,
        site=settings.site,
        species=settings.species,
        calculator=settings.parent_calculator,
        supercell=settings.supercell,
        **(data_settings | settings.dataset),
    )
    configurations = data.output["configurations"]
    labeler = LabelingFlowMaker(batch_size=settings.label_batch_size)
    labels_a = labeler.make(settings.level_a, configurations)
    labels_b = labeler.make(settings.level_b, configurations, limit=settings.level_b_limit)
    jobs += [data, labels_a, labels_b]
    if mlip is None:
        # the paper: equilibrium configurations train the GNN, not the MLIP
        mace = MaceTrainingMaker(
            settings=settings.mace,
            foundation=settings.foundation_model,
            exclude_schemes=("equilibrium",),
        ).make([settings.level_a], labels_a.output)
        jobs.append(mace)
        mlip = mace.output
    if gnn is None:
        transfer = GNNTransferFlowMaker(
            settings_a=settings.gnn_stage_a, settings_b=settings.gnn_stage_b
        ).make(settings.level_a, settings.level_b, labels_a.output, labels_b.output)
        jobs.append(transfer)
        gnn = transfer.output.stage_b
    return jobs, mlip, gnn, levels


class _MDStage:
    """The MD of the study: one ASE Langevin job per trajectory, or one batched job for all.

    ``trajectory()`` is called once per (x, T, configuration) while the compositions' jobs
    are made and returns the reference to that trajectory's document at once; in batched mode
    the job that produces them is made afterwards (:meth:`batched_jobs`) under a uuid fixed
    in advance, so the references made before it exist point to it.
    """

    def __init__(
        self,
        settings: TemperatureStudySettings,
        mlip: Any,
        n_trajectories: int,
        md_maker: Any = None,
        batched_md_maker: Any = None,
    ):
        from jobflow.core.reference import OutputReference
        from jobflow.utils import suid

        from thermogap.jobs.md import BatchedLangevinMDMaker, LangevinMDMaker

        self.settings, self.mlip = settings, mlip
        self.md_maker = md_maker or LangevinMDMaker(settings=settings.md, device=settings.device)
        self.batched_md_maker = batched_md_maker or BatchedLangevinMDMaker(
            settings=settings.md, device=settings.device, dtype=settings.md_dtype
        )
        engine = settings.md_engine
        self.batched = engine == "batched" or (engine == "auto" and n_trajectories > 1)
        self.uuid = suid()
        self.output = OutputReference(self.uuid)
        self.requests: list[tuple[Any, float, Any, float]] = []
        # the MD the study runs (for the settings derived from it, e.g. the NMD segments)
        self.md_settings = (self.batched_md_maker if self.batched else self.md_maker).settings
        self.gaps_uuid = suid()
        self.gaps_output = OutputReference(self.gaps_uuid)
        self.gap_requests: list[tuple[Any, Any]] = []

    def gaps(self, trajectory: Any, gnn: Any, name: str) -> tuple[list[Job], Any]:
        """Return the jobs to add now and the reference to the trajectory's gap summary.

        In batched mode the GNN gaps of every trajectory are computed by one job (one model
        load, frames of all replicas in shared forward passes), made in :meth:`batched_jobs`.
        """
        from thermogap.jobs.band_gaps import trajectory_band_gaps

        if not self.batched:
            gaps = trajectory_band_gaps(trajectory, gnn, self.settings.equilibration_fraction)
            gaps.name = name
            return [gaps], gaps.output
        self.gap_requests.append((trajectory, gnn))
        return [], self.gaps_output[len(self.gap_requests) - 1]

    def trajectory(
        self, structure: Any, temperature_k: float, structure_id: Any, x: float, name: str
    ) -> tuple[list[Job], Any]:
        """Return the jobs to add now and the reference to the trajectory's document."""
        if not self.batched:
            md = self.md_maker.make(structure, self.mlip, temperature_k, structure_id, x)
            md.name = name
            return [md], md.output
        self.requests.append((structure, temperature_k, structure_id, x))
        return [], self.output[len(self.requests) - 1]

    def batched_jobs(self) -> list[Job]:
        """Return the batched MD job of every requested trajectory (none in ASE mode)."""
        if not self.batched or not self.requests:
            return []
        structures, temperatures, structure_ids, xs = (
            list(column) for column in zip(*self.requests, strict=True)
        )
        maker = self.batched_md_maker
        md = maker.make(structures, self.mlip, temperatures, structure_ids, xs)
        md.set_uuid(self.uuid)
        md.name = f"batched md ({len(structures)} trajectories)"
        jobs = [md]
        if self.gap_requests:
            from thermogap.jobs.band_gaps import trajectories_band_gaps

            first = self.gap_requests[0][1]
            if any(g is not first for _, g in self.gap_requests):  # one model per study
                raise InputError("batched gaps need one GNN model for every trajectory")
            gaps = trajectories_band_gaps(
                [t for t, _ in self.gap_requests],
                self.gap_requests[0][1],
                self.settings.equilibration_fraction,
            )
            gaps.set_uuid(self.gaps_uuid)
            gaps.name = f"snapshot gaps ({len(self.gap_requests)} trajectories)"
            jobs.append(gaps)
        return jobs


def _n_branches(settings: TemperatureStudySettings, parent: Any, x: float) -> int:
    """How many configurations of composition x the study simulates (known before running)."""
    if settings.selection == "lowest":
        return 1
    from thermogap.disorder.counting import count_inequivalent, sublattice_symmetry
    from thermogap.structures import composition_to_count, make_supercell

    symmetry = sublattice_symmetry(make_supercell(parent, settings.supercell), settings.site)
    counts = count_inequivalent(symmetry.permutations)
    n_sites = len(counts) - 1
    n_substituted = n_sites - composition_to_count(x, n_sites)
    available = counts[n_substituted]
    if available > settings.max_listed:
        available = min(available, settings.n_samples)
    return int(min(settings.max_configurations, available))


def _composition(
    settings: TemperatureStudySettings,
    parent: Any,
    lattice: Any,
    x: float,
    n_sites: int,
    models: tuple[Any, Any],
    levels: list[str],
    md_stage: _MDStage | None = None,
    phonon_maker: Any = None,
) -> tuple[list[Flow | Job], list[Job]]:
    """Jobs of one composition: rank, 0 K phonons, MD, gaps; return (jobs, result jobs)."""
    from thermogap.jobs.band_gaps import BandGapResultMaker, static_band_gap
    from thermogap.jobs.disorder import EnumerateConfigurationsMaker
    from thermogap.jobs.disorder_ranking import RelaxAndRankMaker, select_configurations
    from thermogap.jobs.phonons import PhononMaker
    from thermogap.structures import composition_to_count

    tag = f"x={x:g}"
    mlip, gnn = models
    md_stage = md_stage or _MDStage(settings, mlip, n_trajectories=1)
    n_substituted = n_sites - composition_to_count(x, n_sites)
    enum = EnumerateConfigurationsMaker(
        site=settings.site,
        species=settings.species,
        supercell=list(settings.supercell),
        max_listed=settings.max_listed,
        n_samples=settings.n_samples,
        seed=settings.seed,
    ).make(parent, [n_substituted])
    rank = RelaxAndRankMaker(
        site=settings.site,
        species=settings.species,
        supercell=settings.supercell,
        fmax_ev_per_ang=settings.relax_fmax_ev_per_ang,
        max_steps=settings.relax_max_steps,
        family=settings.family,
        relax_cell=settings.relax_cell,
    ).make(enum.output, parent, x, mlip, lattice)
    select = select_configurations(rank.output, settings.selection, settings.max_configurations)
    jobs: list[Flow | Job] = [enum, rank, select]
    for job, stage in ((enum, "enumerate"), (rank, "relax and rank"), (select, "select")):
        job.name = f"{stage} {tag}"
    static: list[Any] = []
    checks: dict[float, Any] = {}
    snapshots: dict[float, list[Any]] = {t: [] for t in settings.temperatures_k if t > 0}
    phonon_docs: list[Any] = []
    trajectories: dict[float, Any] = {}
    for i in range(_n_branches(settings, parent, x)):
        structure = select.output["structures"][i]
        sid = select.output["structure_ids"][i]
        gap0 = static_band_gap(structure, gnn)
        phonons = phonon_maker or PhononMaker(supercell_matrix=list(settings.phonon_supercell))
        phonon = phonons.make(structure, mlip)
        gap0.name, phonon.name = f"0 K gap {tag} #{i}", f"0 K phonons {tag} #{i}"
        jobs += [gap0, phonon]
        static.append(gap0.output)
        phonon_docs.append(phonon.output)
        if settings.self_check and i == 0:
            jobs += _reference_check(settings, structure, gnn, x, tag, checks)
        for t in snapshots:
            md_jobs, trajectory = md_stage.trajectory(
                structure, t, sid, x, f"md {tag} {t:g} K #{i}"
            )
            gap_jobs, gaps = md_stage.gaps(trajectory, gnn, f"snapshot gaps {tag} {t:g} K #{i}")
            jobs += [*md_jobs, *gap_jobs]
            snapshots[t].append(gaps)
            if settings.self_check and i == 0:
                jobs += _reference_check(settings, trajectory, gnn, x, tag, checks, t)
            trajectories.setdefault(t, trajectory)
    md_inputs = (select.output["structures"][0], mlip, x)
    jobs += _finite_temperature_extras(
        settings.model_copy(update={"md": md_stage.md_settings}),
        phonon_docs[0],
        trajectories,
        gnn,
        tag,
        md_inputs=md_inputs,
    )
    results = []
    for t in settings.temperatures_k:
        result = BandGapResultMaker(
            family=settings.family,
            level=levels[-1],
            levels_of_theory=levels,
            selection=settings.selection,
        ).make(
            x,
            t,
            static,
            snapshots.get(t),
            select.output["energies_ev"],
            select.output["multiplicities"],
            gnn,
            mlip,
            select.output["structure_ids"],
            rank.output.formula,
            checks.get(t),
        )
        result.name = f"band gap {tag} {t:g} K"
        results.append(result)
    return jobs + results, results


def _reference_check(
    settings: TemperatureStudySettings,
    source: Any,
    gnn: Any,
    x: float,
    tag: str,
    checks: dict[float, Any],
    temperature_k: float = 0.0,
) -> list[Job]:
    """Reference-level check of the 0 K structure (T = 0) or of an MD trajectory (T > 0)."""
    from thermogap.jobs.self_check import reference_snapshot_check, reference_static_check

    if temperature_k == 0.0:
        job = reference_static_check(source, gnn, settings.level_b, x)
        job.name = f"self-check 0 K {tag}"
    else:
        job = reference_snapshot_check(
            source,
            gnn,
            checks[0.0],
            temperature_k,
            settings.self_check_snapshots,
            settings.equilibration_fraction,
        )
        job.name = f"self-check {tag} {temperature_k:g} K"
    checks[temperature_k] = job.output
    return [job]


def _finite_temperature_extras(
    settings: TemperatureStudySettings,
    phonon: Any,
    trajectories: dict[float, Any],
    gnn: Any,
    tag: str,
    md_inputs: tuple[Any, Any, float] | None = None,
) -> list[Flow | Job]:
    """NMD phonons and mode-resolved electron–phonon coupling at each T > 0.

    With ``nmd.md_supercell`` other than [1, 1, 1] the NMD gets its own MD on the repeated
    cell (``md_inputs``: structure, MLIP id, x), whose q-points reach further into the zone.
    """
    jobs: list[Flow | Job] = []
    nmd_docs: dict[float, Any] = {}
    if settings.finite_temperature_phonons:
        from thermogap.jobs.finite_temperature import (
            DERIVABLE_NMD_SETTINGS,
            FiniteTemperaturePhononMaker,
            derived_nmd_settings,
        )
        from thermogap.schemas.finite_temperature import NMDSettings

        nmd = NMDSettings(**settings.nmd)
        derive = [k for k in DERIVABLE_NMD_SETTINGS if k not in settings.nmd]
        # checked now for the MD as built (a clear error before any job runs) and again by
        # the job for the MD it is given (the MD Maker may be edited after the flow is built)
        derived_nmd_settings(
            nmd, settings.md.total_time_ps, derive, settings.equilibration_fraction
        )
        for t, trajectory in trajectories.items():
            if nmd.md_supercell != [1, 1, 1] and md_inputs is not None:
                trajectory = _nmd_trajectory(settings, nmd.md_supercell, md_inputs, t, jobs)
            job = FiniteTemperaturePhononMaker(
                settings=nmd,
                derive_from_md=derive,
                md_equilibration_fraction=settings.equilibration_fraction,
            ).make(phonon, trajectory)
            job.name = f"finite-T phonons {tag} {t:g} K"
            jobs.append(job)
            nmd_docs[t] = job.output
    if settings.electron_phonon:
        from thermogap.jobs.electron_phonon import ElectronPhononCouplingMaker

        for t in trajectories:
            job = ElectronPhononCouplingMaker(
                temperature_k=t, equivalent_species=list(settings.species)
            ).make(phonon, gnn, nmd_docs.get(t))
            job.name = f"electron-phonon {tag} {t:g} K"
            jobs.append(job)
    return jobs


def _nmd_trajectory(
    settings: TemperatureStudySettings,
    scaling: list[int],
    md_inputs: tuple[Any, Any, float],
    temperature_k: float,
    jobs: list[Flow | Job],
) -> Any:
    """Add an MD on the repeated cell for the NMD to ``jobs``; return its trajectory id."""
    from thermogap.jobs.finite_temperature import repeat_structure
    from thermogap.jobs.md import LangevinMDMaker

    structure, mlip, x = md_inputs
    cell = repeat_structure(structure, scaling)
    md = LangevinMDMaker(settings=settings.md, progress=False).make(
        cell.output, mlip, temperature_k, None, x
    )
    size = "x".join(str(n) for n in scaling)
    cell.name, md.name = f"nmd cell {size} x={x:g}", f"nmd md {size} x={x:g} {temperature_k:g} K"
    jobs += [cell, md]
    return md.output


@tg_job
def summarize_study(
    results: list[Any],
    family: str,
    levels: list[str],
    mlip: Any,
    gnn: Any,
    self_check: Any = None,
) -> Any:
    """Collect the Eg(x, T) results into a table with the study's figures.

    ``mlip`` and ``gnn`` are the model documents (only their ids are kept).
    """
    from thermogap.execution.artifacts import current_blobs
    from thermogap.results.plots import (
        plot_gap_vs_composition,
        plot_gap_vs_temperature,
        plot_relative_change,
    )
    from thermogap.schemas.band_gaps import BandGapDoc, TemperatureStudyDoc

    docs = [BandGapDoc.model_validate(_fields(r)) for r in results]
    rows = [d.model_dump(mode="json") for d in docs]
    blobs = current_blobs()
    plots = {
        "gap_vs_temperature": blobs.put_bytes(plot_gap_vs_temperature(rows), kind="png"),
        "gap_vs_composition": blobs.put_bytes(plot_gap_vs_composition(rows), kind="png"),
        "relative_change": blobs.put_bytes(plot_relative_change(rows), kind="png"),
    }
    keys = ("x", "temperature_k", "band_gap_ev", "stderr_ev", "delta_gap_ev", "relative_change")
    extra = ("reference_delta_gap_ev", "gnn_reference_mae_ev")
    return TemperatureStudyDoc(
        family=family,
        levels_of_theory=levels,
        result_ids=[d.result_id for d in docs],
        table=[
            {k: row[k] for k in keys} | {k: row[k] for k in extra if row.get(k) is not None}
            for row in rows
        ],
        plots=plots,
        mlip_model_id=_fields(mlip)["model_id"],
        gnn_model_id=_fields(gnn)["model_id"],
        self_check=self_check,
    )


@dataclass
class TemperatureFlowMaker(Maker):
    """The finite-temperature band-gap study (seed 000) as a jobflow flow Maker.

    Presets render into it (``TemperatureFlowMaker(settings=preset.settings)``); every setting
    is validated by :class:`TemperatureStudySettings` when :meth:`make` runs, before any job
    exists. The MD and phonon steps are Maker fields, as in atomate2's phonon flow: left at
    ``None`` they are built from the settings; given, they are used as they are. Settings
    derived from the MD (the NMD segments) follow the MD Maker actually used. The MD Makers
    of a built flow can be edited with ``flow.update_maker_kwargs(...,
    class_filter=LangevinMDMaker, dict_mod=True)``.

    Parameters
    ----------
    name
        Flow name (the family is appended).
    settings
        Fields of :class:`TemperatureStudySettings` (a mapping, as in a preset).
    md_maker
        Maker of the single-trajectory MD jobs (``md_engine: ase`` or one trajectory).
    batched_md_maker
        Maker of the job advancing every trajectory together (batched MD).
    phonon_maker
        Maker of the 0 K phonons of the selected configurations.

    Examples
    --------
    >>> maker = TemperatureFlowMaker(settings={"compositions": [0.5], "temperatures_k": [0, 300]})
    >>> maker.md_maker is None
    True
    """

    name: str = "Eg(T)"
    settings: dict[str, Any] = field(default_factory=dict)
    md_maker: Any = None
    batched_md_maker: Any = None
    phonon_maker: Any = None

    def make(self, db: Any = None) -> Flow:
        """Build the study's flow.

        Parameters
        ----------
        db
            Results database, used only to read the stored models given by id
            (``mlip_model_id``/``gnn_model_id``); they become static inputs that carry
            their files, so no job opens the database.

        Raises
        ------
        InputError
            For an x off the supercell grid, T < 0, an unknown species or a missing model id,
            before any job is created.
        """
        settings = _settings(dict(self.settings))
        if not settings.compositions:
            raise InputError("compositions is empty; give at least one x on the supercell grid")
        parents, lattice, n_sites = _validate(settings, db)
        if settings.self_check:
            from thermogap.levels import load_level

            if load_level(settings.level_b).embedded is None:
                raise InputError(
                    f"self_check needs an embedded level_b to compute in-process; "
                    f"{settings.level_b!r} is not (use self_check: false)"
                )
        parent_jobs, lattice = _relaxed_parents(settings, parents, lattice)
        jobs, mlip, gnn, levels = _training(settings, db)
        jobs = [*parent_jobs, *jobs]
        n_hot = len([t for t in settings.temperatures_k if t > 0])
        n_configs = sum(_n_branches(settings, parents[0], x) for x in settings.compositions)
        n_trajectories = n_configs * n_hot
        md_stage = _MDStage(settings, mlip, n_trajectories, self.md_maker, self.batched_md_maker)
        results: list[Job] = []
        for x in settings.compositions:
            composition_jobs, composition_results = _composition(
                settings,
                parents[0],
                lattice,
                x,
                n_sites,
                (mlip, gnn),
                levels,
                md_stage,
                self.phonon_maker,
            )
            jobs += composition_jobs
            results += composition_results
        jobs += md_stage.batched_jobs()
        verdict = None
        if settings.self_check:
            from thermogap.jobs.self_check import self_check_summary

            static_checks = [
                j.output for j in jobs if getattr(j, "name", "").startswith("self-check 0 K")
            ]
            snapshot_checks = [
                j.output for j in jobs if getattr(j, "name", "").startswith("self-check x=")
            ]
            check = self_check_summary(static_checks, snapshot_checks, settings.level_b)
            check.name = "self-check summary"
            jobs.append(check)
            verdict = check.output
        summary = summarize_study(
            [r.output for r in results], settings.family, levels, mlip, gnn, verdict
        )
        summary.name = "study summary"
        flow = Flow([*jobs, summary], output=summary.output, name=f"{self.name} {settings.family}")
        _record_upstream(flow, results)
        return flow


def _fields(value: Any) -> dict[str, Any]:
    """Return an upstream document as a dict without serialisation keys or its bytes."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return {k: v for k, v in value.items() if not k.startswith("@") and k != "artifacts"}


def temperature_flow(db: Any = None, **raw_settings: Any) -> Flow:
    """Build the finite-temperature band-gap flow (preset ``flow: temperature``).

    The preset-facing form of :class:`TemperatureFlowMaker`:
    ``TemperatureFlowMaker(settings=raw_settings).make(db)``.

    Parameters
    ----------
    db
        Results database used only to check that given model ids exist (optional).
    **raw_settings
        Fields of :class:`TemperatureStudySettings`.

    Examples
    --------
    >>> flow = temperature_flow(compositions=[0.5], temperatures_k=[0, 300])  # doctest: +SKIP
    """
    return TemperatureFlowMaker(settings=raw_settings).make(db)


def _record_upstream(flow: Flow, results: list[Job]) -> None:
    """Give each result job the uuids (and names) of every job it depends on.

    This is metadata, not an input, so that it does not change the job's cache key (uuids
    differ on every submission); the result documents copy it as provenance.
    """
    import networkx as nx

    graph = flow.graph
    names = {job.uuid: job.name for job, _ in flow.iterflow()}
    for result in results:
        ancestors = nx.ancestors(graph, result.uuid)
        result.metadata["upstream"] = {u: names[u] for u in sorted(ancestors) if u in names}
