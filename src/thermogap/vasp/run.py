"""Run one VASP static calculation through atomate2 and custodian and parse it into a label."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thermogap.schemas.labels import LabelDoc
from thermogap.vasp.custodian import run_vasp_kwargs
from thermogap.vasp.parse import label_doc_from_task_doc
from thermogap.vasp.sets import static_set_generator

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from thermogap.levels.model import LevelOfTheory

__all__ = ["vasp_static_label"]

logger = logging.getLogger(__name__)


def vasp_static_label(
    structure: Structure,
    config_id: str,
    level: LevelOfTheory,
    directory: str | Path,
    potcar_spec: bool = False,
) -> LabelDoc:
    """Label one structure with a VASP static run (atomate2 input set, custodian).

    Parameters
    ----------
    structure
        The configuration.
    config_id
        Its id.
    level
        A level with ``engine == "vasp"``.
    directory
        Run directory (created).
    potcar_spec
        Write ``POTCAR.spec`` instead of a POTCAR (no POTCAR library needed; VASP cannot run).

    Returns
    -------
    LabelDoc
        ``status="failed"`` with the reason if custodian gave up, VASP did not converge or
        the outputs cannot be parsed; never raises for a failed calculation.
    """
    # Looked up at call time so atomate2's test fixtures can replace run_vasp.
    import atomate2.vasp.run as atomate2_run
    from atomate2.vasp.files import write_vasp_input_set
    from atomate2.vasp.jobs.base import get_vasp_task_document
    from emmet.core.tasks import TaskDoc

    settings = level.vasp
    if settings is None:
        from thermogap.errors import ConfigError

        raise ConfigError(f"level {level.name!r} has engine {level.engine!r}, not 'vasp'")
    structure_dict = structure.as_dict()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    engine_info: dict[str, Any] = {"engine": "vasp", "dir_name": str(directory.resolve())}
    with contextlib.chdir(directory):
        write_vasp_input_set(structure, static_set_generator(settings), potcar_spec=potcar_spec)
        try:
            atomate2_run.run_vasp(**run_vasp_kwargs(settings.custodian))
        except Exception as exc:  # custodian raises many types when it gives up
            logger.warning("VASP run for %s failed: %s", config_id, exc)
            return LabelDoc.failed(
                config_id,
                level.name,
                structure_dict,
                f"custodian/VASP failed: {type(exc).__name__}: {exc}",
                engine_info=engine_info,
            )
        try:
            task_doc = get_vasp_task_document(Path.cwd())
        except Exception as exc:  # unreadable or truncated outputs
            return LabelDoc.failed(
                config_id,
                level.name,
                structure_dict,
                f"cannot parse VASP outputs: {type(exc).__name__}: {exc}",
                engine_info=engine_info,
            )
    if not isinstance(task_doc, TaskDoc):  # pragma: no cover - NEB documents only
        raise TypeError(f"expected a TaskDoc, got {type(task_doc).__name__}")
    task_doc.task_label = f"{level.name} static"
    return label_doc_from_task_doc(task_doc, config_id, level.name, structure_dict)
