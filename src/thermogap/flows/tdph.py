"""High-throughput temperature-dependent phonons (seed 003) over any list of structures.

One sub-flow per compound: (relax → harmonic phonons) → renormalised phonons at each T with
their metrics; a summary job lists every compound's status. A failing compound is recorded
with its reason and never stops the others.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from jobflow import Flow, Job, Maker
from pydantic import ValidationError
from pymatgen.core import Structure

from thermogap.errors import ConfigError, InputError, first_validation_problem
from thermogap.jobs.tdph import (
    TdphFineTuneMaker,
    TdphHarmonicMaker,
    TdphRenormaliseMaker,
    tdph_summary,
)
from thermogap.schemas.tdph import TdphSettings
from thermogap.tdph.compound import CompoundInput, collect_inputs

__all__ = ["TDPH_EXAMPLES", "TdphFlowMaker", "example_structures", "tdph_flow"]

#: Example compounds shipped in the wheel (``thermogap/data/tdph/<name>.cif``).
TDPH_EXAMPLES = ("SrTiO3", "CsPbBr3", "KTaO3", "NaCl", "KCl", "Si", "MgO")


def example_structures(names: Sequence[str] = TDPH_EXAMPLES) -> list[str]:
    """Paths of the shipped example CIF files of ``names``."""
    root = files("thermogap") / "data" / "tdph"
    paths = []
    for name in names:
        path = root / f"{name}.cif"
        if not path.is_file():
            raise InputError(f"{name=} is not a shipped tdph example; allowed: {TDPH_EXAMPLES}")
        paths.append(str(path))
    return paths


@dataclass
class TdphFlowMaker(Maker):
    """Renormalised phonons and their metrics for many compounds at several temperatures.

    Parameters
    ----------
    name : str
        Flow name.
    temperatures_k : list of float
        Temperatures of the renormalisation, K (paper: 300 K).
    harmonic_maker : TdphHarmonicMaker
        Relaxation and harmonic step.
    renormalise_maker : TdphRenormaliseMaker
        Renormalisation step (its ``settings`` hold n_samples, iterations, ...).
    finetune_maker : TdphFineTuneMaker or None
        When set, the flow first fine-tunes CHGNet on data synthesised from the reference
        force constants given to :meth:`make` (``finetune_references``) and every harmonic
        and renormalisation job of the compounds then computes with the fine-tuned model
        (passed by reference: the fine-tune job's output, model bytes in the ``data``
        store). The engine names of the two makers are then not used for forces.

    Examples
    --------
    >>> from thermogap.flows.tdph import TdphFlowMaker, example_structures
    >>> flow = TdphFlowMaker(temperatures_k=[300.0]).make(example_structures(["NaCl"]))
    >>> len(flow.jobs)
    2
    """

    name: str = "tdph"
    temperatures_k: list[float] = field(default_factory=lambda: [300.0])
    harmonic_maker: TdphHarmonicMaker = field(default_factory=TdphHarmonicMaker)
    renormalise_maker: TdphRenormaliseMaker = field(default_factory=TdphRenormaliseMaker)
    finetune_maker: TdphFineTuneMaker | None = None

    def make(
        self,
        structures: Sequence[str | os.PathLike[str] | Structure] | str | os.PathLike[str],
        finetune_references: Sequence[str | os.PathLike[str]] | str | None = None,
        held_out: Sequence[str | os.PathLike[str]] | str | None = None,
    ) -> Flow:
        """Build the flow for files, a folder, phonopy.yaml files or pymatgen structures.

        ``finetune_references`` (with ``finetune_maker``) are ``*phonopy*.yaml`` files whose
        force constants label the synthetic training data; ``held_out`` ones only measure
        the phonon-frequency MAE before and after fine-tuning.
        """
        if not self.temperatures_k or min(self.temperatures_k) < 0:
            raise InputError(f"temperatures_k={self.temperatures_k} must be >= 0 K, at least one")
        compounds = collect_inputs(structures)
        head: list[Flow | Job] = []
        model = None
        if self.finetune_maker is not None:
            head, model = self._finetune_jobs(finetune_references, held_out)
        elif finetune_references or held_out:
            raise InputError("finetune_references/held_out need a finetune_maker")
        sub_flows, outputs, ids = [], [], []
        for compound in compounds:
            sub, docs = self._compound_flow(compound, model)
            sub_flows.append(sub)
            outputs.extend(docs)
            ids.extend([compound.compound_id] * len(docs))
        summary = tdph_summary(outputs, ids)
        summary.name = "tdph summary"
        return Flow([*head, *sub_flows, summary], output=summary.output, name=self.name)

    def _finetune_jobs(
        self,
        references: Sequence[str | os.PathLike[str]] | str | None,
        held_out: Sequence[str | os.PathLike[str]] | str | None,
    ) -> tuple[list[Flow | Job], Any]:
        if self.finetune_maker is None:  # the caller checks; keeps mypy informed
            raise InputError("no finetune_maker")
        refs = collect_inputs(references) if references else []
        tests = collect_inputs(held_out) if held_out else []
        if not refs:
            raise InputError("fine-tuning needs finetune_references (phonopy.yaml files)")
        for item in [*refs, *tests]:
            if item.phonopy_yaml is None:
                raise InputError(
                    f"fine-tuning reference {item.compound_id!r} is a structure; references "
                    "must be *phonopy*.yaml files with force constants (e.g. PBEsol ones)"
                )
        reader = TdphHarmonicMaker(name="tdph reference")
        jobs: list[Flow | Job] = []
        for item in [*refs, *tests]:
            read = reader.make(None, compound_id=item.compound_id, phonopy_yaml=item.phonopy_yaml)
            read.name = f"tdph reference {item.compound_id}"
            jobs.append(read)
        finetune = self.finetune_maker.make(
            [j.output for j in jobs[: len(refs)]], [j.output for j in jobs[len(refs) :]]
        )
        finetune.name = self.finetune_maker.name
        return [*jobs, finetune], finetune.output

    def _compound_flow(self, compound: CompoundInput, model: Any = None) -> tuple[Flow, list[Any]]:
        harmonic = self.harmonic_maker.make(
            compound.structure,
            compound_id=compound.compound_id,
            phonopy_yaml=compound.phonopy_yaml,
            model=model,
        )
        harmonic.name = f"{self.harmonic_maker.name} {compound.compound_id}"
        jobs: list[Flow | Job] = [harmonic]
        for temperature in self.temperatures_k:
            step = self.renormalise_maker.make(harmonic.output, float(temperature), model=model)
            step.name = f"{self.renormalise_maker.name} {compound.compound_id} {temperature:g} K"
            jobs.append(step)
        outputs = [j.output for j in jobs[1:]]
        return Flow(jobs, output=outputs, name=f"tdph {compound.compound_id}"), outputs


def tdph_flow(
    structures: Sequence[str] | str | None = None,
    examples: Sequence[str] | None = None,
    temperatures_k: Sequence[float] = (300.0,),
    calculator: str = "chgnet",
    calculator_kwargs: dict[str, Any] | None = None,
    supercell: list[int] | list[list[int]] | None = None,
    relax: bool = True,
    relax_cell: bool = True,
    fmax_ev_per_ang: float = 0.01,
    renormalisation: dict[str, Any] | None = None,
    finetune: dict[str, Any] | None = None,
    finetune_references: Sequence[str] | str | None = None,
    held_out: Sequence[str] | str | None = None,
) -> Flow:
    """Flow builder of the ``tdph`` presets (all settings validated before any job exists).

    Parameters
    ----------
    structures : list of str or str, optional
        CIF/POSCAR files, folders or ``*phonopy*.yaml`` files.
    examples : list of str, optional
        Names of shipped examples (:data:`TDPH_EXAMPLES`), added to ``structures``.
    temperatures_k : list of float
        Temperatures, K.
    calculator, calculator_kwargs
        Engine of every force evaluation.
    supercell : list
        Supercell of the phonons (default 2x2x2).
    relax, relax_cell, fmax_ev_per_ang
        Relaxation before the harmonic step.
    renormalisation : dict
        Fields of :class:`thermogap.schemas.tdph.TdphSettings`.
    finetune : dict, optional
        Fields of :class:`thermogap.jobs.tdph.TdphFineTuneMaker` (``{}`` for its defaults):
        fine-tune CHGNet on ``finetune_references`` first and compute with it.
    finetune_references, held_out : list of str, optional
        ``*phonopy*.yaml`` files: training references and held-out compounds.
    """
    try:
        settings = TdphSettings(**(renormalisation or {}))
    except ValidationError as exc:
        raise ConfigError(
            f"invalid tdph renormalisation settings: {first_validation_problem(exc)}"
        ) from None
    items: list[str] = []
    if isinstance(structures, str):
        items.append(structures)
    elif structures:
        items.extend(structures)
    if examples:
        items.extend(example_structures(examples))
    if not items:
        raise InputError("the tdph flow needs structures or examples")
    kwargs = dict(calculator_kwargs or {})
    harmonic = TdphHarmonicMaker(
        calculator=calculator,
        calculator_kwargs=kwargs,
        supercell_matrix=supercell or [2, 2, 2],
        relax=relax,
        relax_cell=relax_cell,
        fmax_ev_per_ang=fmax_ev_per_ang,
    )
    renormalise = TdphRenormaliseMaker(
        calculator=calculator, calculator_kwargs=kwargs, settings=settings
    )
    finetune_maker = None
    if finetune is not None:
        try:
            finetune_maker = TdphFineTuneMaker(**finetune)
        except TypeError as exc:
            raise ConfigError(f"invalid tdph finetune settings {finetune}: {exc}") from None
    return TdphFlowMaker(
        temperatures_k=[float(t) for t in temperatures_k],
        harmonic_maker=harmonic,
        renormalise_maker=renormalise,
        finetune_maker=finetune_maker,
    ).make(items, finetune_references=finetune_references, held_out=held_out)
