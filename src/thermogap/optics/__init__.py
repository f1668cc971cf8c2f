"""Optics: ε2 from tight binding, Kramers–Kronig, n, κ, α, Williams–Lax averages, Tauc gaps."""

from thermogap.optics.dielectric import (
    EnergyGrid,
    Epsilon2,
    absorption_coefficient_cm,
    epsilon2,
    kpoint_mesh,
    kramers_kronig_epsilon1,
    refractive_index,
)
from thermogap.optics.tauc import TaucFit, TaucFitError, tauc_fit, tauc_ordinate
from thermogap.optics.williams_lax import (
    OpticalSpectrum,
    optical_spectrum,
    snapshot_spectra,
    williams_lax_average,
)

__all__ = [
    "EnergyGrid",
    "Epsilon2",
    "OpticalSpectrum",
    "TaucFit",
    "TaucFitError",
    "absorption_coefficient_cm",
    "epsilon2",
    "kpoint_mesh",
    "kramers_kronig_epsilon1",
    "optical_spectrum",
    "refractive_index",
    "snapshot_spectra",
    "tauc_fit",
    "tauc_ordinate",
    "williams_lax_average",
]
