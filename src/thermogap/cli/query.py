"""``thermogap query``: read results back from the database as JSON or a table."""

from __future__ import annotations

import json
from typing import Any

import click

from thermogap.cli.common import echo_json, json_option, open_existing_db, store_option
from thermogap.errors import InputError
from thermogap.store import COLLECTIONS
from thermogap.store import collections as names

_TOLERANCE = 1e-6  # compositions and temperatures are floats: match within this


def _near(value: float) -> dict[str, float]:
    return {"$gte": value - _TOLERANCE, "$lte": value + _TOLERANCE}


@click.group("query")
def command() -> None:
    """Query results (band gaps, phonons, any collection)."""


@command.command("band-gaps")
@store_option
@click.option(
    "--x", "x", type=float, default=None, help="Composition x (fraction of first species)."
)
@click.option("--temperature", type=float, default=None, help="Temperature in K.")
@click.option("--formula", default=None, help="Reduced formula of the end member or family.")
@click.option("--level", default=None, help="Level of theory of the gaps.")
@json_option
def band_gaps(
    store: str | None,
    x: float | None,
    temperature: float | None,
    formula: str | None,
    level: str | None,
    as_json: bool,
) -> None:
    """Band gaps Eg(x, T), one document per (family, x, T, level, selection)."""
    if temperature is not None and temperature < 0:
        raise InputError(f"{temperature=} K is negative; temperatures must be >= 0 K")
    criteria: dict[str, Any] = {}
    if x is not None:
        criteria["x"] = _near(x)
    if temperature is not None:
        criteria["temperature_k"] = _near(temperature)
    if formula is not None:
        criteria["$or"] = [{"formula": formula}, {"family": formula}]
    if level is not None:
        criteria["level"] = level
    db = open_existing_db(store)
    docs = db.query(names.BAND_GAPS, criteria, sort={"x": 1, "temperature_k": 1})
    db.close()
    if as_json:
        echo_json(docs)
        return
    if not docs:
        click.echo("no band gaps stored yet")
    for d in docs:
        click.echo(
            f"{d.get('formula', '?'):<16} x={d.get('x', float('nan')):.3f} "
            f"T={d.get('temperature_k', float('nan')):6.1f} K  "
            f"Eg={d.get('band_gap_ev', float('nan')):.3f} ± {d.get('stderr_ev', 0.0):.3f} eV"
        )


@command.command("collection")
@click.argument("name", type=click.Choice(COLLECTIONS))
@store_option
@click.option("--filter", "filter_json", default="{}", help="A MongoDB filter as JSON.")
@click.option("--limit", default=20, show_default=True, help="At most this many documents.")
def collection(name: str, store: str | None, filter_json: str, limit: int) -> None:
    """Print documents of any collection as JSON."""
    try:
        criteria = json.loads(filter_json)
    except json.JSONDecodeError:
        raise InputError(f"--filter {filter_json!r} is not valid JSON") from None
    db = open_existing_db(store)
    echo_json(db.query(name, criteria, limit=limit))
    db.close()


@command.command("optics")
@store_option
@click.option("--formula", default=None, help="Reduced formula, e.g. Si.")
@click.option("--temperature", type=float, default=None, help="Spectra at this temperature, K.")
@click.option(
    "--figures",
    "figures_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the PNG figures of the optics results into this directory.",
)
@json_option
def optics(
    store: str | None,
    formula: str | None,
    temperature: float | None,
    figures_dir: str | None,
    as_json: bool,
) -> None:
    """Optics results: Tauc Eg(T) per flow, or the spectra at one --temperature."""
    from thermogap.cli.optics_query import optics_command

    optics_command(store, formula, temperature, figures_dir, as_json)


_TDPH_SUMMARY_FIELDS = [
    "compound_id",
    "formula",
    "spacegroup_number",
    "temperature_k",
    "status",
    "failure_reason",
    "r_full",
    "r_onsite",
    "r_onsite_max",
    "frequency_shift_norm",
    "r_onsite_max_baseline",
    "stable_harmonic",
    "stable_renormalised",
    "min_frequency_harmonic_thz",
    "min_frequency_renormalised_thz",
    "calculator",
]


@command.command("tdph")
@store_option
@click.option("--min-r-onsite", type=float, default=None, help="Largest site R_onsite >= this.")
@click.option("--max-r-onsite", type=float, default=None, help="Largest site R_onsite <= this.")
@click.option("--temperature", type=float, default=None, help="Temperature in K.")
@click.option("--formula", default=None, help="Reduced formula.")
@click.option("--spacegroup", type=int, default=None, help="Space-group number.")
@click.option("--failed", is_flag=True, help="List failed compounds (with reasons) instead.")
@click.option("--plots", "plots_dir", default=None, help="Write dispersion and trend PNGs here.")
@click.option(
    "--forest",
    "forest_dir",
    default=None,
    help="Fit the paper's random forests on the matching results; write parity plots here.",
)
@json_option
def tdph(
    store: str | None,
    min_r_onsite: float | None,
    max_r_onsite: float | None,
    temperature: float | None,
    formula: str | None,
    spacegroup: int | None,
    failed: bool,
    plots_dir: str | None,
    forest_dir: str | None,
    as_json: bool,
) -> None:
    """Temperature-dependent phonons: R_full, R_onsite, frequency-shift norm per (compound, T)."""
    from thermogap.tdph.results import tdph_criteria, unique_results

    criteria = tdph_criteria(
        min_r_onsite=min_r_onsite,
        max_r_onsite=max_r_onsite,
        temperature_k=temperature,
        formula=formula,
        spacegroup_number=spacegroup,
        failed=failed,
    )
    fields = [*_TDPH_SUMMARY_FIELDS, "structure_id", "settings"]
    fields += list(_TDPH_BAND_FIELDS) if plots_dir else []
    fields += ["structure"] if forest_dir else []
    db = open_existing_db(store)
    found = db.jobstore().query(
        criteria,
        properties=["completed_at"] + [f"output.{f}" for f in fields],
        sort={"output.r_onsite_max": -1},
    )
    docs = [d["output"] for d in unique_results(list(found))]
    db.close()
    ok = [d for d in docs if d.get("status") == "ok"]
    if plots_dir:
        _tdph_plots(ok, plots_dir)
    if forest_dir:
        from thermogap.tdph.forest import forest_report

        for kind, info in forest_report(ok, forest_dir).items():
            click.echo(f"{kind} forest: {info}", err=True)
    for d in docs:
        for key in (*_TDPH_BAND_FIELDS, "structure"):
            d.pop(key, None)
    if as_json:
        echo_json(docs)
    else:
        _echo_tdph_table(docs)


_TDPH_BAND_FIELDS = (
    "band_labels",
    "band_distances",
    "band_segment_ends",
    "bands_harmonic_thz",
    "bands_renormalised_thz",
)


def _tdph_plots(docs: list[dict[str, Any]], plots_dir: str) -> None:
    from pathlib import Path

    from thermogap.tdph.figures import dispersion_png, trends_png

    out = Path(plots_dir)
    out.mkdir(parents=True, exist_ok=True)
    for d in docs:
        name = f"tdph_{d['compound_id']}_{d['temperature_k']:g}K.png"
        (out / name).write_bytes(dispersion_png(d))
    if docs:
        (out / "tdph_trends.png").write_bytes(trends_png(docs))


def _echo_tdph_table(docs: list[dict[str, Any]]) -> None:
    if not docs:
        click.echo("no tdph results match")
    for d in docs:
        if d.get("status") == "failed":
            click.echo(f"{d.get('compound_id', '?'):<14} FAILED {d.get('failure_reason')}")
            continue
        click.echo(
            f"{d.get('compound_id', '?'):<14} {d.get('formula', ''):<10} "
            f"SG {d.get('spacegroup_number')!s:>3}  T={d.get('temperature_k', 0):6.1f} K  "
            f"R_full={d.get('r_full', float('nan')):.3f}  "
            f"R_onsite(max)={d.get('r_onsite_max', float('nan')):.3f}  "
            f"shift={d.get('frequency_shift_norm', float('nan')):.3f}  "
            f"floor={d.get('r_onsite_max_baseline') or float('nan'):.3f}  "
            f"stable {d.get('stable_harmonic')}->{d.get('stable_renormalised')}"
        )
