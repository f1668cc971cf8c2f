"""Tight-binding electronic structure: sp3s* Slater–Koster model, H(k), ∂H/∂k, model registry."""

from thermogap.tb.hamiltonian import BlochHamiltonian, cartesian_kpoints
from thermogap.tb.parameters import GAAS_VOGL, PARAMETER_SETS, SI_VOGL, Sp3sStarParameters
from thermogap.tb.registry import HAMILTONIAN_MODELS, HamiltonianModel, get_hamiltonian_model
from thermogap.tb.slater_koster import Sp3sStarModel

__all__ = [
    "GAAS_VOGL",
    "HAMILTONIAN_MODELS",
    "PARAMETER_SETS",
    "SI_VOGL",
    "BlochHamiltonian",
    "HamiltonianModel",
    "Sp3sStarModel",
    "Sp3sStarParameters",
    "cartesian_kpoints",
    "get_hamiltonian_model",
]
