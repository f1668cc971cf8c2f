"""Registry of Hamiltonian models, so the optics code never names a model.

A Hamiltonian model is any object with ``name: str`` and ``hamiltonian(atoms) ->
BlochHamiltonian``; it is built by a factory registered here with keyword settings. A learned
tight-binding model (DeePTB-style, predicting the same real-space blocks) is added with one
``HAMILTONIAN_MODELS.register("name", "package.module:factory")`` line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from thermogap.registry import Registry

if TYPE_CHECKING:
    from ase import Atoms

    from thermogap.tb.hamiltonian import BlochHamiltonian

__all__ = ["HAMILTONIAN_MODELS", "HamiltonianModel", "get_hamiltonian_model"]


class HamiltonianModel(Protocol):
    """What the optics code needs from a tight-binding model."""

    name: str

    def hamiltonian(self, atoms: Atoms) -> BlochHamiltonian:
        """Return the Bloch Hamiltonian of one periodic configuration."""
        ...


HAMILTONIAN_MODELS = Registry("Hamiltonian model")
HAMILTONIAN_MODELS.register("sp3s*-vogl", "thermogap.tb.slater_koster:Sp3sStarModel")


def get_hamiltonian_model(name: str, **settings: Any) -> HamiltonianModel:
    """Build the Hamiltonian model registered as ``name`` with ``settings``.

    Examples
    --------
    >>> get_hamiltonian_model("sp3s*-vogl", bond_scaling_exponent=0.0).bond_scaling_exponent
    0.0
    """
    factory = HAMILTONIAN_MODELS.get(name)
    model: HamiltonianModel = factory(**settings)
    return model
