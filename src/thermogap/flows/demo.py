"""The parent-compound phonon flow: build prototypes, compute and store their phonons.

This is what ``make demo`` runs until the full temperature flow is configured as the quick
preset: it exercises structures, a real calculator, phonopy, the store and the query path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobflow import Flow

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.jobs.phonons import PhononMaker
from thermogap.structures import load_structure


@tg_job
def summarize_phonons(docs: list[Any]) -> list[dict[str, Any]]:
    """Collect formula, stability and lowest frequency of each phonon calculation."""
    return [
        {
            "phonon_id": d.phonon_id,
            "formula": d.formula,
            "dynamically_stable": d.dynamically_stable,
            "min_frequency_thz": d.min_frequency_thz,
            "n_imaginary_modes": len(d.imaginary_modes),
            "lattice_parameter_ang": d.lattice_parameter_ang,
            "relaxed": d.relaxed,
        }
        for d in docs
    ]


def parent_phonons_flow(
    compounds: Sequence[str] = ("Ag3SBr", "Ag3SI"),
    calculator: str = "chgnet",
    supercell: Sequence[int] = (2, 2, 2),
    calculator_kwargs: dict[str, Any] | None = None,
    relax: bool = True,
) -> Flow:
    """Phonons of parent compounds with one engine.

    Parameters
    ----------
    compounds
        Prototype names (``"Ag3SBr"``) or structure files.
    calculator
        Engine name from :func:`thermogap.engines.engine_names`.
    supercell
        Repetitions of the unit cell for the finite displacements.
    relax
        Relax each cell (cell and ions) with the same engine before its phonons.

    Examples
    --------
    >>> flow = parent_phonons_flow(["Ag3SBr"], calculator="chgnet")
    """
    from thermogap.engines import engine_names

    if calculator not in engine_names():
        raise InputError(f"unknown calculator {calculator!r}; allowed: {', '.join(engine_names())}")
    if not compounds:
        raise InputError("compounds is empty; give at least one prototype name or file")
    structures = [load_structure(c) for c in compounds]  # raises before any job exists
    maker = PhononMaker(
        calculator=calculator,
        calculator_kwargs=dict(calculator_kwargs or {}),
        supercell_matrix=list(supercell),
    )
    relaxations: list[Any] = []
    if relax:
        from thermogap.jobs.phonons import ParentRelaxMaker

        relaxer = ParentRelaxMaker(
            calculator=calculator, calculator_kwargs=dict(calculator_kwargs or {})
        )
        relaxations = [relaxer.make(s) for s in structures]
        for job, compound in zip(relaxations, compounds, strict=True):
            job.name = f"relax {compound}"
    jobs = [
        maker.make(s, None, relaxations[i].output if relax else None)
        for i, s in enumerate(structures)
    ]
    for job, compound in zip(jobs, compounds, strict=True):
        job.name = f"phonons {compound}"
    summary = summarize_phonons([j.output for j in jobs])
    return Flow([*relaxations, *jobs, summary], output=summary.output, name="parent phonons")
