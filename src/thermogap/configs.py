"""Locate the YAML configuration tree (``configs/``: stores, presets, levels, jobflow-remote).

Lookup order: an explicit directory, ``$THERMOGAP_CONFIG_DIR``, ``./configs`` in the working
directory, then the ``configs/`` directory of the source checkout thermogap was installed from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from thermogap.errors import ConfigError, UnknownEntryError

CONFIG_DIR_ENV_VAR = "THERMOGAP_CONFIG_DIR"


def config_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the configuration directory.

    Raises
    ------
    ConfigError
        If none of the candidate directories exists.
    """
    candidates = []
    if explicit is not None:
        candidates.append(Path(explicit))
    if os.environ.get(CONFIG_DIR_ENV_VAR):
        candidates.append(Path(os.environ[CONFIG_DIR_ENV_VAR]))
    candidates += [Path.cwd() / "configs", Path(__file__).resolve().parents[2] / "configs"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise ConfigError(f"no configs/ directory found (tried {tried}); set ${CONFIG_DIR_ENV_VAR}")


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping, turning parse errors into one-line :class:`ConfigError`."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"malformed YAML in {str(path)!r}{where}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{str(path)!r} must hold a YAML mapping, got {type(data).__name__}")
    return data


def named_config(
    kind: str, name_or_path: str, directory: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Load ``configs/<kind>/<name>.yaml`` or a YAML file given by path.

    Parameters
    ----------
    kind
        Sub-directory of ``configs/``: ``"presets"``, ``"levels"``, ``"stores"``.
    name_or_path
        A name (``"quick"``) or a path to a ``.yaml`` file.

    Raises
    ------
    UnknownEntryError
        If no such named configuration exists; the message lists the available names.
    """
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"}:
        return load_yaml(path)
    folder = config_dir(directory) / kind
    candidate = folder / f"{name_or_path}.yaml"
    if not candidate.is_file():
        available = sorted(p.stem for p in folder.glob("*.yaml"))
        raise UnknownEntryError(
            f"unknown {kind[:-1] if kind.endswith('s') else kind} {name_or_path!r}; "
            f"allowed: {', '.join(available) or '(none)'}"
        )
    return load_yaml(candidate)
