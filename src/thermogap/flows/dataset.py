"""The configuration-dataset flow: compositions × temperatures × schemes × counts.

Parent phonons are computed once per end member; every composition gets one or more
solid-solution supercells (random orderings of the mixed sublattice, reproducible from the
seed), and every (supercell, scheme, temperature or amplitude) a batch job that writes its
configurations to the ``configurations`` collection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from jobflow import Flow, Job, Maker
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.jobs.phonons import PhononMaker
from thermogap.jobs.sampling import DisplacedConfigurationsMaker
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
        Any of ``"phonon"``, ``"gaussian"``, ``"random"``, ``"equilibrium"``.
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
    sampling_maker: DisplacedConfigurationsMaker = field(
        default_factory=DisplacedConfigurationsMaker
    )
    site: str = "Br"
    species: tuple[str, str] = ("Br", "I")
    compositions: list[float] = field(default_factory=lambda: [0.0, 0.5, 1.0])
    temperatures_k: list[float] = field(
        default_factory=lambda: [100.0, 200.0, 300.0, 400.0, 500.0, 600.0]
    )
    schemes: list[str] = field(default_factory=lambda: ["phonon"])
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
        """
        self._validate(parents)
        needs_phonons = any(s in ("phonon", "gaussian") for s in self.schemes)
        # tg_job-decorated makes return a Job when called (typed as their output document)
        phonon_jobs = [cast(Job, self.phonon_maker.make(p)) for p in parents if needs_phonons]
        for job, parent in zip(phonon_jobs, parents, strict=False):
            job.name = f"{self.phonon_maker.name} {parent.composition.reduced_formula}"
        phonon_ids = [j.output.phonon_id for j in phonon_jobs]
        batch_jobs: list[Job] = []
        for x in self.compositions:
            for k, supercell in enumerate(self._supercells(parents[0], x)):
                for scheme in self.schemes:
                    batch_jobs.extend(self._batches(supercell, x, k, scheme, phonon_ids))
        return Flow(
            [*phonon_jobs, *batch_jobs],
            output={
                "phonon_ids": phonon_ids,
                "batch_ids": [j.output.batch_id for j in batch_jobs],
                "n_configurations": [j.output.n_configurations for j in batch_jobs],
            },
            name=self.name,
        )

    def _batches(
        self, supercell: Structure, x: float, ordering: int, scheme: str, phonon_ids: list[Any]
    ) -> list[Job]:
        maker = replace(self.sampling_maker, scheme=scheme)
        tag = f"x={x:g} ordering {ordering} {scheme}"
        jobs = []
        if scheme in ("phonon", "gaussian"):
            for t in self.temperatures_k:
                job = cast(
                    Job,
                    maker.make(supercell, x, temperature_k=float(t), parent_phonon_ids=phonon_ids),
                )
                job.name = f"{maker.name} {tag} T={t:g} K"
                jobs.append(job)
        elif scheme == "random":
            for a in self.random_amplitudes_ang:
                job = cast(Job, maker.make(supercell, x, amplitude_ang=float(a)))
                job.name = f"{maker.name} {tag} a={a:g} Å"
                jobs.append(job)
        elif self.n_equilibrium > 0:
            job = cast(Job, replace(maker, n_configurations=self.n_equilibrium).make(supercell, x))
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
    schemes: Sequence[str] = ("phonon",),
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
) -> Flow:
    """Flow builder for presets (``flow: dataset``): settings in, validated flow out.

    ``parents`` are structure files or known prototype names (see
    :func:`thermogap.structures.load_structure`); with two parents (first: pure ``species[0]``,
    second: pure ``species[1]``) and no ``lattice_parameters``, supercells follow Vegard's law
    between the parents' cell sizes.  Other arguments: see :class:`DatasetMaker`.
    """
    cells = [load_structure(p) for p in parents]
    if len(species) != 2:
        raise InputError(f"species={list(species)!r} must be two element symbols, e.g. ['Br', 'I']")
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
        sampling_maker=DisplacedConfigurationsMaker(
            n_configurations=n_per_batch, seed=seed, mesh=list(mesh)
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
