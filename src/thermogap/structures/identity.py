"""Deterministic ids of structures and of anything defined by a set of fields."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
from pymatgen.core import Structure


def content_id(**fields: Any) -> str:
    """Deterministic id (16 hex digits of a SHA-256) of JSON-serialisable defining fields."""
    blob = json.dumps(fields, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def structure_id(structure: Structure) -> str:
    """Deterministic id (16 hex digits) of a structure: lattice, species and positions to 1e-6."""
    return content_id(
        lattice=np.round(structure.lattice.matrix, 6).tolist(),
        species=[site.specie.symbol for site in structure],
        frac=np.round(np.mod(structure.frac_coords, 1.0), 6).tolist(),
    )


def as_structure(value: Any) -> Structure:
    """Return ``value`` as a pymatgen ``Structure`` (it may be one, or its ``as_dict()``).

    Documents passed between jobs hold structures as dicts, but jobflow decodes serialised
    pymatgen objects when it resolves a reference, so a job may receive either.

    Examples
    --------
    >>> from pymatgen.core import Lattice
    >>> s = Structure(Lattice.cubic(3.0), ["Si"], [[0, 0, 0]])
    >>> as_structure(s.as_dict()) == as_structure(s) == s
    True
    """
    if isinstance(value, Structure):
        return value
    return Structure.from_dict(value)
