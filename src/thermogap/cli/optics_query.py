"""Body of ``thermogap query optics``: optics job outputs from the job store's ``outputs``."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import click

from thermogap.cli.common import echo_json, open_db
from thermogap.errors import InputError

_TOLERANCE = 1e-6


def _outputs(db: Any, criteria: dict[str, Any], load: bool) -> list[dict[str, Any]]:
    store = db.jobstore()
    found = store.query(criteria, properties=["uuid", "name", "output"], load=load)
    return [doc for doc in found if doc.get("output")]


def optics_command(
    store: str | None,
    formula: str | None,
    temperature: float | None,
    figures_dir: str | None,
    as_json: bool,
) -> None:
    """Print optics results; see ``thermogap query optics --help``."""
    if temperature is not None and temperature < 0:
        raise InputError(f"{temperature=} K is negative; temperatures must be >= 0 K")
    kind = "optics_result" if temperature is None else "optics_spectrum"
    criteria: dict[str, Any] = {"output.document_kind": kind}
    if formula is not None:
        criteria["output.formula"] = formula
    if temperature is not None:
        criteria["output.temperature_k"] = {
            "$gte": temperature - _TOLERANCE,
            "$lte": temperature + _TOLERANCE,
        }
    db = open_db(store)
    docs = _outputs(db, criteria, load=figures_dir is not None)
    db.close()
    if figures_dir is not None:
        _write_figures(docs, Path(figures_dir), quiet=as_json)
    if as_json:
        for doc in docs:  # figures and arrays are large: JSON gets the summary only
            doc["output"].pop("figures_png_base64", None)
            doc["output"].pop("arrays", None)
        echo_json(docs)
        return
    if not docs:
        click.echo("no optics results stored yet")
    for doc in docs:
        click.echo(
            _line(doc["output"]) if kind == "optics_result" else _spectrum_line(doc["output"])
        )


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _e4(value: float | None) -> str:
    return _fmt(value * 1e4 if value is not None else None, 2)


def _line(out: dict[str, Any]) -> str:
    pairs = zip(out.get("temperatures_k", []), out.get("tauc_gap_ev", []), strict=False)
    gaps = ", ".join(f"{t:g} K: {_fmt(g)}" for t, g in pairs)
    slope = out.get("slope_ev_per_k")
    exp = out.get("experiment_slope_ev_per_k")
    mesh = out.get("band_gap_slope_ev_per_k")
    window = out.get("slope_range_k") or (float("nan"), float("nan"))
    return (
        f"{out.get('formula', '?')} ({out.get('n_atoms', '?')} atoms, "
        f"{out.get('sampling_method', '?')}) Tauc Eg [eV] {gaps}; dEg/dT "
        f"({window[0]:g}-{window[1]:g} K) Tauc {_e4(slope)}, mesh gap {_e4(mesh)}, "
        f"exp. {_e4(exp)} (1e-4 eV/K)"
    )


def _spectrum_line(out: dict[str, Any]) -> str:
    tauc = out.get("tauc", {})
    return (
        f"{out.get('formula', '?')} T={out.get('temperature_k', float('nan')):g} K "
        f"({out.get('sampling_method', '?')}, {out.get('n_snapshots', '?')} snapshots) "
        f"Tauc Eg={_fmt(tauc.get('gap_ev'))} ± {_fmt(tauc.get('gap_stderr_ev'))} eV, "
        f"mesh gap {_fmt(out.get('band_gap_ev'))} eV"
    )


def _write_figures(docs: list[dict[str, Any]], folder: Path, quiet: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for doc in docs:
        for name, encoded in (doc["output"].get("figures_png_base64") or {}).items():
            path = folder / f"optics-{doc['uuid'][:8]}-{name}.png"
            path.write_bytes(base64.b64decode(encoded))
            if not quiet:
                click.echo(f"wrote {path}")
