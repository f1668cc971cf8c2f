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
