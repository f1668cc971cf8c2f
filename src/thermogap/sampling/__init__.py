"""Phonon-informed thermal displacements and displaced-configuration sampling."""

from thermogap.sampling.amplitudes import (
    DEFAULT_FREQUENCY_CUTOFF_THZ,
    ThermalAmplitudes,
    thermal_amplitude_analysis,
    thermal_amplitudes,
    thermal_mode_basis,
)
from thermogap.sampling.batch import SCHEMES, DisplacementBatch, sample_displacements
from thermogap.sampling.displacements import (
    batch_rng,
    gaussian_displacements,
    map_to_parent_sites,
    mixed_site_amplitudes,
    phonon_displacements,
    random_displacements,
)

__all__ = [
    "DEFAULT_FREQUENCY_CUTOFF_THZ",
    "SCHEMES",
    "DisplacementBatch",
    "ThermalAmplitudes",
    "batch_rng",
    "gaussian_displacements",
    "map_to_parent_sites",
    "mixed_site_amplitudes",
    "phonon_displacements",
    "random_displacements",
    "sample_displacements",
    "thermal_amplitude_analysis",
    "thermal_amplitudes",
    "thermal_mode_basis",
]
