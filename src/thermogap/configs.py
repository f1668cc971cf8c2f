"""Find named YAML configurations (presets, levels, stores) in layered configuration trees.

A configuration tree is a directory with sub-directories per kind (``presets/``, ``levels/``,
``stores/``, ``jobflow-remote/``). Named configurations are looked up in these trees, first
match wins:

1. an explicit directory (a function argument),
2. ``$THERMOGAP_CONFIG_DIR``,
3. ``./configs`` in the working directory,
4. the ``configs/`` directory of the source checkout thermogap runs from (if any),
5. the built-ins shipped inside the package (``thermogap/data/``).

A user's tree *adds to* the built-ins and may override one by reusing its name; it never hides
the others, so an unrelated ``./configs/`` cannot make ``quick`` disappear.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from thermogap.errors import ConfigError, UnknownEntryError

CONFIG_DIR_ENV_VAR = "THERMOGAP_CONFIG_DIR"

#: Configuration tree shipped inside the package (presets and levels of the wheel).
BUILTIN_CONFIG_DIR = Path(__file__).resolve().parent / "data"

_SOURCE_CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


def config_dirs(explicit: str | os.PathLike[str] | None = None) -> list[Path]:
    """Return the existing configuration trees, highest precedence first.

    Parameters
    ----------
    explicit
        A directory searched before all others.

    Returns
    -------
    list of Path
        Distinct existing directories; the last one is always :data:`BUILTIN_CONFIG_DIR`.

    Examples
    --------
    >>> config_dirs()[-1] == BUILTIN_CONFIG_DIR
    True
    """
    candidates = []
    if explicit is not None:
        candidates.append(Path(explicit))
    if os.environ.get(CONFIG_DIR_ENV_VAR):
        candidates.append(Path(os.environ[CONFIG_DIR_ENV_VAR]))
    candidates += [Path.cwd() / "configs", _SOURCE_CONFIG_DIR, BUILTIN_CONFIG_DIR]
    found: list[Path] = []
    for candidate in candidates:
        resolved = candidate.expanduser().resolve()
        if resolved.is_dir() and resolved not in found:
            found.append(resolved)
    return found


def config_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the configuration tree of highest precedence (see :func:`config_dirs`).

    Raises
    ------
    ConfigError
        If no tree exists at all (not even the package's built-ins).
    """
    dirs = config_dirs(explicit)
    if not dirs:
        raise ConfigError(
            f"no configuration directory found (not even {str(BUILTIN_CONFIG_DIR)!r}); "
            f"set ${CONFIG_DIR_ENV_VAR}"
        )
    return dirs[0]


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


def named_config_paths(
    kind: str, directory: str | os.PathLike[str] | None = None
) -> dict[str, Path]:
    """Return ``{name: file}`` of every named configuration of ``kind``, after precedence.

    Parameters
    ----------
    kind
        Sub-directory of the configuration trees: ``"presets"``, ``"levels"``, ``"stores"``.
    directory
        A configuration tree searched first.

    Examples
    --------
    >>> "quick" in named_config_paths("presets")
    True
    """
    found: dict[str, Path] = {}
    for tree in reversed(config_dirs(directory)):  # lower precedence first, then overridden
        folder = tree / kind
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            found[path.stem] = path
    return dict(sorted(found.items()))


def named_config(
    kind: str, name_or_path: str, directory: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Load the named configuration ``<kind>/<name>.yaml`` or a YAML file given by path.

    Parameters
    ----------
    kind
        Sub-directory of the configuration trees: ``"presets"``, ``"levels"``, ``"stores"``.
    name_or_path
        A name (``"quick"``) or a path to a ``.yaml`` file.
    directory
        A configuration tree searched first.

    Raises
    ------
    UnknownEntryError
        If no such named configuration exists; the message lists the available names.

    Examples
    --------
    >>> named_config("presets", "quick")["flow"]
    'temperature'
    """
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"}:
        return load_yaml(path)
    available = named_config_paths(kind, directory)
    if name_or_path not in available:
        raise UnknownEntryError(
            f"unknown {kind[:-1] if kind.endswith('s') else kind} {name_or_path!r}; "
            f"allowed: {', '.join(available) or '(none)'}"
        )
    return load_yaml(available[name_or_path])
