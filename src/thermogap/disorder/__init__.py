"""Chemical disorder: exact counts, listing and sampling of inequivalent configurations."""

from thermogap.disorder.counting import (
    SublatticeSymmetry,
    count_inequivalent,
    cycle_type,
    cycle_type_counts,
    sublattice_permutations,
    sublattice_symmetry,
)
from thermogap.disorder.enumeration import (
    CompositionEnumeration,
    DisorderEnumeration,
    InequivalentConfiguration,
    canonicalize,
    enumerate_composition,
    enumerate_disorder,
    list_inequivalent,
    sample_inequivalent,
)

__all__ = [
    "CompositionEnumeration",
    "DisorderEnumeration",
    "InequivalentConfiguration",
    "SublatticeSymmetry",
    "canonicalize",
    "count_inequivalent",
    "cycle_type",
    "cycle_type_counts",
    "enumerate_composition",
    "enumerate_disorder",
    "list_inequivalent",
    "sample_inequivalent",
    "sublattice_permutations",
    "sublattice_symmetry",
]
