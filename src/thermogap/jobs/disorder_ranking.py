"""Relax every inequivalent configuration of a composition with the MLIP and rank them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobflow import Maker
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.schemas.band_gaps import DisorderRankingDoc, RankedConfiguration
from thermogap.schemas.base import make_provenance
from thermogap.schemas.disorder import DisorderEnumerationDoc
from thermogap.store import collections as names
from thermogap.structures import content_id, solid_solution_supercell, structure_id
from thermogap.structures.identity import as_structure

RANKINGS_COLLECTION = names.DISORDER


def rank_configurations(
    configurations: list[RankedConfiguration],
) -> list[RankedConfiguration]:
    """Sort by energy per atom and fill in the energy above the lowest (meV/atom)."""
    ranked = sorted(configurations, key=lambda c: c.energy_per_atom_ev)
    lowest = ranked[0].energy_per_atom_ev
    for c in ranked:
        c.relative_energy_mev_per_atom = 1000.0 * (c.energy_per_atom_ev - lowest)
    return ranked


@dataclass
class RelaxAndRankMaker(Maker):
    """Relax the enumerated configurations of one composition and rank them by energy.

    Every configuration (all of them when listed, the sample otherwise) is built on the
    supercell, fully relaxed with the MLIP (BFGS; cell and ions, as the paper's "fully
    relaxed", unless ``relax_cell`` is False) and returned with its multiplicity, energy and
    relaxed structure. The job opens no database; the ``disorder`` collection is built from
    its outputs (key ``ranking_id``, which includes every setting that changes the result).

    Parameters
    ----------
    name
        Job name.
    site, species, supercell
        Mixed sublattice, its two species (x is the fraction of the first) and the supercell,
        as given to the enumeration.
    fmax_ev_per_ang
        Force threshold of the relaxations, eV/Å (paper: 0.05).
    max_steps
        BFGS step limit per configuration.
    family
        Name of the solid-solution family, stored with the results.
    relax_cell
        Relax the lattice vectors too (ASE ``FrechetCellFilter``); False: ions only.

    Examples
    --------
    >>> from thermogap.jobs.disorder import EnumerateConfigurationsMaker
    >>> from thermogap.structures import load_structure
    >>> parent = load_structure("Ag3SBr")
    >>> enumerate_job = EnumerateConfigurationsMaker(site="Br", species=("Br", "I")).make(parent)
    >>> job = RelaxAndRankMaker().make(
    ...     enumerate_job.output, parent, 0.5, training_job.output
    ... )  # doctest: +SKIP
    """

    name: str = "relax and rank configurations"
    site: str = "Br"
    species: tuple[str, str] = ("Br", "I")
    supercell: tuple[int, int, int] = (2, 2, 2)
    fmax_ev_per_ang: float = 0.05
    max_steps: int = 300
    family: str = "Ag3SBr_xI_(1-x)"
    relax_cell: bool = True

    @tg_job
    def make(
        self,
        enumeration: DisorderEnumerationDoc,
        parent: Structure,
        x: float,
        mlip: Any,
        lattice: dict[str, float] | None = None,
    ) -> DisorderRankingDoc:
        """Relax and rank the configurations with x of the first species.

        Parameters
        ----------
        enumeration : DisorderEnumerationDoc
            Output of :class:`~thermogap.jobs.disorder.EnumerateConfigurationsMaker`.
        parent : Structure
            Ordered parent cell of the enumeration.
        x : float
            Fraction of the first species.
        mlip : MlipModelDoc or dict
            The MLIP's model document (a training job's output, or a stored model embedded
            with its bytes); no database is opened.
        lattice : dict, optional
            Vegard lattice parameters of the end members, Å
            (:func:`thermogap.jobs.phonons.relaxed_lattice_parameters`).
        """
        from thermogap.mlip.calculator import calculator_from_model
        from thermogap.mlip.relaxation import relax

        enumeration = DisorderEnumerationDoc.model_validate(enumeration)
        parent = as_structure(parent)
        model = mlip.model_dump(mode="json") if hasattr(mlip, "model_dump") else mlip
        if not isinstance(model, dict) or "model_blob" not in model:
            raise InputError(
                f"mlip must be an MLIP model document (a training job's output), got "
                f"{str(mlip)[:80]!r}"
            )
        mlip_model_id = str(model["model_id"])
        n_sites = enumeration.symmetry.n_sites
        n_substituted = round((1.0 - x) * n_sites)
        found = [c for c in enumeration.compositions if c.n_substituted == n_substituted]
        if not found or not found[0].configurations:
            raise InputError(f"the enumeration has no configurations for {x=} ({n_substituted=})")
        composition = found[0]
        calculator = calculator_from_model(model)
        ranked = []
        for config in composition.configurations:
            start = solid_solution_supercell(
                parent,
                site=self.site,
                species=self.species,
                supercell=self.supercell,
                x=x,
                lattice_parameters=lattice,
                substituted_sites=config.substituted_sites,
            )
            result = relax(
                AseAtomsAdaptor.get_atoms(start),
                calculator,
                fmax_ev_per_ang=self.fmax_ev_per_ang,
                max_steps=self.max_steps,
                relax_cell=self.relax_cell,
            )
            relaxed = AseAtomsAdaptor.get_structure(result.atoms)
            ranked.append(
                RankedConfiguration(
                    substituted_sites=list(config.substituted_sites),
                    multiplicity=config.multiplicity,
                    energy_ev=result.final.energy_ev,
                    energy_per_atom_ev=result.final.energy_ev / len(relaxed),
                    converged=result.converged,
                    n_steps=result.n_steps,
                    structure_id=structure_id(relaxed),
                    structure=relaxed.as_dict(),
                )
            )
        ranked = rank_configurations(ranked)
        doc = DisorderRankingDoc(
            ranking_id=content_id(
                family=self.family,
                x=round(x, 9),
                model=mlip_model_id,
                configs=[c.structure_id for c in ranked],
                site=self.site,
                species=list(self.species),
                supercell=list(self.supercell),
                fmax_ev_per_ang=self.fmax_ev_per_ang,
                max_steps=self.max_steps,
                relax_cell=self.relax_cell,
                lattice=dict(sorted((lattice or {}).items())),
            ),
            family=self.family,
            formula=as_structure(ranked[0].structure).composition.reduced_formula,
            x=x,
            n_substituted=n_substituted,
            n_inequivalent=composition.n_inequivalent,
            sampled=composition.sampled,
            mlip_model_id=mlip_model_id,
            configurations=ranked,
            provenance=make_provenance(model_id=mlip_model_id, model_sha256=model.get("sha256")),
        )
        return doc


@tg_job
def select_configurations(
    ranking: DisorderRankingDoc, selection: str, max_configurations: int
) -> dict[str, Any]:
    """Pick the configurations the finite-temperature study simulates.

    ``"lowest"``: the lowest-energy one. ``"boltzmann"``: the ``max_configurations`` lowest,
    with their energies and multiplicities for the weighting at each temperature.
    """
    ranking = DisorderRankingDoc.model_validate(ranking)
    count = 1 if selection == "lowest" else max_configurations
    chosen = ranking.configurations[:count]
    return {
        "structures": [c.structure for c in chosen],
        "structure_ids": [c.structure_id for c in chosen],
        "energies_ev": [c.energy_ev for c in chosen],
        "multiplicities": [c.multiplicity for c in chosen],
    }
