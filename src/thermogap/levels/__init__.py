"""Levels of theory (named YAML configurations) and their loader."""

from thermogap.levels.loader import BUILTIN_LEVELS_DIR, level_names, load_level
from thermogap.levels.model import (
    CustodianSettings,
    EmbeddedSettings,
    LevelOfTheory,
    VaspSettings,
)

__all__ = [
    "BUILTIN_LEVELS_DIR",
    "CustodianSettings",
    "EmbeddedSettings",
    "LevelOfTheory",
    "VaspSettings",
    "level_names",
    "load_level",
]
