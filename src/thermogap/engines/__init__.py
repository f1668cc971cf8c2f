"""Embedded engines: ASE calculators and the embedded labelling engine.

Calculators are looked up by name in :data:`CALCULATORS`, a
:class:`~thermogap.registry.Registry` whose entries are imported only when used,
so ``import thermogap.engines`` never imports torch, CHGNet or tblite.

Registered names
----------------
``chgnet``
    CHGNet universal potential, weights from inside the ``chgnet`` wheel (no download);
    energy (eV), forces (eV/Å), stress (eV/Å^3, ASE sign convention).
``tblite-gfn1``, ``tblite-ipea1``, ``tblite-gfn2``
    Extended tight binding (GFN1-xTB, IPEA1-xTB, GFN2-xTB) through ``tblite.ase.TBLite``.
``stillinger-weber-si``
    Stillinger–Weber silicon (matscipy ``Manybody``), classical and fast, for the optics MD.

Examples
--------
>>> from thermogap.engines import engine_names
>>> "chgnet" in engine_names()
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from thermogap.registry import Registry

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

__all__ = ["CALCULATORS", "engine_names", "get_calculator"]

#: Factories ``(**kwargs) -> ase Calculator`` by engine name (lazy imports).
CALCULATORS = Registry("engine")
CALCULATORS.register("chgnet", "thermogap.engines.calculators:chgnet_calculator")
CALCULATORS.register("tblite-gfn1", "thermogap.engines.calculators:tblite_gfn1_calculator")
CALCULATORS.register("tblite-ipea1", "thermogap.engines.calculators:tblite_ipea1_calculator")
CALCULATORS.register("tblite-gfn2", "thermogap.engines.calculators:tblite_gfn2_calculator")
CALCULATORS.register("stillinger-weber-si", "thermogap.optics.sampling:stillinger_weber_si")


def get_calculator(name: str, **kwargs: Any) -> Calculator:
    """Build the ASE calculator registered as ``name``.

    Parameters
    ----------
    name
        Engine name, one of :func:`engine_names`.
    **kwargs
        Passed to the engine's factory (e.g. ``model_name="0.3.0"`` or
        ``device="cpu"`` for CHGNet, ``accuracy=`` / ``max_iterations=`` for tblite).

    Returns
    -------
    ase.calculators.calculator.Calculator
        A fresh calculator; energies in eV, forces in eV/Å, stress in eV/Å^3 (ASE sign).

    Raises
    ------
    UnknownEntryError
        If ``name`` is not registered; the message lists the allowed names.
    """
    factory = CALCULATORS.get(name)
    return factory(**kwargs)


def engine_names() -> list[str]:
    """Return the names accepted by :func:`get_calculator`, sorted."""
    return CALCULATORS.names()
