"""``thermogap plots``: every figure of a results database, as PNG and PDF.

Figures that can be redrawn from stored numbers are redrawn (vector PDF): Eg(T), Eg(x) and
ΔEg/Eg(0) of each family, the mode-resolved gap changes of each electron-phonon document and
the dispersion with its DOS of each phonon calculation. Every PNG figure stored by a job
(parity plots, learning curves, finite-temperature dispersions, ...) is written as it was
stored, plus a PDF holding that image.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from thermogap.cli.common import echo_json, json_option, open_existing_db, store_option
from thermogap.errors import InputError
from thermogap.store import collections as names

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_KINDS = frozenset({"png", "plot"})
_SAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


def _safe(name: str) -> str:
    return _SAFE.sub("_", name).strip("_")


def redrawn_figures(db: Any) -> Iterator[tuple[str, Figure]]:
    """Yield ``(name, figure)`` for every figure that stored documents can be redrawn into."""
    from thermogap.phonons.plots import phonon_doc_figure
    from thermogap.results.plots import (
        figure_gap_vs_composition,
        figure_gap_vs_temperature,
        figure_mode_gap_changes,
        figure_relative_change,
    )

    gaps = db.query(names.BAND_GAPS)
    for family in sorted({str(d.get("family")) for d in gaps}):
        docs = [d for d in gaps if str(d.get("family")) == family]
        for name, make in (
            ("gap_vs_temperature", figure_gap_vs_temperature),
            ("gap_vs_composition", figure_gap_vs_composition),
            ("relative_change", figure_relative_change),
        ):
            try:
                yield f"{name}_{family}", make(docs)
            except InputError as exc:
                click.echo(f"thermogap: skipped {name} of {family}: {exc}", err=True)
    for doc in db.query(names.ELECTRON_PHONON):
        label = f"{doc.get('formula')}_{doc.get('temperature_k', 0):g}K"
        yield (
            f"electron_phonon_{label}_{doc.get('electron_phonon_id', '')[:8]}",
            (figure_mode_gap_changes([doc])),
        )
    for doc in db.query(names.PHONONS, properties=["phonon_id", "formula", "model_id", "calculator",
                                               "band_structure", "dos"]):  # fmt: skip
        if doc.get("band_structure") and doc.get("dos"):  # NMD documents store their own PNG
            yield f"phonons_{doc.get('formula')}_{doc['phonon_id'][:8]}", phonon_doc_figure(doc)


def _blob_refs(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(where, ref)`` for every PNG blob reference nested in a document."""
    if isinstance(value, dict):
        if "sha256" in value and "blob_id" in value:
            filename = str(value.get("filename") or "")
            if value.get("kind") in FIGURE_KINDS or filename.lower().endswith(".png"):
                yield path, value
            return
        for key, item in value.items():
            yield from _blob_refs(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for k, item in enumerate(value):
            yield from _blob_refs(item, f"{path}.{k}")


def stored_figures(db: Any) -> dict[str, dict[str, Any]]:
    """Return ``{name: BlobRef}`` of every PNG referenced by a document, each image once."""
    from thermogap.store import COLLECTIONS

    found: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for collection in (*COLLECTIONS, db.config.outputs_collection):
        if collection in {names.LABELS, names.CONFIGURATIONS, names.STRUCTURES, names.TRAJECTORIES}:
            continue  # these hold no figures and are the largest collections
        for doc in db.query(collection):
            for where, ref in _blob_refs(doc, ""):
                if ref["sha256"] in seen:
                    continue
                seen.add(ref["sha256"])
                stem = Path(str(ref.get("filename") or where)).stem
                found[_safe(f"{collection}_{stem}_{ref['sha256'][:8]}")] = ref
    return found


def _png_as_pdf(png: bytes, path: Path) -> None:
    """Write a PDF page that holds the PNG image at its own size (72 dpi page units)."""
    import io

    from matplotlib.figure import Figure
    from matplotlib.image import imread

    image = imread(io.BytesIO(png), format="png")
    height, width = image.shape[:2]
    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.imshow(image, interpolation="nearest")
    ax.set_axis_off()
    fig.savefig(path, format="pdf", dpi=100)


def write_all_figures(db: Any, out_dir: Path, dpi: int = 150) -> list[Path]:
    """Write every figure of ``db`` into ``out_dir`` as ``NAME.png`` and ``NAME.pdf``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in redrawn_figures(db):
        for fmt in ("png", "pdf"):
            path = out_dir / f"{_safe(name)}.{fmt}"
            fig.savefig(path, format=fmt, dpi=dpi)
            written.append(path)
    for name, ref in stored_figures(db).items():
        png = db.blobs.get_bytes(ref)  # SHA-256 verified
        path = out_dir / f"{name}.png"
        path.write_bytes(png)
        _png_as_pdf(png, out_dir / f"{name}.pdf")
        written += [path, out_dir / f"{name}.pdf"]
    return written


@click.command("plots")
@store_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("thermogap-plots"), show_default=True,
              help="Directory of the figures.")  # fmt: skip
@json_option
def command(store: str | None, out_dir: Path, as_json: bool) -> None:
    """Write every stored figure, PNG and PDF (redrawn from the data where possible)."""
    with open_existing_db(store) as db:
        written = write_all_figures(db, out_dir)
    if as_json:
        echo_json({"files": [str(p) for p in written]})
        return
    if not written:
        click.echo("no figures: the store holds no results to plot yet")
    n_figures = len(written) // 2
    click.echo(f"wrote {n_figures} figures (PNG and PDF) to {out_dir}")
