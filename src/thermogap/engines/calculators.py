"""Factories for the ASE calculators registered in :mod:`thermogap.engines`.

Each factory imports its backend lazily and never downloads anything: CHGNet
loads the weights shipped inside its wheel, tblite has its parameters compiled in.
"""

from __future__ import annotations

import contextlib
import io
from typing import TYPE_CHECKING, Any

from thermogap.errors import InputError, MissingModelError

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

#: CHGNet versions whose weights ship inside the ``chgnet`` wheel.
CHGNET_BUNDLED_MODELS = ("0.3.0", "0.2.0")


def chgnet_calculator(model_name: str = "0.3.0", device: str = "cpu", **kwargs: Any) -> Calculator:
    """CHGNet calculator with weights from the installed wheel (offline).

    Parameters
    ----------
    model_name
        Bundled CHGNet version, one of :data:`CHGNET_BUNDLED_MODELS`.
    device
        Torch device, ``"cpu"`` or ``"cuda"``.
    **kwargs
        Passed to ``chgnet.model.dynamics.CHGNetCalculator``.

    Returns
    -------
    chgnet.model.dynamics.CHGNetCalculator
        Energy (eV), forces (eV/Å), stress (eV/Å^3, ASE sign convention).
    """
    if model_name not in CHGNET_BUNDLED_MODELS:
        raise InputError(
            f"{model_name=} is not a CHGNet model bundled in the wheel; "
            f"allowed: {', '.join(CHGNET_BUNDLED_MODELS)}"
        )
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    # CHGNet prints its device and version to stdout; keep library output quiet.
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            model = CHGNet.load(model_name=model_name, use_device=device, verbose=False)
        except FileNotFoundError as exc:  # pragma: no cover - broken install
            raise MissingModelError(f"CHGNet {model_name=} weights not found: {exc}") from exc
        return CHGNetCalculator(model=model, use_device=device, **kwargs)


def _tblite_calculator(
    method: str, accuracy: float, max_iterations: int, **kwargs: Any
) -> Calculator:
    from tblite.ase import TBLite

    return TBLite(
        method=method, accuracy=accuracy, max_iterations=max_iterations, verbosity=0, **kwargs
    )


def tblite_gfn1_calculator(
    accuracy: float = 1.0, max_iterations: int = 250, **kwargs: Any
) -> Calculator:
    """GFN1-xTB through ``tblite.ase.TBLite`` (energy eV, forces eV/Å, stress eV/Å^3)."""
    return _tblite_calculator("GFN1-xTB", accuracy, max_iterations, **kwargs)


def tblite_ipea1_calculator(
    accuracy: float = 1.0, max_iterations: int = 250, **kwargs: Any
) -> Calculator:
    """IPEA1-xTB through ``tblite.ase.TBLite`` (energy eV, forces eV/Å, stress eV/Å^3)."""
    return _tblite_calculator("IPEA1-xTB", accuracy, max_iterations, **kwargs)


def tblite_gfn2_calculator(
    accuracy: float = 1.0, max_iterations: int = 250, **kwargs: Any
) -> Calculator:
    """GFN2-xTB through ``tblite.ase.TBLite`` (energy eV, forces eV/Å, stress eV/Å^3)."""
    return _tblite_calculator("GFN2-xTB", accuracy, max_iterations, **kwargs)
