"""Jobs that label configurations at a level of theory (see ``thermogap.flows.labeling``).

The configurations arrive with the jobs' inputs (a reference to the dataset flow's output, or
documents embedded when the flow was built); every job returns its labels. Nothing here
opens the results database: the ``labels`` collection is built from the batch outputs
(:class:`~thermogap.schemas.labels.LabelBatchDoc`, one document per element of ``labels``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from jobflow import Flow, Job, Maker, Response
from jobflow.core.job import JobConfig
from jobflow.core.reference import OnMissing
from monty.json import jsanitize

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.labels.labeling import configurations_to_label, label_batch
from thermogap.levels.model import LevelOfTheory
from thermogap.schemas.base import make_provenance
from thermogap.schemas.labels import LabelBatchDoc, LabelDoc
from thermogap.structures.identity import as_structure

__all__ = [
    "LabelBatchMaker",
    "LabelingSelectionMaker",
    "LabelingSummaryMaker",
    "VaspLabelMaker",
    "chunk",
    "label_jobs",
]

T = TypeVar("T")


def chunk(items: Sequence[T], size: int) -> list[list[T]]:
    """Split ``items`` into consecutive chunks of at most ``size`` (> 0)."""
    if size < 1:
        raise InputError(f"batch size {size=} must be >= 1")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


@dataclass
class LabelBatchMaker(Maker):
    """Label a batch of configurations given by value; return their label documents.

    The job's output is reused (see :func:`thermogap.execution.tg_job`) when the same
    configurations are labelled at the same level again.

    Parameters
    ----------
    name
        Job name.
    work_dir
        Parent directory of VASP run directories (VASP levels only).

    Examples
    --------
    >>> from thermogap.levels import load_level
    >>> from thermogap.structures import load_structure
    >>> structure = load_structure("Ag3SBr")
    >>> configs = [{"config_id": "c-1", "structure": structure.as_dict(), "scheme": "phonon"}]
    >>> job = LabelBatchMaker().make(configs, load_level("chgnet-gfn1-xtb").model_dump())
    """

    name: str = "label batch"
    work_dir: str = "."

    @tg_job(data="labels")  # the list is large: data store
    def make(self, configurations: list[dict[str, Any]], level: dict[str, Any]) -> LabelBatchDoc:
        """Label ``configurations`` at ``level`` (a ``LevelOfTheory.model_dump()``).

        Each configuration is a dict with ``config_id``, ``structure`` and ``scheme`` (see
        :func:`thermogap.labels.labeling.configurations_to_label`). Failures become label
        documents with ``status="failed"`` and the reason.
        """
        return label_batch(configurations, LevelOfTheory.model_validate(level), self.work_dir)


@dataclass
class VaspLabelMaker(Maker):
    """Derive the label of one configuration from an atomate2 VASP static job.

    The static job (``thermogap.vasp.makers.static_maker``: the level's input set and
    custodian handlers, as atomate2 configures them) keeps its ``TaskDoc`` in the job store;
    this job takes that document by reference. When the static job failed, jobflow passes
    ``None`` (``on_missing_references="null"``) and the label is a failed one, with the
    reason, so the labelling run goes on. The output is a batch of one label, so that the
    ``labels`` collection is built from VASP and embedded labels alike.

    Examples
    --------
    >>> from thermogap.levels import load_level
    >>> from thermogap.structures import load_structure
    >>> from thermogap.vasp.makers import static_maker
    >>> structure = load_structure("Ag3SBr")
    >>> static = static_maker(load_level("pbesol")).make(structure)  # doctest: +SKIP
    >>> config = {"config_id": "c-1", "structure": structure.as_dict(), "scheme": "phonon"}
    >>> label = VaspLabelMaker().make(static.output, config, "pbesol")  # doctest: +SKIP
    """

    name: str = "vasp label"

    @tg_job(data="labels", config=JobConfig(on_missing_references=OnMissing.NONE))
    def make(self, task_doc: Any, configuration: dict[str, Any], level: str) -> LabelBatchDoc:
        """Return the label of ``configuration`` at ``level`` (``labels`` holds one document)."""
        from thermogap.vasp.parse import label_doc_from_job_output

        (config,) = configurations_to_label([configuration])
        doc = label_doc_from_job_output(task_doc, config["config_id"], level, config["structure"])
        doc.scheme = config["scheme"]
        failed = {} if doc.status == "ok" else {doc.config_id: doc.reason or "unknown"}
        return LabelBatchDoc(
            level=level,
            config_ids=[doc.config_id],
            labelled=[doc.label_id] if doc.status == "ok" else [],
            failed=failed,
            labels=[doc],
            provenance=make_provenance(level=level),
        )


def _label_dicts(batch: LabelBatchDoc | LabelDoc | Mapping[str, Any]) -> list[dict[str, Any]]:
    if isinstance(batch, Mapping):
        labels = batch.get("labels") if "labels" in batch else [batch]
    elif isinstance(batch, LabelBatchDoc):
        labels = list(batch.labels)
    else:
        labels = [batch]
    out = []
    for label in labels or []:
        doc = label.model_dump() if isinstance(label, LabelDoc) else dict(label)
        plain = jsanitize(doc, strict=True, enum_values=True)
        out.append({k: v for k, v in plain.items() if not k.startswith("@")})
    return out


@dataclass
class LabelingSummaryMaker(Maker):
    """Collect the label documents of the batch jobs of one labelling run.

    The output, the labelling flow's output, is the list of every label document (ok and
    failed) as plain dicts; it is kept in jobflow's ``data`` store, since a large dataset's
    labels exceed the size of one database document.

    Examples
    --------
    >>> from thermogap.levels import load_level
    >>> level = load_level("chgnet-gfn1-xtb").model_dump()
    >>> batch_job = LabelBatchMaker().make(configs, level)  # doctest: +SKIP
    >>> job = LabelingSummaryMaker().make([batch_job.output])  # doctest: +SKIP
    """

    name: str = "labeling summary"

    @tg_job(data=True)
    def make(self, batches: list[LabelBatchDoc | dict[str, Any]]) -> list[dict[str, Any]]:
        """Return the label documents of ``batches`` (batch outputs) as one list of dicts."""
        return [label for batch in batches if batch is not None for label in _label_dicts(batch)]


def label_jobs(
    level: LevelOfTheory,
    configurations: Iterable[Mapping[str, Any]],
    batch_size: int,
    batch_maker: LabelBatchMaker,
    summary_maker: LabelingSummaryMaker,
    vasp_label_maker: VaspLabelMaker,
) -> tuple[list[Job], Job]:
    """Make the labelling jobs of known configurations and the job collecting their labels.

    Embedded levels get batch jobs of ``batch_size`` configurations; VASP levels get one
    atomate2 static job per configuration (its ``TaskDoc`` stays in the job store) and a
    job deriving the label from it. Packing many small VASP jobs on a node is
    jobflow-remote's batch mode, not a loop inside one job.

    Returns
    -------
    tuple
        ``(jobs, summary)``: the labelling jobs and the :class:`LabelingSummaryMaker` job
        whose output is the list of label documents.
    """
    configs = list(configurations)
    level_dict = level.model_dump(mode="json")
    jobs: list[Job] = []
    outputs: list[Any] = []
    if level.engine == "vasp":
        from thermogap.vasp.makers import static_maker

        # an unconverged run still returns its TaskDoc, so the label records why it failed
        maker = replace(static_maker(level), stop_children_kwargs={"handle_unsuccessful": False})
        for config in configs:
            config_id = config["config_id"]
            static = maker.make(as_structure(config["structure"]))  # type: ignore[misc]
            static.name = f"{maker.name} {config_id}"
            label = vasp_label_maker.make(static.output, config, level.name)
            label.name = f"{vasp_label_maker.name} {level.name} {config_id}"
            jobs += [static, label]
            outputs.append(label.output)
    else:
        for i, batch_configs in enumerate(chunk(configs, batch_size)):
            batch = batch_maker.make(batch_configs, level_dict)
            batch.name = f"{batch_maker.name} {level.name} {i + 1}"
            jobs.append(batch)
            outputs.append(batch.output)
    summary = summary_maker.make(outputs)
    summary.name = f"{summary_maker.name} {level.name}"
    return jobs, summary


@dataclass
class LabelingSelectionMaker(Maker):
    """Split configurations known only at run time into labelling jobs (a dynamic job).

    Parameters
    ----------
    name
        Job name.
    batch_size
        Configurations per batch job; batch jobs run in parallel under jobflow-remote.
    batch_maker
        Maker of the batch jobs.
    summary_maker
        Maker of the job collecting the labels.
    vasp_label_maker
        Maker of the jobs deriving a label from a VASP static job (VASP levels).

    Examples
    --------
    >>> from thermogap.flows.dataset import dataset_flow
    >>> from thermogap.levels import load_level
    >>> data = dataset_flow(compositions=[1.0], schemes=["random"])
    >>> job = LabelingSelectionMaker(batch_size=8).make(
    ...     load_level("chgnet-gfn1-xtb").model_dump(), data.output["configurations"]
    ... )
    """

    name: str = "select configurations to label"
    batch_size: int = 16
    batch_maker: LabelBatchMaker = field(default_factory=LabelBatchMaker)
    summary_maker: LabelingSummaryMaker = field(default_factory=LabelingSummaryMaker)
    vasp_label_maker: VaspLabelMaker = field(default_factory=VaspLabelMaker)

    @tg_job
    def make(
        self, level: dict[str, Any], configurations: list[dict[str, Any]], limit: int = 0
    ) -> Response:
        """Replace this job by the labelling jobs of ``configurations`` at ``level``.

        ``configurations`` (the resolved list of configuration documents) is reduced, sorted
        by ``config_id`` and cut to ``limit`` (0 = all) by
        :func:`~thermogap.labels.labeling.configurations_to_label`; the replacing flow's
        output is the list of label documents.
        """
        resolved = LevelOfTheory.model_validate(level)
        flat: list[Any] = []
        for item in configurations or []:  # a list of batch lists is flattened
            flat.extend(item if isinstance(item, list | tuple) else [item])
        todo = configurations_to_label(flat, limit)
        jobs, summary = label_jobs(
            resolved,
            todo,
            self.batch_size,
            self.batch_maker,
            self.summary_maker,
            self.vasp_label_maker,
        )
        return Response(replace=Flow([*jobs, summary], output=summary.output))
