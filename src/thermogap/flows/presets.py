"""Presets: YAML data (built-ins in ``thermogap/data/presets/``) choosing a flow and settings."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from jobflow import Flow
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thermogap.configs import named_config
from thermogap.errors import ConfigError, first_validation_problem
from thermogap.flows.registry import FLOW_BUILDERS


class Preset(BaseModel):
    """A named, documented set of flow settings."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., description="Preset name.")
    description: str = Field("", description="What the preset is for, in one sentence.")
    flow: str = Field(..., description="Name of the flow builder in FLOW_BUILDERS.")
    levels: list[str] = Field(
        default_factory=list, description="Levels of theory the preset's results come from."
    )
    settings: dict[str, Any] = Field(default_factory=dict, description="Builder keyword arguments.")


def load_preset(name_or_path: str) -> Preset:
    """Load a preset by name (``quick``) or path, with one-line errors for bad files."""
    raw = named_config("presets", name_or_path)
    try:
        return Preset(**raw)
    except ValidationError as exc:
        problem = first_validation_problem(exc)
        raise ConfigError(f"invalid preset {name_or_path!r}: {problem}") from None


def build_preset_flow(
    preset: Preset, overrides: dict[str, Any] | None = None, db: Any = None
) -> Flow:
    """Build the flow of ``preset`` (settings updated by ``overrides``).

    Builders that take a ``db`` argument get the results database, to check references to
    stored objects (model ids) before any job is created.
    """
    builder = FLOW_BUILDERS.get(preset.flow)
    settings = apply_overrides(preset.settings, overrides or {})
    if "db" in inspect.signature(builder).parameters:
        settings["db"] = db
    return builder(**settings)


def is_workflow_file(target: str) -> bool:
    """Whether ``target`` names a Python workflow script rather than a preset."""
    return Path(target).suffix == ".py"


def apply_overrides(settings: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return ``settings`` with ``overrides`` applied; a dotted key edits one nested setting.

    ``{"md.total_time_ps": 0.5}`` changes only ``total_time_ps`` inside ``md`` and keeps the
    other MD settings; a plain key replaces the whole value.

    Raises
    ------
    ConfigError
        If a dotted key goes through a setting that is not a mapping.

    Examples
    --------
    >>> base = {"md": {"total_time_ps": 1.0, "timestep_fs": 1.0}, "seed": 0}
    >>> apply_overrides(base, {"md.total_time_ps": 0.5, "seed": 3})
    {'md': {'total_time_ps': 0.5, 'timestep_fs': 1.0}, 'seed': 3}
    >>> base["md"]["total_time_ps"]
    1.0
    """
    import copy

    result = copy.deepcopy(settings)
    for key, value in overrides.items():
        *parents, leaf = key.split(".")
        node = result
        for depth, part in enumerate(parents):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(parents[: depth + 1])
                raise ConfigError(
                    f"--set {key}=...: setting {where!r} is {child!r}, not a mapping; "
                    f"set it whole with --set {where}=VALUE"
                )
            node = child
        node[leaf] = value
    return result
