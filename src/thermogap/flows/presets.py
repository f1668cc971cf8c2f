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
    validate_builder_settings(builder, settings, f"preset {preset.name!r}")
    if "db" in inspect.signature(builder).parameters:
        settings["db"] = db
    return builder(**settings)


def is_workflow_file(target: str) -> bool:
    """Whether ``target`` names a Python workflow script rather than a preset."""
    return Path(target).suffix == ".py"


def _settings_model(builder: Any) -> type[BaseModel] | None:
    """Return a pydantic model (``extra="forbid"``) of a builder's keyword arguments.

    ``None`` for builders taking ``**kwargs``: those validate their settings themselves (the
    temperature flow with :class:`~thermogap.flows.temperature.TemperatureStudySettings`).
    """
    import typing

    from pydantic import create_model

    signature = inspect.signature(builder)
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    hints = typing.get_type_hints(builder)
    fields: dict[str, Any] = {}
    for name, parameter in signature.parameters.items():
        if name == "db":
            continue
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[name] = (hints.get(name, Any), default)
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    return create_model(f"{builder.__name__}_settings", __config__=config, **fields)


def validate_builder_settings(builder: Any, settings: dict[str, Any], context: str = "") -> None:
    """Check ``settings`` against the builder's signature before it creates any job.

    Raises
    ------
    InputError
        For an unknown key (listing the allowed ones) or a value of the wrong type.
    """
    from thermogap.errors import InputError

    model = _settings_model(builder)
    if model is None:
        return
    clean = {k: v for k, v in settings.items() if k != "db"}
    try:
        model(**clean)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        where = f"{context}: " if context else ""
        if first["type"] == "extra_forbidden":
            allowed = ", ".join(n for n in model.model_fields)
            raise InputError(f"{where}unknown setting {key!r}; allowed: {allowed}") from None
        value = clean.get(str(first["loc"][0])) if first["loc"] else None
        raise InputError(f"{where}setting {key}={value!r} is invalid: {first['msg']}") from None


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
