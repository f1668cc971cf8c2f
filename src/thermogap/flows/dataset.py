"""The configuration-dataset flow: compositions × temperatures × schemes × counts.

Parent phonons are computed once per end member; every composition gets one or more
solid-solution supercells (random orderings of the mixed sublattice, reproducible from the
seed), and every (supercell, scheme, temperature or amplitude) a batch job that returns its
configurations. The flow's ``output["configurations"]`` resolves to every configuration
document (the labelling flow's input); the ``configurations`` collection is built from the
batch outputs after the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from jobflow import Flow, Job, Maker
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.jobs.phonons import (
    ParentRelaxMaker,
    PhononMaker,
    relaxed_lattice_parameters,
    vasp_parent_phonon_jobs,
)
from thermogap.jobs.sampling import DisplacedConfigurationsMaker, collect_configurations
from thermogap.sampling.batch import SCHEMES
from thermogap.sampling.displacements import batch_rng
from thermogap.structures import (
    composition_to_count,
    load_structure,
    solid_solution_supercell,
    sublattice_indices,
)
from thermogap.structures.solid_solution import make_supercell

__all__ = ["DatasetMaker", "dataset_flow"]


@dataclass
class DatasetMaker(Maker):
    """Flow of phonon-informed (and random / equilibrium) configurations of a solid solution.

    Parameters
    ----------
    name : str
        Flow name.
    phonon_maker : PhononMaker
        Parent (end-member) phonons; its ``supercell_matrix`` is also the sampling supercell.
    relax_maker : ParentRelaxMaker or None
        Relaxes each parent (cell and ions) with the phonons' engine before phonopy; the
        relaxed lattice parameters also set the Vegard lattices of the supercells.  None:
        use the parents as given.
    vasp_level : str or None
        Name of a VASP level (e.g. ``"pbesol"``): parents are relaxed and their phonons
        computed with VASP through atomate2 instead of ``phonon_maker``'s engine.
    vegard_from_relaxed : bool
        Rescale the supercells, when the job runs, to Vegard's law between the relaxed
        parents (instead of ``lattice_parameters``).
    sampling_maker : DisplacedConfigurationsMaker
        Template of the batch jobs; ``scheme`` is replaced per batch, ``n_configurations`` and
        ``seed`` are used as given.
    site : str
        Species of the first parent naming the mixed sublattice (e.g. ``"Br"``).
    species : tuple of str
        (first, second): x is the fraction of ``first`` (Ag3SBr_xI_1-x: ``("Br", "I")``).
    compositions : list of float
        x values, on the 1/N grid of the supercell's sublattice.
    temperatures_k : list of float
        Temperatures of the phonon and gaussian schemes, K (paper: 100-600 K).
    schemes : list of str
        Any of ``"phonon"``, ``"gaussian"``, ``"random"``, ``"equilibrium"`` (default:
        gaussian and equilibrium; the paper: phonon and equilibrium).
    random_amplitudes_ang : list of float
        Lengths a of the random scheme, Å (dataset study: 0.1-0.8 Å).
    n_equilibrium : int
        Equilibrium (undisplaced) configurations per supercell (the same structure, recorded
        once per index so that training sets can weight it).
    n_orderings : int
        Random orderings of the mixed sublattice per composition.
    lattice_parameters : dict or None
        End-member lattice parameters for Vegard scaling, ``{first: a1, second: a0}``, Å.

    Examples
    --------
    >>> from thermogap.structures import load_structure
    >>> maker = DatasetMaker(compositions=[0.0, 0.5, 1.0], temperatures_k=[100, 300, 600])
    >>> flow = maker.make([load_structure("Ag3SBr"), load_structure("Ag3SI")])
    """

    name: str = "configuration dataset"
    phonon_maker: PhononMaker = field(default_factory=PhononMaker)
    relax_maker: ParentRelaxMaker | None = field(default_factory=ParentRelaxMaker)
    vasp_level: str | None = None
    vegard_from_relaxed: bool = True
    sampling_maker: DisplacedConfigurationsMaker = field(
        default_factory=DisplacedConfigurationsMaker
    )
    site: str = "Br"
    species: tuple[str, str] = ("Br", "I")
    compositions: list[float] = field(default_factory=lambda: [0.0, 0.5, 1.0])
    temperatures_k: list[float] = field(
        default_factory=lambda: [100.0, 200.0, 300.0, 400.0, 500.0, 600.0]
    )
    schemes: list[str] = field(default_factory=lambda: ["gaussian", "equilibrium"])
    random_amplitudes_ang: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.4, 0.8])
    n_equilibrium: int = 1
    n_orderings: int = 1
    lattice_parameters: dict[str, float] | None = None

    def make(self, parents: Sequence[Structure]) -> Flow:
        """Build the flow.

        Parameters
        ----------
        parents : sequence of Structure
            End-member unit cells on the same framework, e.g. [Ag3SBr, Ag3SI]; the first
            defines the supercells (its ``site`` species is the mixed sublattice).

        Returns
        -------
        Flow
            Its ``output`` has ``phonon_ids`` (parent phonon documents' ids), ``batch_ids``
            and ``n_configurations`` (one per sampling job) and ``configurations``: a
            reference resolving to the list of every configuration document (dicts of
            :class:`~thermogap.schemas.configurations.ConfigurationDoc`, ``scheme``
            included), the input of :class:`~thermogap.flows.labeling.LabelingFlowMaker`.
        """
        self._validate(parents)
        needs_phonons = any(s in ("phonon", "gaussian") for s in self.schemes)
        parent_jobs, relaxed, phonons = self._parent_jobs(parents, needs_phonons)
        lattice: Any = None
        if relaxed and len(parents) == 2 and self.vegard_from_relaxed:
            lattice_job = relaxed_lattice_parameters(relaxed, list(self.species))
            lattice_job.name = "relaxed lattice parameters"
            parent_jobs.append(lattice_job)
            lattice = lattice_job.output
        batch_jobs: list[Job] = []
        for x in self.compositions:
            for k, supercell in enumerate(self._supercells(parents[0], x)):
                for scheme in self.schemes:
                    batch_jobs.extend(self._batches(supercell, x, k, scheme, phonons, lattice))
        collect = collect_configurations([j.output for j in batch_jobs])
        collect.name = "collect configurations"
        return Flow(
            [*parent_jobs, *batch_jobs, collect],
            output={
                "phonon_ids": [doc.phonon_id for doc in phonons],
                "batch_ids": [j.output.batch_id for j in batch_jobs],
                "n_configurations": [j.output.n_configurations for j in batch_jobs],
                "configurations": collect.output,
            },
            name=self.name,
        )

    def _parent_jobs(
        self, parents: Sequence[Structure], needs_phonons: bool
    ) -> tuple[list[Any], list[Any], list[Any]]:
        """Relaxation and phonon jobs of the parents; (jobs, relaxed cells, phonon documents).

        The phonon documents are references to the phonon jobs' outputs.
        """
        jobs: list[Any] = []
        relaxed: list[Any] = []
        phonons: list[Any] = []
        for parent in parents:
            formula = parent.composition.reduced_formula
            if self.vasp_level is not None:
                vasp_jobs, structure, doc = vasp_parent_phonon_jobs(
                    parent, self.vasp_level, self.phonon_maker.supercell_matrix
                )
                jobs += vasp_jobs if needs_phonons else vasp_jobs[:1]
                relaxed.append(structure)
                if needs_phonons:
                    phonons.append(doc)
                continue
            relaxation = None
            if self.relax_maker is not None:
                relax_job = cast(
                    Job,
                    replace(
                        self.relax_maker,
                        calculator=self.phonon_maker.calculator,
                        calculator_kwargs=dict(self.phonon_maker.calculator_kwargs),
                    ).make(parent),
                )
                relax_job.name = f"{self.relax_maker.name} {formula}"
                jobs.append(relax_job)
                relaxed.append(relax_job.output.structure)
                relaxation = relax_job.output
            if needs_phonons:
                # tg_job-decorated makes return a Job when called (typed as their output)
                job = cast(Job, self.phonon_maker.make(parent, None, relaxation))
                job.name = f"{self.phonon_maker.name} {formula}"
                jobs.append(job)
                phonons.append(job.output)
        return jobs, relaxed, phonons

    def _batches(
        self,
        supercell: Structure,
        x: float,
        ordering: int,
        scheme: str,
        phonons: list[Any],
        lattice: Any = None,
    ) -> list[Job]:
        maker = replace(self.sampling_maker, scheme=scheme)
        tag = f"x={x:g} ordering {ordering} {scheme}"
        jobs = []
        if scheme in ("phonon", "gaussian"):
            for t in self.temperatures_k:
                job = cast(
                    Job,
                    maker.make(
                        supercell,
                        x,
                        temperature_k=float(t),
                        parent_phonons=phonons,
                        lattice_parameters=lattice,
                    ),
                )
                job.name = f"{maker.name} {tag} T={t:g} K"
                jobs.append(job)
        elif scheme == "random":
            for a in self.random_amplitudes_ang:
                job = cast(
                    Job,
                    maker.make(supercell, x, amplitude_ang=float(a), lattice_parameters=lattice),
                )
                job.name = f"{maker.name} {tag} a={a:g} Å"
                jobs.append(job)
        elif self.n_equilibrium > 0:
            equilibrium = replace(maker, n_configurations=self.n_equilibrium)
            job = cast(Job, equilibrium.make(supercell, x, lattice_parameters=lattice))
            job.name = f"{maker.name} {tag}"
            jobs.append(job)
        return jobs

    def _supercells(self, parent: Structure, x: float) -> list[Structure]:
        n_sites = len(
            sublattice_indices(
                make_supercell(parent, self.phonon_maker.supercell_matrix), self.site
            )
        )
        n_second = n_sites - composition_to_count(x, n_sites)
        cells = []
        for k in range(self.n_orderings):
            rng = batch_rng(self.sampling_maker.seed, "ordering", round(float(x), 9), k)
            second = sorted(rng.choice(n_sites, size=n_second, replace=False).tolist())
            cells.append(
                solid_solution_supercell(
                    parent,
                    site=self.site,
                    species=self.species,
                    supercell=self.phonon_maker.supercell_matrix,
                    x=x,
                    lattice_parameters=self.lattice_parameters,
                    substituted_sites=second,
                )
            )
        return cells

    def _validate(self, parents: Sequence[Structure]) -> None:
        if not parents:
            raise InputError("give at least one parent unit cell, e.g. [Ag3SBr, Ag3SI]")
        unknown = [s for s in self.schemes if s not in SCHEMES]
        if unknown or not self.schemes:
            raise InputError(
                f"schemes={self.schemes!r}: unknown {unknown}; allowed: {', '.join(SCHEMES)}"
            )
        bad_t = [t for t in self.temperatures_k if not 0 <= float(t) < 1e4]
        if bad_t:
            raise InputError(f"temperatures_k {bad_t} must be in [0, 10000) K (paper: 100-600 K)")
        bad_a = [a for a in self.random_amplitudes_ang if not 0 <= float(a) <= 2.0]
        if bad_a:
            raise InputError(f"random_amplitudes_ang {bad_a} must be in [0, 2] Å (paper: 0.1-0.8)")
        if self.n_orderings < 1:
            raise InputError(f"n_orderings={self.n_orderings} must be >= 1")
        n_sites = len(
            sublattice_indices(
                make_supercell(parents[0], self.phonon_maker.supercell_matrix), self.site
            )
        )
        for x in self.compositions:
            composition_to_count(x, n_sites)  # raises InputError listing the allowed grid


def dataset_flow(
    parents: Sequence[str] = ("Ag3SBr", "Ag3SI"),
    *,
    site: str = "Br",
    species: Sequence[str] = ("Br", "I"),
    compositions: Sequence[float] = (0.0, 0.5, 1.0),
    temperatures_k: Sequence[float] = (100.0, 300.0, 600.0),
    schemes: Sequence[str] = ("gaussian", "equilibrium"),
    n_per_batch: int = 10,
    random_amplitudes_ang: Sequence[float] = (0.1, 0.2, 0.4, 0.8),
    n_equilibrium: int = 1,
    n_orderings: int = 1,
    seed: int = 0,
    calculator: str = "chgnet",
    calculator_kwargs: dict[str, Any] | None = None,
    model_id: str | None = None,
    supercell: Sequence[int] = (2, 2, 2),
    mesh: Sequence[int] = (8, 8, 8),
    lattice_parameters: dict[str, float] | None = None,
    relax_parents: bool = True,
    parent_fmax_ev_per_ang: float = 0.005,
    soft_mode_treatment: str | None = None,
    frequency_floor_thz: float = 0.5,
    soft_mode_threshold: float = 0.10,
    md_settings: dict[str, float] | None = None,
) -> Flow:
    """Flow builder for presets (``flow: dataset``): settings in, validated flow out.

    ``calculator`` may name an engine (``"chgnet"``) or a VASP level (``"pbesol"``: relaxation
    and phonons through atomate2).  With ``relax_parents`` (default) each parent is relaxed,
    cell and ions, with that engine before its phonons, and the supercells follow Vegard's
    law between the relaxed parents.  ``soft_mode_treatment`` says what to do with imaginary
    modes (see :class:`~thermogap.jobs.sampling.DisplacedConfigurationsMaker`).

    ``parents`` are structure files or known prototype names (see
    :func:`thermogap.structures.load_structure`); with two parents (first: pure ``species[0]``,
    second: pure ``species[1]``) and no ``lattice_parameters``, supercells follow Vegard's law
    between the parents' cell sizes.  Other arguments: see :class:`DatasetMaker`.
    """
    cells = [load_structure(p) for p in parents]
    if len(species) != 2:
        raise InputError(f"species={list(species)!r} must be two element symbols, e.g. ['Br', 'I']")
    vasp_level = _vasp_level(calculator)
    explicit_lattice = lattice_parameters is not None
    if lattice_parameters is None and len(cells) == 2:
        # Vegard's law between the two end members, each at its own cell size
        lattice_parameters = {
            species[0]: cells[0].volume ** (1 / 3),
            species[1]: cells[1].volume ** (1 / 3),
        }
    maker = DatasetMaker(
        phonon_maker=PhononMaker(
            calculator=calculator,
            calculator_kwargs=dict(calculator_kwargs or {}),
            model_id=model_id,
            supercell_matrix=list(supercell),
        ),
        relax_maker=ParentRelaxMaker(fmax_ev_per_ang=parent_fmax_ev_per_ang)
        if relax_parents
        else None,
        vasp_level=vasp_level,
        vegard_from_relaxed=not explicit_lattice,
        sampling_maker=DisplacedConfigurationsMaker(
            n_configurations=n_per_batch,
            seed=seed,
            mesh=list(mesh),
            soft_mode_treatment=soft_mode_treatment,
            frequency_floor_thz=frequency_floor_thz,
            soft_mode_threshold=soft_mode_threshold,
            calculator=calculator,
            calculator_kwargs=dict(calculator_kwargs or {}),
            md_settings=dict(md_settings or {}),
        ),
        site=site,
        species=(species[0], species[1]),
        compositions=[float(x) for x in compositions],
        temperatures_k=[float(t) for t in temperatures_k],
        schemes=list(schemes),
        random_amplitudes_ang=[float(a) for a in random_amplitudes_ang],
        n_equilibrium=n_equilibrium,
        n_orderings=n_orderings,
        lattice_parameters=lattice_parameters,
    )
    return maker.make(cells)


def _vasp_level(calculator: str) -> str | None:
    """Return ``calculator`` if it names a VASP level (not an engine), else None."""
    from thermogap.engines import engine_names

    if calculator in engine_names():
        return None
    from thermogap.levels import level_names, load_level

    if calculator in level_names() and load_level(calculator).engine == "vasp":
        return calculator
    raise InputError(
        f"calculator={calculator!r} is neither an engine ({', '.join(engine_names())}) nor a "
        f"VASP level ({', '.join(level_names())})"
    )
