"""Harmonic phonons: force constants with any ASE calculator (phonopy) and their analysis."""

from thermogap.phonons.analysis import (
    DEFAULT_STABILITY_TOLERANCE_THZ,
    PhononAnalysis,
    analyse_phonons,
    band_structure,
    density_of_states,
    find_imaginary_modes,
    is_dynamically_stable,
    standard_band_path,
)
from thermogap.phonons.harmonic import (
    compute_force_constants,
    phonon_id,
    phonopy_from_force_constants,
    structure_to_phonopy_atoms,
)
from thermogap.phonons.storage import load_phonopy, phonopy_from_doc

__all__ = [
    "DEFAULT_STABILITY_TOLERANCE_THZ",
    "PhononAnalysis",
    "analyse_phonons",
    "band_structure",
    "compute_force_constants",
    "density_of_states",
    "find_imaginary_modes",
    "is_dynamically_stable",
    "load_phonopy",
    "phonon_id",
    "phonopy_from_doc",
    "phonopy_from_force_constants",
    "standard_band_path",
    "structure_to_phonopy_atoms",
]
