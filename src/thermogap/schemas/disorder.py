"""Documents of the chemical-disorder enumeration.

One :class:`DisorderEnumerationDoc` per (parent, sublattice, species, supercell, settings):
the exact number of symmetry-inequivalent configurations for every number n of
substituted sites, and the configurations themselves (all of them, or a seeded random
sample).  A configuration lists the sublattice indices (0..N-1, in supercell order, see
``sublattice``) that hold ``species[1]``; the other sublattice sites hold ``species[0]``,
so ``x = (N - n) / N`` is the fraction of ``species[0]``.

Counts are exact Python integers; for sublattices beyond about 64 sites the counts for
mid compositions exceed the 64-bit range of BSON and such documents cannot go to MongoDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, field_validator
from pymatgen.core import Structure

from thermogap.schemas.base import Provenance, ThermogapDocument, make_provenance

if TYPE_CHECKING:
    from thermogap.disorder.enumeration import CompositionEnumeration, DisorderEnumeration

__all__ = [
    "CompositionEnumerationDoc",
    "ConfigurationDoc",
    "DisorderEnumerationDoc",
    "DisorderEnumerationInput",
    "SublatticeSymmetryDoc",
]


class ConfigurationDoc(BaseModel):
    """One symmetry-inequivalent configuration."""

    substituted_sites: list[int] = Field(
        ..., description="Canonical sorted sublattice indices (0..N-1) holding species[1]."
    )
    multiplicity: int = Field(
        ..., description="Number of distinct configurations equivalent to it (dimensionless)."
    )


class CompositionEnumerationDoc(BaseModel):
    """Inequivalent configurations with n of the N sublattice sites substituted."""

    n_substituted: int = Field(..., description="Number n of sublattice sites holding species[1].")
    x: float = Field(..., description="Fraction (N - n) / N of species[0] on the sublattice.")
    total: int = Field(..., description="C(N, n): configurations before symmetry reduction.")
    n_inequivalent: int = Field(
        ..., description="Exact number of symmetry-inequivalent configurations (Burnside/Pólya)."
    )
    sampled: bool = Field(
        ..., description="True if `configurations` is a random sample, False if it is complete."
    )
    seed: int | None = Field(
        None, description="Seed of the sample (numpy default_rng([seed, n])); None when listed."
    )
    configurations: list[ConfigurationDoc] = Field(
        default_factory=list, description="The listed or sampled configurations."
    )

    @classmethod
    def from_enumeration(cls, result: CompositionEnumeration) -> CompositionEnumerationDoc:
        """Build from :class:`thermogap.disorder.CompositionEnumeration`."""
        return cls(
            n_substituted=result.n_substituted,
            x=(result.n_sites - result.n_substituted) / result.n_sites,
            total=result.total,
            n_inequivalent=result.n_inequivalent,
            sampled=result.sampled,
            seed=result.seed,
            configurations=[
                ConfigurationDoc(
                    substituted_sites=list(c.substituted_sites), multiplicity=c.multiplicity
                )
                for c in result.configurations
            ],
        )


class DisorderEnumerationInput(BaseModel):
    """What was enumerated, and with which settings."""

    formula: str = Field(..., description="Reduced formula of the parent cell.")
    site: str = Field(..., description="Parent species whose sites form the mixed sublattice.")
    species: tuple[str, str] = Field(
        ..., description="(first, second); substituted sites hold `second`."
    )
    supercell_matrix: list[list[int]] = Field(
        ..., description="Repetition of the parent cell, shape=(3, 3)."
    )
    max_listed: int = Field(..., description="Classes are listed when there are at most this many.")
    n_samples: int = Field(..., description="Classes sampled otherwise.")
    seed: int = Field(..., description="Base seed of the random samples.")
    symprec: float = Field(..., description="spglib distance tolerance, Å.")


class SublatticeSymmetryDoc(BaseModel):
    """The supercell's symmetry as it acts on the mixed sublattice."""

    space_group_symbol: str = Field(..., description="Hermann-Mauguin symbol of the supercell.")
    space_group_number: int = Field(..., description="International space-group number.")
    n_operations: int = Field(
        ..., description="Space-group operations of the supercell, translations included."
    )
    group_order: int = Field(
        ..., description="Order of the permutation group induced on the sublattice."
    )
    n_sites: int = Field(..., description="Number N of sublattice sites.")
    sublattice: list[int] = Field(
        ..., description="Supercell site index of each sublattice index, shape=(N,)."
    )


class DisorderEnumerationDoc(ThermogapDocument):
    """Exact counts and representative configurations of a binary sublattice solid solution."""

    input: DisorderEnumerationInput = Field(..., description="Parent, sublattice and settings.")
    symmetry: SublatticeSymmetryDoc = Field(..., description="Symmetry acting on the sublattice.")
    supercell: dict[str, Any] = Field(
        ..., description="Parent supercell (pymatgen Structure.as_dict()), lengths in Å."
    )
    compositions: list[CompositionEnumerationDoc] = Field(
        ..., description="One entry per number of substituted sites, increasing."
    )
    provenance: Provenance = Field(default_factory=make_provenance, description="Provenance.")

    @field_validator("supercell", mode="before")
    @classmethod
    def _structure_as_dict(cls, value: Any) -> Any:
        # MontyDecoder turns a stored Structure dict back into a Structure before validation
        return value.as_dict() if isinstance(value, Structure) else value

    @classmethod
    def from_enumeration(
        cls,
        result: DisorderEnumeration,
        *,
        formula: str | None = None,
        **provenance: Any,
    ) -> DisorderEnumerationDoc:
        """Build from :class:`thermogap.disorder.DisorderEnumeration`.

        ``formula`` defaults to the reduced formula of the parent supercell; ``provenance``
        keywords go to :func:`~thermogap.schemas.base.make_provenance`.
        """
        symmetry = result.symmetry
        return cls(
            input=DisorderEnumerationInput(
                formula=formula or result.supercell.composition.reduced_formula,
                site=result.site,
                species=result.species,
                supercell_matrix=[list(row) for row in result.supercell_matrix],
                max_listed=result.max_listed,
                n_samples=result.n_samples,
                seed=result.seed,
                symprec=result.symprec,
            ),
            symmetry=SublatticeSymmetryDoc(
                space_group_symbol=symmetry.space_group_symbol,
                space_group_number=symmetry.space_group_number,
                n_operations=symmetry.n_operations,
                group_order=symmetry.group_order,
                n_sites=symmetry.n_sites,
                sublattice=list(symmetry.sublattice),
            ),
            supercell=result.supercell.as_dict(),
            compositions=[
                CompositionEnumerationDoc.from_enumeration(c) for c in result.compositions
            ],
            provenance=make_provenance(**provenance),
        )
