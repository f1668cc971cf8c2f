"""Load levels of theory from YAML files.

Built-in levels ship inside the package (``thermogap/data/levels/*.yaml``) so an
installed, non-editable thermogap works; ``configs/levels/`` in the repository holds
user-editable copies. :func:`load_level` looks first in ``config_dir`` when one is given
(a levels directory, or a configs root holding ``levels/``), otherwise in the ``levels/``
directories of the configuration trees :func:`thermogap.configs.config_dirs` finds, and
falls back to the built-ins.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from thermogap.errors import ConfigError, UnknownEntryError
from thermogap.levels.model import LevelOfTheory

__all__ = ["BUILTIN_LEVELS_DIR", "level_names", "load_level"]

#: Directory of the level YAML files shipped with the package (package data).
BUILTIN_LEVELS_DIR = Path(__file__).resolve().parents[1] / "data" / "levels"


def _user_levels_dirs() -> list[Path]:
    """``levels/`` of every configuration tree :func:`thermogap.configs.config_dirs` finds."""
    from thermogap.configs import config_dirs

    return [tree / "levels" for tree in config_dirs() if (tree / "levels").is_dir()]


def _search_dirs(config_dir: str | Path | None) -> list[Path]:
    if config_dir is not None:
        given = Path(config_dir)
        # accept either the levels directory itself or a configs/ root holding levels/
        dirs = [given / "levels" if (given / "levels").is_dir() else given]
    else:
        dirs = _user_levels_dirs()
    return [*dirs, *(() if BUILTIN_LEVELS_DIR in dirs else (BUILTIN_LEVELS_DIR,))]


def level_names(config_dir: str | Path | None = None) -> list[str]:
    """Names of the levels available in ``config_dir`` and the built-ins, sorted."""
    names: set[str] = set()
    for directory in _search_dirs(config_dir):
        names.update(p.stem for p in directory.glob("*.yaml"))
    return sorted(names)


def _read_level_file(path: Path) -> LevelOfTheory:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"level file {str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"level file {str(path)!r} must hold a mapping, got {type(data).__name__}"
        )
    try:
        return LevelOfTheory.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"level file {str(path)!r} is invalid: {exc}") from exc


def load_level(
    name_or_path: str | Path | LevelOfTheory, config_dir: str | Path | None = None
) -> LevelOfTheory:
    """Load a level of theory by name or from a YAML file.

    Parameters
    ----------
    name_or_path
        A level name (``"pbesol"``, ``"chgnet-gfn1-xtb"``, ...), a path to a YAML file, or
        an already built :class:`LevelOfTheory` (returned unchanged).
    config_dir
        Directory searched before the built-in levels (e.g. the repository's
        ``configs/levels``).

    Returns
    -------
    LevelOfTheory

    Raises
    ------
    UnknownEntryError
        If no level of that name exists; the message lists the available names.
    ConfigError
        If the file is not a valid level description.
    """
    if isinstance(name_or_path, LevelOfTheory):
        return name_or_path
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            raise ConfigError(f"level file {str(candidate)!r} does not exist")
        return _read_level_file(candidate)
    name = str(name_or_path)
    for directory in _search_dirs(config_dir):
        path = directory / f"{name}.yaml"
        if path.is_file():
            level = _read_level_file(path)
            if level.name != name:
                raise ConfigError(
                    f"level file {str(path)!r} declares name {level.name!r}, not {name!r}"
                )
            return level
    raise UnknownEntryError(
        f"unknown level {name!r}; allowed: {', '.join(level_names(config_dir)) or '(none)'}"
    )
