"""Jobs that label configurations at a level of theory (see ``thermogap.flows.labeling``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow, Maker, Response

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.labels.labeling import label_batch, select_unlabelled
from thermogap.levels.model import LevelOfTheory
from thermogap.schemas.base import make_provenance
from thermogap.schemas.labels import LabelBatchDoc, LabelingSelectionDoc

__all__ = ["LabelBatchMaker", "LabelingSelectionMaker", "LabelingSummaryMaker", "chunk"]


def chunk(items: list[str], size: int) -> list[list[str]]:
    """Split ``items`` into consecutive chunks of at most ``size`` (> 0)."""
    if size < 1:
        raise InputError(f"batch size {size=} must be >= 1")
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass
class LabelBatchMaker(Maker):
    """Label a batch of configurations from the database and store the labels.

    Parameters
    ----------
    name
        Job name.
    work_dir
        Parent directory of VASP run directories (VASP levels only).

    Examples
    --------
    >>> from thermogap.levels import load_level
    >>> job = LabelBatchMaker().make(["c-1", "c-2"], load_level("chgnet-gfn1-xtb").model_dump())
    """

    name: str = "label batch"
    work_dir: str = "."

    # what a batch does depends on the labels already stored (they are skipped), not only on
    # its inputs: never answer it from an earlier run, so deleted or failed labels are redone
    @tg_job(reuse=False)
    def make(self, config_ids: list[str], level: dict[str, Any]) -> LabelBatchDoc:
        """Label ``config_ids`` at ``level`` (a ``LevelOfTheory.model_dump()``).

        Already-labelled configurations are skipped; failures are stored with their reason.
        """
        from thermogap.store import current_db

        return label_batch(
            current_db(), list(config_ids), LevelOfTheory.model_validate(level), self.work_dir
        )


@dataclass
class LabelingSummaryMaker(Maker):
    """Collect the outputs of the batch jobs of one labelling run.

    Examples
    --------
    >>> from thermogap.levels import load_level
    >>> level = load_level("chgnet-gfn1-xtb").model_dump()
    >>> selection_job = LabelingSelectionMaker(batch_size=8).make(level)
    >>> batch_job = LabelBatchMaker().make(["c-1", "c-2"], level)
    >>> job = LabelingSummaryMaker().make(selection_job.output, [batch_job.output])
    """

    name: str = "labeling summary"

    @tg_job
    def make(
        self, selection: LabelingSelectionDoc, batches: list[LabelBatchDoc]
    ) -> LabelingSelectionDoc:
        """Return the selection document with ``n_batches`` and the batch outputs merged in."""
        return summarize_batches(selection, batches)


def summarize_batches(
    selection: LabelingSelectionDoc | dict[str, Any],
    batches: Sequence[LabelBatchDoc | dict[str, Any]],
) -> LabelingSelectionDoc:
    """Merge batch outputs into the selection document (counts of labelled/failed)."""
    sel = LabelingSelectionDoc.model_validate(
        selection.model_dump() if isinstance(selection, LabelingSelectionDoc) else selection
    )
    docs = [
        LabelBatchDoc.model_validate(b.model_dump() if isinstance(b, LabelBatchDoc) else b)
        for b in batches
    ]
    sel.n_batches = len(docs)
    sel.n_labelled = sum(len(d.labelled) for d in docs)
    sel.failed = {k: v for d in docs for k, v in d.failed.items()}
    sel.provenance = make_provenance(level=sel.level)
    return sel


@dataclass
class LabelingSelectionMaker(Maker):
    """Select unlabelled configurations and fan out batch jobs (a dynamic job).

    Parameters
    ----------
    name
        Job name.
    batch_size
        Configurations per batch job; batch jobs run in parallel under jobflow-remote.
    batch_maker
        Maker of the batch jobs.
    summary_maker
        Maker of the job collecting the batch outputs.

    Examples
    --------
    >>> from thermogap.levels import load_level
    >>> job = LabelingSelectionMaker(batch_size=8).make(
    ...     load_level("chgnet-gfn1-xtb").model_dump(), criteria={"x": 0.5}
    ... )
    """

    name: str = "select configurations to label"
    batch_size: int = 16
    batch_maker: LabelBatchMaker = field(default_factory=LabelBatchMaker)
    summary_maker: LabelingSummaryMaker = field(default_factory=LabelingSummaryMaker)

    @tg_job(reuse=False)  # what is unlabelled depends on the database, not on the inputs
    def make(
        self, level: dict[str, Any], criteria: dict[str, Any] | None = None, limit: int = 0
    ) -> Response:
        """Replace this job by batch jobs over the configurations not yet labelled at ``level``."""
        from thermogap.store import current_db

        level_name = LevelOfTheory.model_validate(level).name
        todo, n_done = select_unlabelled(current_db(), level_name, criteria, limit)
        selection = LabelingSelectionDoc(
            level=level_name,
            n_selected=len(todo) + n_done,
            n_already_labelled=n_done,
            config_ids=todo,
        )
        batches = []
        for i, ids in enumerate(chunk(todo, self.batch_size)):
            batch = self.batch_maker.make(ids, level)
            batch.name = f"{self.batch_maker.name} {level_name} {i + 1}"
            batches.append(batch)
        summary = self.summary_maker.make(selection, [b.output for b in batches])
        summary.name = f"{self.summary_maker.name} {level_name}"
        return Response(replace=Flow([*batches, summary], output=summary.output))
