"""``thermogap enumerate``: symmetry-inequivalent configurations of a sublattice solid solution.

Example::

    thermogap enumerate Ag3SBr --site Br --species Br I --supercell 2 2 2 --json
"""

from __future__ import annotations

import inspect
from typing import Any

import click

from thermogap.cli.common import echo_json, json_option
from thermogap.disorder.enumeration import DisorderEnumeration, enumerate_disorder
from thermogap.structures.prototypes import KNOWN_PROTOTYPES, load_structure


def _summary(result: DisorderEnumeration, with_configurations: bool) -> list[dict[str, Any]]:
    rows = []
    n_sites = result.symmetry.n_sites
    for composition in result.compositions:
        row: dict[str, Any] = {
            "n_substituted": composition.n_substituted,
            "x": (n_sites - composition.n_substituted) / n_sites,
            "total": composition.total,
            "n_inequivalent": composition.n_inequivalent,
            "sampled": composition.sampled,
        }
        if composition.sampled:
            row["seed"] = composition.seed
            row["n_sampled"] = len(composition.configurations)
        else:
            row["multiplicities"] = [c.multiplicity for c in composition.configurations]
        if with_configurations:
            row["configurations"] = [
                {"substituted_sites": list(c.substituted_sites), "multiplicity": c.multiplicity}
                for c in composition.configurations
            ]
        rows.append(row)
    return rows


def _print_table(result: DisorderEnumeration, rows: list[dict[str, Any]]) -> None:
    symmetry = result.symmetry
    first, second = result.species
    click.echo(
        f"{result.supercell.composition.reduced_formula} supercell "
        f"{[list(r) for r in result.supercell_matrix]}: {symmetry.n_sites} {result.site} sites, "
        f"space group {symmetry.space_group_symbol} ({symmetry.space_group_number}), "
        f"{symmetry.group_order} distinct permutations of the sublattice"
    )
    click.echo(
        f"{'n(' + second + ')':>8} {'x(' + first + ')':>9} {'C(N,n)':>14} "
        f"{'inequivalent':>14}  configurations"
    )
    for row in rows:
        kept = "sampled " + str(row["n_sampled"]) if row["sampled"] else "all listed"
        click.echo(
            f"{row['n_substituted']:>8} {row['x']:>9.4f} {row['total']:>14} "
            f"{row['n_inequivalent']:>14}  {kept}"
        )


@click.command("enumerate")
@click.argument("structure", metavar="STRUCTURE")
@click.option("--site", required=True, help="Species whose sites are mixed, e.g. Br.")
@click.option(
    "--species",
    nargs=2,
    required=True,
    metavar="FIRST SECOND",
    help="The two species on the sublattice; n counts the sites of SECOND, x is the "
    "fraction of FIRST.",
)
@click.option(
    "--supercell",
    nargs=3,
    type=int,
    default=(2, 2, 2),
    show_default=True,
    metavar="NA NB NC",
    help="Repetition of the parent cell.",
)
@click.option(
    "--max-listed",
    default=100,
    show_default=True,
    type=click.IntRange(min=0),
    help="List every inequivalent configuration when there are at most this many.",
)
@click.option(
    "--n-samples",
    default=100,
    show_default=True,
    type=click.IntRange(min=0),
    help="Otherwise sample this many distinct ones (all are listed if there are no more).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seed of the random samples.",
)
@click.option(
    "--symprec",
    default=1e-3,
    show_default=True,
    type=float,
    help="spglib symmetry tolerance, angstrom.",
)
@click.option(
    "--configurations",
    "with_configurations",
    is_flag=True,
    help="Also print the substituted sublattice indices of each configuration.",
)
@json_option
def command(
    structure: str,
    site: str,
    species: tuple[str, str],
    supercell: tuple[int, int, int],
    max_listed: int,
    n_samples: int,
    seed: int,
    symprec: float,
    with_configurations: bool,
    as_json: bool,
) -> None:
    """Count (exactly) and list or sample the inequivalent configurations of a solid solution.

    STRUCTURE is a CIF/POSCAR file or a known prototype name (listed below). Every number n
    of substituted sites from 0 to N is reported.
    """
    parent = load_structure(structure)
    result = enumerate_disorder(
        parent,
        site=site,
        species=species,
        supercell=supercell,
        max_listed=max_listed,
        n_samples=n_samples,
        seed=seed,
        symprec=symprec,
    )
    rows = _summary(result, with_configurations)
    if as_json:
        echo_json(rows)
    else:
        _print_table(result, rows)


command.help = (
    inspect.cleandoc(command.help or "")
    + "\n\nKnown prototypes: "
    + ", ".join(sorted(KNOWN_PROTOTYPES))
)
