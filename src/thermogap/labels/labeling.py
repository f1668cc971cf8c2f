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
from thermogap.structures.identity import as_structure

if TYPE_CHECKING:
    from thermogap.levels.model import LevelOfTheory
    from thermogap.store import ResultsDB

__all__ = [
    "LABELS",
    "CONFIGURATIONS",
    "configurations_to_label",
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
        config_id, structure = str(config["config_id"]), config["structure"]
    except KeyError as exc:
        raise InputError(
            f"configuration document lacks {exc.args[0]!r}; needs 'config_id' and 'structure'"
        ) from None
    if hasattr(structure, "as_dict"):  # jobflow decodes a structure dict into a Structure
        structure = structure.as_dict()
    return config_id, dict(structure)


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
    from pymatgen.io.ase import AseAtomsAdaptor

    from thermogap.engines.embedded import embedded_label

    if level.embedded is None:
        raise ConfigError(f"level {level.name!r} has engine {level.engine!r}, not 'embedded'")
    config_id, structure_dict = _config_structure(config)
    atoms = AseAtomsAdaptor.get_atoms(as_structure(structure_dict))
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
            config_id,
            level.name,
            structure_dict,
            str(exc),
            engine_info=engine_info,
            scheme=config.get("scheme"),
        )
    engine_info["wall_time_s"] = round(time.perf_counter() - start, 4)
    n_atoms = len(atoms)
    return LabelDoc(
        label_id=label_id(config_id, level.name),
        config_id=config_id,
        level=level.name,
        scheme=config.get("scheme"),
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

    from thermogap.vasp.run import vasp_static_label

    config_id, structure_dict = _config_structure(config)
    run_dir = Path(work_dir) / level.name / config_id.replace("/", "_").replace(":", "_")
    doc = vasp_static_label(as_structure(structure_dict), config_id, level, run_dir)
    doc.scheme = config.get("scheme")
    return doc


def configurations_to_label(
    configurations: Iterable[Mapping[str, Any] | Any], limit: int = 0
) -> list[dict[str, Any]]:
    """Reduce configuration documents to the inputs of labelling jobs, one per id.

    Each configuration document (a ``ConfigurationDoc``, its dict, or any mapping with
    ``config_id`` and ``structure``) is reduced to ``config_id``, ``structure``
    (``Structure.as_dict()``) and ``scheme`` (plus ``previous_failure`` when present), so
    that a batch job's inputs, and with them its reuse key, depend only on what is labelled.
    Duplicated ids are kept once; the list is sorted by ``config_id``, then cut to the first
    ``limit`` (0 = all).

    Raises
    ------
    InputError
        For a document without ``config_id`` or ``structure``, or a negative ``limit``.
    """
    if limit < 0:
        raise InputError(f"{limit=} must be >= 0 (0 = no limit)")
    chosen: dict[str, dict[str, Any]] = {}
    for config in configurations:
        if hasattr(config, "model_dump"):
            config = {k: getattr(config, k) for k in ("config_id", "structure", "scheme")}
        config_id, structure = _config_structure(config)
        if config_id in chosen:
            continue
        entry = {"config_id": config_id, "structure": structure, "scheme": config.get("scheme")}
        if config.get("previous_failure") is not None:
            entry["previous_failure"] = config["previous_failure"]
        chosen[config_id] = entry
    selected = [chosen[k] for k in sorted(chosen)]
    return selected[:limit] if limit else selected


def labelled_config_ids(
    db: ResultsDB, level: str, config_ids: Iterable[str] | None = None
) -> set[str]:
    """Return the configuration ids already labelled (``status == "ok"``) at ``level``.

    Reads the built ``labels`` collection of ``db``: for flow builders at submission (and
    other readers outside jobs), never inside a job.
    """
    criteria: dict[str, Any] = {"level": level, "status": "ok"}
    if config_ids is not None:
        criteria["config_id"] = {"$in": list(config_ids)}
    return {d["config_id"] for d in db.query(LABELS, criteria, properties=["config_id"])}


def select_unlabelled(
    db: ResultsDB, level: str, criteria: dict[str, Any] | None = None, limit: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Select configurations of ``db`` matching ``criteria`` without an ``ok`` label.

    Used when a labelling flow is built from the results database (the ``labeling`` preset):
    the selection happens at submission, the jobs get the configurations themselves. With
    ``limit``, only the first ``limit`` matching configurations (sorted by id) are
    considered, so a re-run with the same limit labels nothing new. Configurations whose
    stored label failed are selected again and carry ``previous_failure`` (the failure's
    time and reason), so their batch is a new job rather than the reused failed one.

    Returns
    -------
    tuple
        ``(configurations, n_already_labelled)``: the inputs of
        :func:`configurations_to_label` form, sorted by ``config_id``, and how many of the
        selected configurations already have an ``ok`` label.
    """
    ids = sorted(
        d["config_id"] for d in db.query(CONFIGURATIONS, criteria or {}, properties=["config_id"])
    )
    if limit:
        ids = ids[:limit]
    done = labelled_config_ids(db, level, ids)
    todo = [c for c in ids if c not in done]
    failures = {
        d["config_id"]: f"{(d.get('provenance') or {}).get('created_at')}: {d.get('reason')}"
        for d in db.query(
            LABELS,
            {"level": level, "status": "failed", "config_id": {"$in": todo}},
            properties=["config_id", "reason", "provenance"],
        )
    }
    docs = db.query(
        CONFIGURATIONS,
        {"config_id": {"$in": todo}},
        properties=["config_id", "structure", "scheme"],
    )
    for doc in docs:
        if doc["config_id"] in failures:
            doc["previous_failure"] = failures[doc["config_id"]]
    return configurations_to_label(docs), len(done)


def label_batch(
    configurations: Iterable[Mapping[str, Any]],
    level: LevelOfTheory,
    work_dir: str | Path = ".",
    labeller: Callable[
        [Mapping[str, Any], LevelOfTheory, str | Path], LabelDoc
    ] = label_configuration,
) -> LabelBatchDoc:
    """Label configurations and return every label document (ok or failed) in a batch.

    Nothing is read from or written to a database: the ``labels`` collection is built from
    the returned documents.

    Parameters
    ----------
    configurations
        Configuration documents (``config_id``, ``structure``, optionally ``scheme``).
    level
        Level of theory.
    work_dir
        Parent of VASP run directories.
    labeller
        Function labelling one configuration (default :func:`label_configuration`).

    Returns
    -------
    LabelBatchDoc
        ``labels`` holds one :class:`LabelDoc` per configuration, ``scheme`` copied from it.
    """
    start = time.perf_counter()
    configs = list(configurations)
    out = LabelBatchDoc(level=level.name, config_ids=[str(c["config_id"]) for c in configs])
    from tqdm.auto import tqdm

    for config in tqdm(configs, desc=f"labels at {level.name}", unit="config", disable=None):
        doc = labeller(config, level, work_dir)
        if doc.scheme is None:
            doc.scheme = config.get("scheme")
        out.labels.append(doc)
        if doc.status == "ok":
            out.labelled.append(doc.label_id)
        else:
            out.failed[doc.config_id] = doc.reason or "unknown"
    out.wall_time_s = round(time.perf_counter() - start, 3)
    out.provenance = make_provenance(level=level.name)
    return out
