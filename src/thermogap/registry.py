"""A small registry of named, lazily imported objects (engines, architectures, ...)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from thermogap.errors import UnknownEntryError


class Registry:
    """Map names to objects given as ``"package.module:attribute"`` import paths.

    The import happens on first :meth:`get`, so registering an entry whose
    heavy dependency (torch, tblite, ...) is not installed costs nothing until
    it is used.

    Parameters
    ----------
    kind
        What the registry holds, used in error messages (``"engine"``, ``"GNN architecture"``).

    Examples
    --------
    >>> reg = Registry("engine")
    >>> reg.register("emt", "ase.calculators.emt:EMT")
    >>> reg.get("emt").__name__
    'EMT'
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._targets: dict[str, str | Callable[..., Any]] = {}

    def register(self, name: str, target: str | Callable[..., Any]) -> None:
        """Register ``target`` (an import path ``"module:attr"`` or an object) under ``name``."""
        if isinstance(target, str) and ":" not in target:
            raise ValueError(f"{target=} must look like 'package.module:attribute'")
        self._targets[name] = target

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def get(self, name: str) -> Any:
        """Return the object registered as ``name``, importing it if needed.

        Raises
        ------
        UnknownEntryError
            If ``name`` is not registered; the message lists the allowed names.
        """
        try:
            target = self._targets[name]
        except KeyError:
            raise UnknownEntryError(
                f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names()) or '(none)'}"
            ) from None
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module_name), attr)
            self._targets[name] = target
        return target


def lazy_module_getattr(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` that imports ``exports[name]``'s module on first use.

    Parameters
    ----------
    package
        Name of the package whose ``__getattr__`` this becomes (for error messages).
    exports
        Public name -> module that defines it.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
