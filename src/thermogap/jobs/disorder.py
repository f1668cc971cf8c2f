"""jobflow Maker enumerating the chemical-disorder configurations of a solid solution."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from jobflow import Maker
from pymatgen.core import Structure

from thermogap.disorder.enumeration import enumerate_disorder
from thermogap.execution import tg_job
from thermogap.schemas.disorder import DisorderEnumerationDoc

__all__ = ["EnumerateConfigurationsMaker"]


@dataclass
class EnumerateConfigurationsMaker(Maker):
    """Exact counts and the listed or sampled inequivalent configurations, for every x.

    For each number n of substituted sublattice sites the job counts the inequivalent
    configurations exactly; when there are at most ``max_listed`` it lists them all with
    their multiplicities, otherwise it samples ``n_samples`` distinct ones (seeded).

    Parameters
    ----------
    name : str
        Job name.
    site : str
        Parent species whose sites are mixed, e.g. ``"Br"``.
    species : tuple of str
        ``(first, second)``; configurations list the sites of ``second``, and
        x = (N - n) / N is the fraction of ``first``.
    supercell : list of int
        Repetition of the parent cell (three integers).
    max_listed : int
        List every class when there are at most this many (paper: about 100).
    n_samples : int
        Otherwise sample this many distinct classes (paper: about 100).
    seed : int
        Seed of the samples.
    symprec : float
        spglib distance tolerance, Å.

    Examples
    --------
    >>> from thermogap.structures import load_structure
    >>> maker = EnumerateConfigurationsMaker(site="Br", species=("Br", "I"))
    >>> job = maker.make(load_structure("Ag3SBr"))

    """

    name: str = "enumerate configurations"
    site: str = "Br"
    species: tuple[str, str] = ("Br", "I")
    supercell: list[int] = field(default_factory=lambda: [2, 2, 2])
    max_listed: int = 100
    n_samples: int = 100
    seed: int = 0
    symprec: float = 1e-3

    @tg_job
    def make(
        self, parent: Structure, n_substituted: Sequence[int] | None = None
    ) -> DisorderEnumerationDoc:
        """Enumerate the configurations of ``parent`` repeated by ``supercell``.

        Parameters
        ----------
        parent : Structure
            Ordered parent cell (e.g. cubic Ag3SBr).
        n_substituted : sequence of int, optional
            Numbers of substituted sites to enumerate; default every n from 0 to N.

        Returns
        -------
        DisorderEnumerationDoc

        """
        result = enumerate_disorder(
            parent,
            site=self.site,
            species=(self.species[0], self.species[1]),
            supercell=self.supercell,
            n_substituted=n_substituted,
            max_listed=self.max_listed,
            n_samples=self.n_samples,
            seed=self.seed,
            symprec=self.symprec,
        )
        return DisorderEnumerationDoc.from_enumeration(result)
