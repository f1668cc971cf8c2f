"""Node features of crystal graphs: four atomic properties, min–max normalised.

Each atom (graph node) is described, as in the seed papers (000 Methods, 001 §5.2), by its
atomic number, atomic mass (amu), atomic radius (Å, pymatgen's empirical radius) and
Pauling electronegativity.  Each feature is mapped to [0, 1] with *fixed* ranges that do not
depend on the training set, so a model can be applied to any structure later; the ranges are
stored with every trained model (:class:`FeatureRanges`).

The default ranges are the extremes of the four properties over the elements H–Pu
(Z = 1–94) that have all four values in pymatgen; they are written out as numbers here so
that a pymatgen update cannot silently shift the inputs of a stored model.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from thermogap.errors import InputError

__all__ = [
    "DEFAULT_FEATURE_RANGES",
    "FEATURE_NAMES",
    "FeatureRanges",
    "element_feature_table",
    "node_features",
]

#: Order of the node-feature columns.
FEATURE_NAMES: tuple[str, ...] = (
    "atomic_number",
    "atomic_mass_amu",
    "atomic_radius_ang",
    "electronegativity_pauling",
)

_MAX_Z = 94


@dataclass(frozen=True)
class FeatureRanges:
    """Fixed (min, max) ranges used to min–max normalise the node features.

    Parameters
    ----------
    atomic_number, atomic_mass_amu, atomic_radius_ang, electronegativity_pauling
        ``(min, max)`` of each feature, in its own unit (–, amu, Å, Pauling).
    """

    atomic_number: tuple[float, float] = (1.0, 94.0)
    atomic_mass_amu: tuple[float, float] = (1.00794, 244.0)
    atomic_radius_ang: tuple[float, float] = (0.25, 2.6)
    electronegativity_pauling: tuple[float, float] = (0.79, 3.98)

    def __post_init__(self) -> None:
        for name in FEATURE_NAMES:
            low, high = getattr(self, name)
            if not (math.isfinite(low) and math.isfinite(high) and high > low):
                raise InputError(f"feature range {name}=({low}, {high}) must satisfy min < max")

    def as_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(minima, maxima)``, each ``shape=(4,)``, in :data:`FEATURE_NAMES` order."""
        lows = np.array([getattr(self, n)[0] for n in FEATURE_NAMES], dtype=float)
        highs = np.array([getattr(self, n)[1] for n in FEATURE_NAMES], dtype=float)
        return lows, highs

    def to_dict(self) -> dict[str, list[float]]:
        """Return a JSON-friendly dict (lists instead of tuples)."""
        return {k: [float(v[0]), float(v[1])] for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> FeatureRanges:
        """Inverse of :meth:`to_dict`."""
        unknown = set(data) - set(FEATURE_NAMES)
        if unknown:
            raise InputError(f"unknown feature ranges {sorted(unknown)}; allowed: {FEATURE_NAMES}")
        return cls(**{k: (float(v[0]), float(v[1])) for k, v in data.items()})


DEFAULT_FEATURE_RANGES = FeatureRanges()


@lru_cache(maxsize=1)
def element_feature_table() -> np.ndarray:
    """Raw (un-normalised) features of the elements, indexed by atomic number.

    Returns
    -------
    numpy.ndarray
        ``shape=(95, 4)``, dtype float; row ``Z`` holds the four features of element ``Z``
        in :data:`FEATURE_NAMES` order; rows of elements lacking a value (He, Ne, ...) and
        row 0 are NaN.
    """
    from pymatgen.core.periodic_table import Element

    table = np.full((_MAX_Z + 1, len(FEATURE_NAMES)), np.nan)
    with warnings.catch_warnings():  # pymatgen warns for noble gases without electronegativity
        warnings.simplefilter("ignore")
        for z in range(1, _MAX_Z + 1):
            element = Element.from_Z(z)
            radius = element.atomic_radius
            chi = element.X
            if radius is None or chi is None or not math.isfinite(float(chi)):
                continue
            table[z] = (z, float(element.atomic_mass), float(radius), float(chi))
    table.setflags(write=False)
    return table


def node_features(
    atomic_numbers: np.ndarray, ranges: FeatureRanges = DEFAULT_FEATURE_RANGES
) -> np.ndarray:
    """Normalised node features of a list of atoms.

    Parameters
    ----------
    atomic_numbers
        ``shape=(n_atoms,)``, integer atomic numbers.
    ranges
        Fixed normalisation ranges (stored with the model).

    Returns
    -------
    numpy.ndarray
        ``shape=(n_atoms, 4)``, float32; each column ``(value - min) / (max - min)``, so in
        [0, 1] for every element inside the ranges.

    Raises
    ------
    InputError
        If an element is beyond Pu or lacks one of the four properties (He, Ne, Ar, Kr, ...).
    """
    z = np.asarray(atomic_numbers, dtype=int)
    if z.size and (z.min() < 1 or z.max() > _MAX_Z):
        raise InputError(
            f"atomic numbers {sorted(set(z.tolist()))} outside the supported 1..{_MAX_Z}"
        )
    raw = element_feature_table()[z]
    if np.isnan(raw).any():
        bad = sorted(set(z[np.isnan(raw).any(axis=1)].tolist()))
        raise InputError(
            f"elements with Z={bad} lack an atomic radius or electronegativity in pymatgen; "
            "they cannot be graph nodes"
        )
    lows, highs = ranges.as_arrays()
    return ((raw - lows) / (highs - lows)).astype(np.float32)
