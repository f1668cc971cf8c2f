"""The labelling flow: label configurations at a level of theory.

The configurations come with the flow: a reference to the dataset flow's output (split into
batch jobs when it resolves) or documents given when the flow is built. The jobs return the
labels; the ``labels`` collection is built from them after the run.

Examples
--------
>>> from thermogap.flows.dataset import dataset_flow
>>> from thermogap.flows.labeling import LabelingFlowMaker
>>> data = dataset_flow(compositions=[1.0], schemes=["random"])
>>> labels = LabelingFlowMaker(batch_size=8).make("chgnet-gfn1-xtb", data.output["configurations"])
>>> # run_flow(Flow([data, labels]), db)  -> labels.output: list of LabelDoc dicts
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobflow import Flow, Maker
from jobflow.core.reference import OutputReference

from thermogap.errors import InputError
from thermogap.jobs.labels import (
    LabelBatchMaker,
    LabelingSelectionMaker,
    LabelingSummaryMaker,
    VaspLabelMaker,
    label_jobs,
)
from thermogap.labels.labeling import configurations_to_label
from thermogap.levels import LevelOfTheory, load_level

__all__ = ["LabelingFlowMaker", "labeling_flow"]

logger = logging.getLogger(__name__)


@dataclass
class LabelingFlowMaker(Maker):
    """Label configurations at one level of theory.

    With a reference (e.g. ``dataset_flow(...).output["configurations"]``) the flow holds one
    dynamic job that, once the reference resolves, replaces itself by batch jobs of
    ``batch_size`` configurations (one atomate2 static job each for VASP levels) and a job
    collecting their labels. With configurations given as documents, those jobs are made
    at once. The flow's ``output`` resolves to the list of every
    :class:`~thermogap.schemas.labels.LabelDoc` (ok and failed) as dicts, each with the
    ``scheme`` of its configuration. A batch job labelling the same configurations at the
    same level again is reused from the job store.

    Parameters
    ----------
    name
        Flow name.
    batch_size
        Configurations per batch job.
    batch_maker
        Maker of batch jobs (its ``work_dir`` holds VASP run directories).
    summary_maker
        Maker of the job collecting the labels.
    vasp_label_maker
        Maker of the jobs deriving a label from a VASP static job.
    """

    name: str = "labeling"
    batch_size: int = 16
    batch_maker: LabelBatchMaker = field(default_factory=LabelBatchMaker)
    summary_maker: LabelingSummaryMaker = field(default_factory=LabelingSummaryMaker)
    vasp_label_maker: VaspLabelMaker = field(default_factory=VaspLabelMaker)

    def make(
        self,
        level: str | Path | LevelOfTheory,
        configurations: OutputReference | Sequence[Any],
        limit: int = 0,
        config_dir: str | Path | None = None,
    ) -> Flow:
        """Build the flow.

        Parameters
        ----------
        level
            Level name, YAML path or :class:`LevelOfTheory`; resolved now, so the jobs carry
            the full settings and do not need the YAML files on the worker.
        configurations
            A reference resolving to the list of configuration documents (the dataset
            flow's ``output["configurations"]``), or a list of configuration documents
            (``ConfigurationDoc`` or dicts with ``config_id``, ``structure``, ``scheme``).
        limit
            Label only the first ``limit`` configurations by ``config_id`` (0 = all).
        config_dir
            Directory of level YAML files searched before the built-ins.
        """
        if self.batch_size < 1:
            raise InputError(f"batch_size={self.batch_size} must be >= 1")
        if limit < 0:
            raise InputError(f"{limit=} must be >= 0 (0 = no limit)")
        if isinstance(configurations, Mapping):
            raise InputError(
                f"configurations={configurations!r} is a mapping; give the configuration "
                "documents (or a reference to them, e.g. dataset_flow(...).output"
                "['configurations']); to label what a query selects in the results database "
                "use labeling_flow(level, criteria, db=db)"
            )
        resolved = load_level(level, config_dir)
        name = f"{self.name} {resolved.name}"
        if _has_reference(configurations):
            selector = LabelingSelectionMaker(
                batch_size=self.batch_size,
                batch_maker=self.batch_maker,
                summary_maker=self.summary_maker,
                vasp_label_maker=self.vasp_label_maker,
            ).make(resolved.model_dump(mode="json"), configurations, limit)
            selector.name = f"{selector.name} {resolved.name}"
            return Flow([selector], output=selector.output, name=name)
        jobs, summary = label_jobs(
            resolved,
            configurations_to_label(configurations, limit),
            self.batch_size,
            self.batch_maker,
            self.summary_maker,
            self.vasp_label_maker,
        )
        return Flow([*jobs, summary], output=summary.output, name=name)


def labeling_flow(
    level: str,
    criteria: dict[str, Any] | None = None,
    limit: int = 0,
    batch_size: int = 16,
    work_dir: str = ".",
    config_dir: str | None = None,
    db: Any = None,
) -> Flow:
    """Build a labelling flow of the configurations in the results database (presets, CLI).

    Settings are validated (the level is loaded, ``batch_size`` and ``limit`` checked)
    before any job is created. The configurations are selected now, from the built
    ``configurations`` collection of ``db``: those matching ``criteria`` without an ``ok``
    label at the level (failed ones are tried again), the first ``limit`` by id; their
    documents become the jobs' inputs, so no job opens the database.

    Parameters
    ----------
    level
        Level name or YAML path.
    criteria
        MongoDB query on the ``configurations`` collection.
    limit
        Consider only the first ``limit`` matching configurations (0 = all); a re-run with
        the same limit labels nothing new.
    batch_size
        Configurations per batch job (>= 1).
    work_dir
        Parent directory of VASP run directories.
    config_dir
        Directory of level YAML files searched before the built-ins.
    db : thermogap.store.ResultsDB, optional
        The results database (the CLI passes it). Without one there is nothing to select:
        the flow labels no configuration.
    """
    if batch_size < 1:
        raise InputError(f"{batch_size=} must be >= 1")
    if limit < 0:
        raise InputError(f"{limit=} must be >= 0 (0 = no limit)")
    resolved = load_level(level, config_dir)
    configurations: list[dict[str, Any]] = []
    if db is None:
        logger.warning("labeling_flow without a results database: no configuration to label")
    else:
        from thermogap.labels.labeling import select_unlabelled

        configurations, n_done = select_unlabelled(db, resolved.name, criteria, limit)
        logger.info(
            "%d configuration(s) to label at %s (%d already labelled)",
            len(configurations),
            resolved.name,
            n_done,
        )
    maker = LabelingFlowMaker(batch_size=batch_size, batch_maker=LabelBatchMaker(work_dir=work_dir))
    return maker.make(resolved, configurations)


def _has_reference(value: Any) -> bool:
    """Whether ``value`` is, or holds, a reference to a job output (resolved at run time)."""
    if isinstance(value, OutputReference):
        return True
    if isinstance(value, list | tuple):
        return any(_has_reference(v) for v in value)
    return False
