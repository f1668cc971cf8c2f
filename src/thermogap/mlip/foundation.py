"""Locate foundation MLIP files (e.g. ``mace-mpa-0-medium.model``) offline.

thermogap never downloads model weights. A foundation model is given either as a path to a
file or as a name that is looked up in a model directory. The directory is the one passed
in, else ``$THERMOGAP_MODEL_DIR`` (read when the lookup happens, not at import), else
``~/.cache/thermogap/models``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from thermogap.errors import MissingModelError
from thermogap.mlip.calculator import file_sha256

__all__ = [
    "FOUNDATION_SUFFIXES",
    "KNOWN_FOUNDATION_SOURCES",
    "MODEL_DIR_VARIABLE",
    "FoundationModel",
    "default_model_dir",
    "resolve_foundation_model",
]

#: Environment variable naming the directory that holds foundation model files.
MODEL_DIR_VARIABLE = "THERMOGAP_MODEL_DIR"

#: File name endings tried after a bare name, in order.
FOUNDATION_SUFFIXES = ("", ".model")

#: Where to obtain well-known foundation models by hand (printed in the error message).
KNOWN_FOUNDATION_SOURCES = {
    "mace-mpa-0-medium": "https://github.com/ACEsuit/mace-foundations/releases "
    "(file mace-mpa-0-medium.model)",
    "mace-mp-0-medium": "https://github.com/ACEsuit/mace-foundations/releases "
    "(file 2023-12-03-mace-128-L1_epoch-199.model, renamed to mace-mp-0-medium.model)",
    "mace-omat-0-medium": "https://github.com/ACEsuit/mace-foundations/releases "
    "(file mace-omat-0-medium.model)",
}


@dataclass(frozen=True)
class FoundationModel:
    """A foundation model file found on disk.

    Attributes
    ----------
    name
        Name of the model (file name without ``.model``).
    path
        Absolute path of the file.
    sha256
        SHA-256 hex digest of the file.
    """

    name: str
    path: Path
    sha256: str


def default_model_dir() -> Path:
    """Return ``$THERMOGAP_MODEL_DIR`` if set, else ``~/.cache/thermogap/models``."""
    configured = os.environ.get(MODEL_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "thermogap" / "models"


def resolve_foundation_model(
    name_or_path: str | os.PathLike[str], model_dir: str | os.PathLike[str] | None = None
) -> FoundationModel:
    """Find a foundation model file by path or by name in the model directory.

    Parameters
    ----------
    name_or_path
        A path to an existing file, or a name such as ``"mace-mpa-0-medium"`` looked up as
        ``<model_dir>/<name>`` and ``<model_dir>/<name>.model``.
    model_dir
        Directory of foundation model files (see :func:`default_model_dir`).

    Returns
    -------
    FoundationModel
        Name, absolute path and SHA-256 of the file.

    Raises
    ------
    MissingModelError
        If no file is found; the message names the file to place and the directory.
    """
    given = Path(name_or_path).expanduser()
    if given.is_file():
        path = given.resolve()
        return FoundationModel(name=_model_name(path), path=path, sha256=file_sha256(path))
    directory = Path(model_dir).expanduser() if model_dir is not None else default_model_dir()
    name = str(name_or_path)
    candidates = [directory / f"{name}{suffix}" for suffix in FOUNDATION_SUFFIXES]
    for candidate in candidates:
        if candidate.is_file():
            path = candidate.resolve()
            return FoundationModel(name=_model_name(path), path=path, sha256=file_sha256(path))
    stem = _model_name(Path(name))
    source = KNOWN_FOUNDATION_SOURCES.get(stem, "the model's publisher")
    available = sorted(p.name for p in directory.glob("*.model")) if directory.is_dir() else []
    raise MissingModelError(
        f"foundation model {name!r} not found (thermogap never downloads models): "
        f"place the file {stem}.model in {str(directory)!r} "
        f"(set by model_dir or ${MODEL_DIR_VARIABLE}), or pass a path to the file. "
        f"Obtain it from {source}. Looked for: {', '.join(str(c) for c in candidates)}. "
        f"Files present there: {', '.join(available) or '(none)'}"
    )


def _model_name(path: Path) -> str:
    return path.name[: -len(".model")] if path.name.endswith(".model") else path.name
