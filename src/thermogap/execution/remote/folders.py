"""Point jobflow-remote at a projects folder for the duration of a ``with`` block.

jobflow-remote reads ``$JFREMOTE_PROJECTS_FOLDER`` (default ``~/.jfremote``) once, when it is
first imported; :func:`projects_folder` swaps its settings object and restores it after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "projects_folder",
]


def _projects_dir(folder: str | os.PathLike[str] | None) -> Path:
    if folder is None:
        folder = os.environ.get("JFREMOTE_PROJECTS_FOLDER", "~/.jfremote")
    return Path(folder).expanduser().resolve()


@contextmanager
def _settings_for(folder: str | os.PathLike[str] | None) -> Iterator[None]:
    """Swap jobflow-remote's import-time settings object; restore it on exit."""
    import jobflow_remote
    from jobflow_remote.config.settings import JobflowRemoteSettings

    previous = jobflow_remote.SETTINGS
    if folder is None:
        yield
        return
    jobflow_remote.SETTINGS = JobflowRemoteSettings(projects_folder=str(_projects_dir(folder)))
    try:
        yield
    finally:
        jobflow_remote.SETTINGS = previous


@contextmanager
def projects_folder(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Make jobflow-remote read its projects from ``folder`` inside the ``with`` block.

    Sets ``$JFREMOTE_PROJECTS_FOLDER`` (for ``jf`` subprocesses) and jobflow-remote's
    settings object (read when it was imported) and restores both on exit.

    Yields
    ------
    Path
        The absolute projects folder.
    """
    path = _projects_dir(folder)
    old_env = os.environ.get("JFREMOTE_PROJECTS_FOLDER")
    os.environ["JFREMOTE_PROJECTS_FOLDER"] = str(path)
    try:
        with _settings_for(path):
            yield path
    finally:
        if old_env is None:
            os.environ.pop("JFREMOTE_PROJECTS_FOLDER", None)
        else:
            os.environ["JFREMOTE_PROJECTS_FOLDER"] = old_env
