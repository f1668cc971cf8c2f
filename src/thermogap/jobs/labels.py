"""Jobs that label configurations at a level of theory (see ``thermogap.flows.labeling``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow, Maker, Response
from jobflow.core.job import JobConfig
from jobflow.core.reference import OnMissing

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.labels.labeling import label_batch, select_unlabelled
from thermogap.levels.model import LevelOfTheory
from thermogap.schemas.base import make_provenance
from thermogap.schemas.labels import LabelBatchDoc, LabelDoc, LabelingSelectionDoc

__all__ = [
    "LabelBatchMaker",
    "LabelingSelectionMaker",
    "LabelingSummaryMaker",
    "VaspLabelMaker",
    "chunk",
]


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
class VaspLabelMaker(Maker):
    """Derive and store the label of one configuration from an atomate2 VASP static job.

    The static job (``thermogap.vasp.makers.static_maker``: the level's input set and
    custodian handlers, as atomate2 configures them) keeps its ``TaskDoc`` in the job store;
    this job takes that document by reference. When the static job failed, jobflow passes
    ``None`` (``on_missing_references="null"``) and the label is stored as failed, with the
    reason, so the labelling run goes on and a re-run retries it.

    Examples
    --------
    >>> from thermogap.levels import load_level
    >>> from thermogap.vasp.makers import static_maker
    >>> static = static_maker(load_level("pbesol")).make(structure)  # doctest: +SKIP
    >>> label = VaspLabelMaker().make(static.output, "c-1", "pbesol", structure.as_dict())
    ... # doctest: +SKIP
    """

    name: str = "vasp label"

    @tg_job(config=JobConfig(on_missing_references=OnMissing.NONE))
    def make(
        self, task_doc: Any, config_id: str, level: str, structure: Any
    ) -> LabelDoc:
        """Return the label of ``config_id`` at ``level`` (written to ``labels`` as well)."""
        from thermogap.labels.labeling import LABELS
        from thermogap.store import current_db
        from thermogap.vasp.parse import label_doc_from_job_output

        if hasattr(structure, "as_dict"):  # jobflow decodes a structure dict into a Structure
            structure = structure.as_dict()
        doc = label_doc_from_job_output(task_doc, config_id, level, structure)
        current_db().upsert(LABELS, [doc.model_dump(mode="json")], key="label_id")
        return doc


def _as_batch(doc: LabelBatchDoc | LabelDoc | dict[str, Any]) -> LabelBatchDoc:
    if isinstance(doc, dict):
        doc = (LabelDoc if "label_id" in doc else LabelBatchDoc).model_validate(doc)
    if isinstance(doc, LabelBatchDoc):
        return doc
    batch = LabelBatchDoc(level=doc.level, config_ids=[doc.config_id])
    if doc.status == "ok":
        batch.labelled.append(doc.label_id)
    else:
        batch.failed[doc.config_id] = doc.reason or "unknown"
    return batch


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
        self, selection: LabelingSelectionDoc, batches: list[LabelBatchDoc | LabelDoc]
    ) -> LabelingSelectionDoc:
        """Return the selection document with ``n_batches`` and the batch outputs merged in.

        ``batches`` holds batch documents (embedded levels) or single labels (VASP levels).
        """
        return summarize_batches(selection, batches)


def summarize_batches(
    selection: LabelingSelectionDoc | dict[str, Any],
    batches: Sequence[LabelBatchDoc | LabelDoc | dict[str, Any]],
) -> LabelingSelectionDoc:
    """Merge batch outputs into the selection document (counts of labelled/failed)."""
    sel = LabelingSelectionDoc.model_validate(
        selection.model_dump() if isinstance(selection, LabelingSelectionDoc) else selection
    )
    docs = [_as_batch(b) for b in batches]
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
    vasp_label_maker: VaspLabelMaker = field(default_factory=VaspLabelMaker)

    @tg_job(reuse=False)  # what is unlabelled depends on the database, not on the inputs
    def make(
        self, level: dict[str, Any], criteria: dict[str, Any] | None = None, limit: int = 0
    ) -> Response:
        """Replace this job by jobs over the configurations not yet labelled at ``level``.

        Embedded levels get batch jobs of ``batch_size`` configurations; VASP levels get one
        atomate2 static job per configuration (its ``TaskDoc`` stays in the job store) and a
        job deriving the label from it. Packing many small VASP jobs on a node is
        jobflow-remote's batch mode, not a loop inside one job.
        """
        from thermogap.store import current_db

        resolved = LevelOfTheory.model_validate(level)
        level_name = resolved.name
        todo, n_done = select_unlabelled(current_db(), level_name, criteria, limit)
        selection = LabelingSelectionDoc(
            level=level_name,
            n_selected=len(todo) + n_done,
            n_already_labelled=n_done,
            config_ids=todo,
        )
        if resolved.engine == "vasp":
            jobs = self._vasp_jobs(resolved, todo)
            labels = [j.output for j in jobs if j.name.startswith(self.vasp_label_maker.name)]
            summary = self.summary_maker.make(selection, labels)
            summary.name = f"{self.summary_maker.name} {level_name}"
            return Response(replace=Flow([*jobs, summary], output=summary.output))
        batches = []
        for i, ids in enumerate(chunk(todo, self.batch_size)):
            batch = self.batch_maker.make(ids, level)
            batch.name = f"{self.batch_maker.name} {level_name} {i + 1}"
            batches.append(batch)
        summary = self.summary_maker.make(selection, [b.output for b in batches])
        summary.name = f"{self.summary_maker.name} {level_name}"
        return Response(replace=Flow([*batches, summary], output=summary.output))

    def _vasp_jobs(self, level: LevelOfTheory, config_ids: list[str]) -> list[Any]:
        from thermogap.labels.labeling import CONFIGURATIONS
        from thermogap.store import current_db
        from thermogap.vasp.makers import static_maker

        configs = {
            d["config_id"]: d["structure"]
            for d in current_db().query(
                CONFIGURATIONS,
                {"config_id": {"$in": config_ids}},
                properties=["config_id", "structure"],
            )
        }
        from dataclasses import replace

        from pymatgen.core import Structure

        # an unconverged run still returns its TaskDoc, so the label records why it failed
        maker = replace(static_maker(level), stop_children_kwargs={"handle_unsuccessful": False})
        jobs = []
        for config_id in config_ids:
            if config_id not in configs:
                continue
            static = maker.make(Structure.from_dict(configs[config_id]))  # type: ignore[misc]
            static.name = f"{maker.name} {config_id}"
            label = self.vasp_label_maker.make(
                static.output, config_id, level.name, configs[config_id]
            )
            label.name = f"{self.vasp_label_maker.name} {level.name} {config_id}"
            jobs += [static, label]
        return jobs
