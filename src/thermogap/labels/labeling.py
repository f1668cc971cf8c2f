"""Label configurations at a level of theory (plain functions, no jobflow).

A configuration document (``configurations`` collection) has at least ``config_id`` and
``structure`` (``Structure.as_dict()``). Labelling never raises for a failed calculation:
the failure becomes a :class:`~thermogap.schemas.labels.LabelDoc` with ``status="failed"``
and a reason, so one bad configuration does not stop a batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thermogap.errors import CalculationError, ConfigError, InputError
from thermogap.schemas.base import make_provenance
from thermogap.schemas.labels import LabelBatchDoc, LabelDoc, label_id
from thermogap.store import collections as names

if TYPE_CHECKING:
    from thermogap.levels.model import LevelOfTheory
    from thermogap.store import ResultsDB

__all__ = [
    "LABELS",
    "CONFIGURATIONS",
    "embedded_label_doc",
    "label_batch",
    "label_configuration",
    "labelled_config_ids",
    "select_unlabelled",
]

logger = logging.getLogger(__name__)

LABELS = names.LABELS
CONFIGURATIONS = names.CONFIGURATIONS


def _config_structure(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    try:
        return str(config["config_id"]), dict(config["structure"])
    except KeyError as exc:
        raise InputError(
            f"configuration document lacks {exc.args[0]!r}; needs 'config_id' and 'structure'"
        ) from None


def embedded_label_doc(config: Mapping[str, Any], level: LevelOfTheory) -> LabelDoc:
    """Label one configuration with the embedded engine of ``level``.

    Parameters
    ----------
    config
        Configuration document with ``config_id`` and ``structure``.
    level
        An embedded level of theory.

    Returns
    -------
    LabelDoc
        ``status="ok"`` with energy (eV), forces (eV/Å), stress (eV/Å^3, ASE sign), band
        gap and VBM (eV); ``status="failed"`` with the reason on an SCF failure or
        non-finite output.
    """
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    from thermogap.engines.embedded import embedded_label

    if level.embedded is None:
        raise ConfigError(f"level {level.name!r} has engine {level.engine!r}, not 'embedded'")
    config_id, structure_dict = _config_structure(config)
    atoms = AseAtomsAdaptor.get_atoms(Structure.from_dict(structure_dict))
    engine_info: dict[str, Any] = {
        "engine": "embedded",
        "forces_engine": level.embedded.forces_engine,
        "gap_method": level.embedded.gap_method,
        "kpoints": "gamma",
    }
    start = time.perf_counter()
    try:
        result = embedded_label(atoms, level.embedded)
    except CalculationError as exc:
        logger.warning("labelling %s at %s failed: %s", config_id, level.name, exc)
        return LabelDoc.failed(
            config_id, level.name, structure_dict, str(exc), engine_info=engine_info
        )
    engine_info["wall_time_s"] = round(time.perf_counter() - start, 4)
    n_atoms = len(atoms)
    return LabelDoc(
        label_id=label_id(config_id, level.name),
        config_id=config_id,
        level=level.name,
        status="ok",
        structure=structure_dict,
        n_atoms=n_atoms,
        energy_ev=result.energy_ev,
        energy_per_atom_ev=result.energy_ev / n_atoms,
        forces_ev_per_ang=result.forces_ev_per_ang.tolist(),
        stress_ev_per_ang3=result.stress_ev_per_ang3.tolist(),
        band_gap_ev=result.band_edges.band_gap_ev,
        vbm_ev=result.band_edges.vbm_ev,
        engine_info=engine_info,
        provenance=make_provenance(level=level.name),
    )


def label_configuration(
    config: Mapping[str, Any], level: LevelOfTheory, work_dir: str | Path = "."
) -> LabelDoc:
    """Label one configuration at ``level`` (embedded engine or VASP).

    Parameters
    ----------
    config
        Configuration document with ``config_id`` and ``structure``.
    level
        Level of theory.
    work_dir
        Parent of the VASP run directories (``<work_dir>/<level>/<config_id>``); unused by
        embedded levels.
    """
    if level.engine == "embedded":
        return embedded_label_doc(config, level)
    from pymatgen.core import Structure

    from thermogap.vasp.run import vasp_static_label

    config_id, structure_dict = _config_structure(config)
    run_dir = Path(work_dir) / level.name / config_id.replace("/", "_").replace(":", "_")
    return vasp_static_label(Structure.from_dict(structure_dict), config_id, level, run_dir)


def labelled_config_ids(
    db: ResultsDB, level: str, config_ids: Iterable[str] | None = None
) -> set[str]:
    """Return the configuration ids already labelled (``status == "ok"``) at ``level``."""
    criteria: dict[str, Any] = {"level": level, "status": "ok"}
    if config_ids is not None:
        criteria["config_id"] = {"$in": list(config_ids)}
    return {d["config_id"] for d in db.query(LABELS, criteria, properties=["config_id"])}


def select_unlabelled(
    db: ResultsDB, level: str, criteria: dict[str, Any] | None = None, limit: int = 0
) -> tuple[list[str], int]:
    """Find configurations matching ``criteria`` without an ``ok`` label at ``level``.

    With ``limit``, only the first ``limit`` matching configurations (sorted by id) are
    considered, so a re-run with the same limit labels nothing new. Failed labels are
    retried. Returns ``(config_ids, n_already_labelled)``; ids are sorted so the batches of a
    re-run are the same.
    """
    selected = sorted(
        d["config_id"] for d in db.query(CONFIGURATIONS, criteria or {}, properties=["config_id"])
    )
    if limit:
        selected = selected[:limit]
    done = labelled_config_ids(db, level, selected)
    return [c for c in selected if c not in done], len(done)


def label_batch(
    db: ResultsDB,
    config_ids: list[str],
    level: LevelOfTheory,
    work_dir: str | Path = ".",
    labeller: Callable[
        [Mapping[str, Any], LevelOfTheory, str | Path], LabelDoc
    ] = label_configuration,
) -> LabelBatchDoc:
    """Label configurations from ``db`` and store one document per (config_id, level).

    Configurations already labelled at ``level`` are skipped; each label (or failure
    record) is written as soon as it is computed, so an interrupted batch keeps its progress.

    Parameters
    ----------
    db
        Results database (reads ``configurations``, writes ``labels``).
    config_ids
        Configurations to label.
    level
        Level of theory.
    work_dir
        Parent of VASP run directories.
    labeller
        Function labelling one configuration (default :func:`label_configuration`).

    Returns
    -------
    LabelBatchDoc
    """
    start = time.perf_counter()
    done = labelled_config_ids(db, level.name, config_ids)
    todo = [c for c in config_ids if c not in done]
    configs = {
        d["config_id"]: d
        for d in db.query(
            CONFIGURATIONS, {"config_id": {"$in": todo}}, properties=["config_id", "structure"]
        )
    }
    out = LabelBatchDoc(level=level.name, config_ids=list(config_ids), skipped=sorted(done))
    from tqdm.auto import tqdm

    for config_id in tqdm(todo, desc=f"labels at {level.name}", unit="config", disable=None):
        config = configs.get(config_id)
        if config is None:
            out.missing.append(config_id)
            continue
        doc = labeller(config, level, work_dir)
        db.upsert(LABELS, [doc.model_dump(mode="json")], key="label_id")
        if doc.status == "ok":
            out.labelled.append(doc.label_id)
        else:
            out.failed[config_id] = doc.reason or "unknown"
    out.wall_time_s = round(time.perf_counter() - start, 3)
    out.provenance = make_provenance(level=level.name)
    return out
