"""Crystal structures: cubic prototypes, structure files and solid-solution supercells."""

from thermogap.structures.identity import as_structure, content_id, structure_id
from thermogap.structures.prototypes import (
    KNOWN_PROTOTYPES,
    antiperovskite,
    load_structure,
    perovskite,
)
from thermogap.structures.solid_solution import (
    allowed_compositions,
    composition_to_count,
    make_supercell,
    solid_solution_supercell,
    sublattice_indices,
    vegard_lattice_parameter,
)

__all__ = [
    "KNOWN_PROTOTYPES",
    "allowed_compositions",
    "antiperovskite",
    "as_structure",
    "composition_to_count",
    "content_id",
    "load_structure",
    "make_supercell",
    "perovskite",
    "solid_solution_supercell",
    "structure_id",
    "sublattice_indices",
    "vegard_lattice_parameter",
]
