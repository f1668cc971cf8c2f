"""The labelling flow: label configurations from the database at a level of theory.

Examples
--------
>>> from thermogap.flows.labeling import LabelingFlowMaker
>>> flow = LabelingFlowMaker(batch_size=8).make("chgnet-gfn1-xtb", criteria={"x": 0.5})
>>> # run_flow(flow, db)  -> labels in db "labels"; a re-run computes only what is missing
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobflow import Flow, Maker

from thermogap.errors import InputError
from thermogap.jobs.labels import LabelBatchMaker, LabelingSelectionMaker, LabelingSummaryMaker
from thermogap.levels import LevelOfTheory, load_level

__all__ = ["LabelingFlowMaker", "labeling_flow"]


@dataclass
class LabelingFlowMaker(Maker):
    """Label every configuration matching a query at one level of theory.

    The flow has one dynamic job that, when it runs, picks the configurations without an
    ``ok`` label at the level (failed ones are retried) and replaces itself by batch jobs
    of ``batch_size`` configurations plus a summary job. Its output is a
    :class:`~thermogap.schemas.labels.LabelingSelectionDoc`.

    Parameters
    ----------
    name
        Flow name.
    batch_size
        Configurations per batch job.
    batch_maker
        Maker of batch jobs (its ``work_dir`` holds VASP run directories).
    """

    name: str = "labeling"
    batch_size: int = 16
    batch_maker: LabelBatchMaker = field(default_factory=LabelBatchMaker)
    summary_maker: LabelingSummaryMaker = field(default_factory=LabelingSummaryMaker)

    def make(
        self,
        level: str | Path | LevelOfTheory,
        criteria: dict[str, Any] | None = None,
        limit: int = 0,
        config_dir: str | Path | None = None,
    ) -> Flow:
        """Build the flow.

        Parameters
        ----------
        level
            Level name, YAML path or :class:`LevelOfTheory`; resolved now, so the jobs carry
            the full settings and do not need the YAML files on the worker.
        criteria
            MongoDB query on the ``configurations`` collection (e.g. ``{"x": 0.5}``).
        limit
            Label at most this many configurations (0 = all).
        config_dir
            Directory of level YAML files searched before the built-ins.
        """
        resolved = load_level(level, config_dir)
        selector = LabelingSelectionMaker(
            batch_size=self.batch_size,
            batch_maker=self.batch_maker,
            summary_maker=self.summary_maker,
        ).make(resolved.model_dump(mode="json"), criteria, limit)
        selector.name = f"{selector.name} {resolved.name}"
        return Flow([selector], output=selector.output, name=f"{self.name} {resolved.name}")


def labeling_flow(
    level: str,
    criteria: dict[str, Any] | None = None,
    limit: int = 0,
    batch_size: int = 16,
    work_dir: str = ".",
    config_dir: str | None = None,
) -> Flow:
    """Build a labelling flow from plain settings (for presets and the CLI).

    Settings are validated (the level is loaded, ``batch_size`` and ``limit`` checked)
    before any job is created.

    Parameters
    ----------
    level
        Level name or YAML path.
    criteria
        MongoDB query on the ``configurations`` collection.
    limit
        Label at most this many configurations (0 = all).
    batch_size
        Configurations per batch job (>= 1).
    work_dir
        Parent directory of VASP run directories.
    config_dir
        Directory of level YAML files searched before the built-ins.
    """
    if batch_size < 1:
        raise InputError(f"{batch_size=} must be >= 1")
    if limit < 0:
        raise InputError(f"{limit=} must be >= 0 (0 = no limit)")
    maker = LabelingFlowMaker(batch_size=batch_size, batch_maker=LabelBatchMaker(work_dir=work_dir))
    return maker.make(level, criteria=criteria, limit=limit, config_dir=config_dir)
