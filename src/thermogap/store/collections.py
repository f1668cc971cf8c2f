"""Names of the results database's collections, defined once for every module that uses them.

Only string constants live here, so any layer may import them without pulling in a backend.
"""

from __future__ import annotations

__all__ = [
    "BAND_GAPS",
    "COLLECTIONS",
    "CONFIGURATIONS",
    "DISORDER",
    "ELECTRON_PHONON",
    "LABELS",
    "MODELS",
    "PHONONS",
    "RUNS",
    "STRUCTURES",
    "TRAJECTORIES",
]

#: Relaxed parent structures.
STRUCTURES = "structures"
#: Harmonic and effective phonon documents (force constants in the blob store).
PHONONS = "phonons"
#: Displaced or MD-sampled configurations waiting for labels.
CONFIGURATIONS = "configurations"
#: Labels (energies, forces, band gaps) of configurations at a level of theory.
LABELS = "labels"
#: Trained MLIP and GNN models.
MODELS = "models"
#: MD trajectories.
TRAJECTORIES = "trajectories"
#: Finite-temperature band gaps Eg(x, T).
BAND_GAPS = "band_gaps"
#: Rankings of disordered configurations.
DISORDER = "disorder"
#: Electron–phonon (Γ-mode) gap renormalisations.
ELECTRON_PHONON = "electron_phonon"
#: One record per finished flow run.
RUNS = "runs"

#: Every collection the results database creates, in creation order.
COLLECTIONS = (
    STRUCTURES,
    PHONONS,
    CONFIGURATIONS,
    LABELS,
    MODELS,
    TRAJECTORIES,
    BAND_GAPS,
    DISORDER,
    ELECTRON_PHONON,
    RUNS,
)
