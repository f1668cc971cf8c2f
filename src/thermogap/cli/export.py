"""``thermogap export``: results out of the database as files other tools read.

* ``band-gaps --csv FILE | --parquet FILE``: the table of :func:`thermogap.results.band_gaps_frame`;
* ``phonons ID``: ``phonopy.yaml`` (structure, supercell, force constants) and ``band.yaml``;
* ``trajectory ID --format extxyz|traj``: every stored frame for ASE, OVITO, VMD, ...;
* ``model ID``: the model file as trained (MACE ``.model``, GNN bundle ``.pt``) and its document.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import click

from thermogap.cli.common import echo_json, json_option, open_existing_db, store_option
from thermogap.errors import InputError, StoreError, UnknownEntryError
from thermogap.store import collections as names

out_option = click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory to write the files into.",
)


@click.group("export")
def command() -> None:
    """Export results as CSV/Parquet, phonopy YAML, trajectories and model files."""


def _done(files: list[Path], as_json: bool) -> None:
    if as_json:
        echo_json({"files": [str(f) for f in files]})
    else:
        for path in files:
            click.echo(f"wrote {path}")


@command.command("band-gaps")
@store_option
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a CSV file.")  # fmt: skip
@click.option("--parquet", "parquet_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write a Parquet file.")  # fmt: skip
@click.option("--level", default=None, help="Only gaps at this level of theory.")
@json_option
def band_gaps(
    store: str | None,
    csv_path: Path | None,
    parquet_path: Path | None,
    level: str | None,
    as_json: bool,
) -> None:
    """Write the band gaps Eg(x, T) as a table with units in the column names."""
    if csv_path is None and parquet_path is None:
        raise InputError("give --csv FILE and/or --parquet FILE")
    from thermogap.results import band_gaps_frame

    with open_existing_db(store) as db:
        frame = band_gaps_frame(db, {"level": level} if level else None)
    if frame.empty:
        raise StoreError("no band gaps stored" + (f" at level {level!r}" if level else ""))
    files = []
    if csv_path is not None:
        frame.to_csv(csv_path, index=False)
        files.append(csv_path)
    if parquet_path is not None:
        frame.to_parquet(parquet_path, index=False)
        files.append(parquet_path)
    _done(files, as_json)


@command.command("phonons")
@click.argument("phonon_id")
@store_option
@out_option
@json_option
def phonons(phonon_id: str, store: str | None, out_dir: Path, as_json: bool) -> None:
    """Write a phonon calculation as phonopy.yaml (with force constants) and band.yaml."""
    from thermogap.phonons.analysis import band_structure
    from thermogap.phonons.storage import load_phonon_doc, phonopy_from_doc

    with open_existing_db(store) as db:
        doc = load_phonon_doc(db, phonon_id)
        phonon = phonopy_from_doc(doc, db.blobs)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = doc.get("settings") or {}
    params = out_dir / f"phonopy_{phonon_id}.yaml"
    bands = out_dir / f"band_{phonon_id}.yaml"
    phonon.save(params, settings={"force_constants": True})
    band_structure(
        phonon,
        npoints=int(settings.get("band_npoints", 31)),
        path_type=settings.get("band_path_type", "setyawan_curtarolo"),
    )
    with contextlib.redirect_stdout(io.StringIO()):
        phonon.write_yaml_band_structure(filename=str(bands))
    _done([params, bands], as_json)


@command.command("trajectory")
@click.argument("trajectory_id")
@store_option
@click.option("--format", "fmt", type=click.Choice(["extxyz", "traj"]), default="extxyz",
              show_default=True, help="extxyz (text) or ASE .traj (binary).")  # fmt: skip
@out_option
@json_option
def trajectory(trajectory_id: str, store: str | None, fmt: str, out_dir: Path,
               as_json: bool) -> None:  # fmt: skip
    """Write every stored frame of an MD trajectory, with energies, stress and velocities."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    from thermogap.md.langevin import load_trajectory

    with open_existing_db(store) as db:
        loaded = load_trajectory(db, trajectory_id)
    arrays = loaded.arrays
    frames = []
    for k in range(len(arrays["steps"])):
        atoms = loaded.atoms(k)
        atoms.calc = SinglePointCalculator(
            atoms,
            energy=float(arrays["potential_energy_ev"][k]),
            stress=arrays["stress_ev_per_ang3"][k],
        )
        atoms.info.update(
            step=int(arrays["steps"][k]),
            time_fs=float(arrays["steps"][k] * loaded.doc.timestep_fs),
            kinetic_energy_ev=float(arrays["kinetic_energy_ev"][k]),
            temperature_k=float(loaded.doc.temperature_k),
        )
        frames.append(atoms)
    if not frames:
        raise StoreError(f"trajectory {trajectory_id!r} has no stored frames yet")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{trajectory_id}.{'xyz' if fmt == 'extxyz' else 'traj'}"
    write(path, frames, format=fmt)
    _done([path], as_json)


@command.command("model")
@click.argument("model_id")
@store_option
@out_option
@json_option
def model(model_id: str, store: str | None, out_dir: Path, as_json: bool) -> None:
    """Write a trained model file (SHA-256 checked) and its document as JSON beside it."""
    with open_existing_db(store) as db:
        doc = db.query_one(names.MODELS, {"model_id": model_id})
        if doc is None:
            listed = db.query(names.MODELS, properties=["model_id"], limit=20)
            known = [d["model_id"] for d in listed]
            raise UnknownEntryError(
                f"no model with {model_id=} in 'models'; known: {', '.join(known) or '(none)'}"
            )
        ref: dict[str, Any] | None = doc.get("model_blob") or doc.get("blob")
        if ref is None:
            raise StoreError(f"model {model_id!r} has no stored file (no model_blob/blob)")
        data = db.blobs.get_bytes(ref)  # verifies the blob's own SHA-256
    if doc.get("sha256") and doc["sha256"] != ref["sha256"]:
        raise StoreError(f"model {model_id!r}: document sha256 differs from its file's")
    suffix = ".pt" if doc.get("kind") == "gnn" else ".model"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{model_id}{suffix}"
    path.write_bytes(data)
    meta = out_dir / f"{model_id}.json"
    meta.write_text(json.dumps(doc, indent=2, default=str))
    _done([path, meta], as_json)
