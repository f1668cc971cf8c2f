"""atomate2 VASP Makers configured for a thermogap VASP level.

Use these to run the level's settings as ordinary atomate2 jobs (e.g. in a hand-written
jobflow script); the labelling flow uses the same input sets through
:func:`thermogap.vasp.run.vasp_static_label`, which also records failures as label documents.

Examples
--------
>>> from thermogap.levels import load_level
>>> from thermogap.structures import load_structure
>>> maker = static_maker(load_level("hsesol"))
>>> job = maker.make(load_structure("Ag3SBr"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from atomate2.vasp.jobs.core import RelaxMaker, StaticMaker

from thermogap.errors import ConfigError
from thermogap.vasp.custodian import run_vasp_kwargs
from thermogap.vasp.sets import relax_set_generator, static_set_generator

if TYPE_CHECKING:
    from thermogap.levels.model import LevelOfTheory, VaspSettings

__all__ = ["relax_maker", "static_maker"]


def _vasp_settings(level: LevelOfTheory) -> VaspSettings:
    if level.vasp is None:
        raise ConfigError(f"level {level.name!r} has engine {level.engine!r}, not 'vasp'")
    return level.vasp


def static_maker(level: LevelOfTheory) -> StaticMaker:
    """Build an atomate2 ``StaticMaker`` with the level's input set and custodian settings."""
    settings = _vasp_settings(level)
    return StaticMaker(
        name=f"{level.name} static",
        input_set_generator=static_set_generator(settings),
        run_vasp_kwargs=run_vasp_kwargs(settings.custodian),
    )


def relax_maker(level: LevelOfTheory) -> RelaxMaker:
    """Build an atomate2 ``RelaxMaker`` relaxing cell and ions to the level's force tolerance."""
    settings = _vasp_settings(level)
    return RelaxMaker(
        name=f"{level.name} relax",
        input_set_generator=relax_set_generator(settings),
        run_vasp_kwargs=run_vasp_kwargs(settings.custodian),
    )
