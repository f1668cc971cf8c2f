"""custodian error handlers for VASP levels, chosen by name in the level YAML."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from thermogap.errors import ConfigError

if TYPE_CHECKING:
    from custodian.custodian import ErrorHandler

    from thermogap.levels.model import CustodianSettings

__all__ = ["custodian_handlers", "run_vasp_kwargs"]


def custodian_handlers(names: list[str]) -> list[ErrorHandler]:
    """Instantiate ``custodian.vasp.handlers`` classes by name.

    Raises
    ------
    ConfigError
        If a name is not an error handler of ``custodian.vasp.handlers``; lists the allowed ones.
    """
    from custodian.custodian import ErrorHandler
    from custodian.vasp import handlers as vasp_handlers

    allowed = sorted(
        name
        for name, obj in vars(vasp_handlers).items()
        if isinstance(obj, type) and issubclass(obj, ErrorHandler) and obj is not ErrorHandler
    )
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ConfigError(f"unknown custodian handler(s) {unknown}; allowed: {', '.join(allowed)}")
    return [getattr(vasp_handlers, n)() for n in names]


def run_vasp_kwargs(settings: CustodianSettings) -> dict[str, Any]:
    """Keyword arguments of ``atomate2.vasp.run.run_vasp`` for these custodian settings."""
    kwargs: dict[str, Any] = {
        "max_errors": settings.max_errors,
        "handlers": custodian_handlers(settings.handlers),
        "custodian_kwargs": {"polling_time_step": settings.polling_time_step_s},
    }
    if settings.vasp_cmd is not None:
        kwargs["vasp_cmd"] = settings.vasp_cmd
    return kwargs
