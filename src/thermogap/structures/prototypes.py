"""Cubic prototype structures and structure files.

The chalcogenide antiperovskites (CAP) of the seed paper, Ag3SBr and Ag3SI, are cubic
Pm-3m A3BX crystals: Ag (A) on the face centres, S (B) at the body centre and the halide
(X) at the cube corner; five atoms per cell.  The ordinary perovskite ABX3 is built for
comparison with the same conventions (A at the corner, B at the body centre, X on the faces).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from pymatgen.core import Element, Lattice, Structure

from thermogap.errors import InputError

__all__ = [
    "DEFAULT_LATTICE_PARAMETERS_ANG",
    "KNOWN_PROTOTYPES",
    "antiperovskite",
    "load_structure",
    "perovskite",
]

# The seed papers (shared/seeds 000-003) do not quote lattice parameters for the cubic
# phases.  These are the approximate values from the project brief (issue 3: "~4.9 A /
# 4.98 A") and only serve as a starting point: a relaxation with the level of theory in
# use (PBEsol in the paper) should replace them before anything quantitative is done.
DEFAULT_LATTICE_PARAMETERS_ANG: dict[str, float] = {
    "Ag3SBr": 4.90,
    "Ag3SI": 4.98,
}

_FACE_CENTRES = ((0.5, 0.5, 0.0), (0.5, 0.0, 0.5), (0.0, 0.5, 0.5))
_BODY_CENTRE = (0.5, 0.5, 0.5)
_CORNER = (0.0, 0.0, 0.0)


def _check_lattice_parameter(lattice_parameter_ang: float) -> float:
    try:
        value = float(lattice_parameter_ang)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{lattice_parameter_ang=} is not a number; expected a positive length in angstrom"
        ) from exc
    if not math.isfinite(value) or value <= 0.0:
        raise InputError(f"{lattice_parameter_ang=} must be a positive, finite length in angstrom")
    return value


def _check_species(**species: str) -> None:
    for role, symbol in species.items():
        if not isinstance(symbol, str) or not Element.is_valid_symbol(symbol):
            raise InputError(
                f"{role}={symbol!r} is not a chemical element symbol (e.g. 'Ag', 'S', 'Br')"
            )


def antiperovskite(
    lattice_parameter_ang: float, *, a: str = "Ag", b: str = "S", x: str = "Br"
) -> Structure:
    """Build the cubic Pm-3m antiperovskite A3BX unit cell.

    Parameters
    ----------
    lattice_parameter_ang : float
        Cubic lattice parameter in angstrom.
    a : str
        Species on the three face centres (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5).
    b : str
        Species at the body centre (0.5, 0.5, 0.5).
    x : str
        Species at the cube corner (0, 0, 0).

    Returns
    -------
    Structure
        Five sites, in the order A, A, A, B, X.

    Examples
    --------
    >>> antiperovskite(4.9, a="Ag", b="S", x="I").composition.reduced_formula
    'Ag3SI'

    """
    length = _check_lattice_parameter(lattice_parameter_ang)
    _check_species(a=a, b=b, x=x)
    return Structure(
        Lattice.cubic(length),
        [a, a, a, b, x],
        [*_FACE_CENTRES, _BODY_CENTRE, _CORNER],
    )


def perovskite(
    lattice_parameter_ang: float, *, a: str = "Ba", b: str = "Ti", x: str = "O"
) -> Structure:
    """Build the cubic Pm-3m perovskite ABX3 unit cell.

    Parameters
    ----------
    lattice_parameter_ang : float
        Cubic lattice parameter in angstrom.
    a : str
        Species at the cube corner (0, 0, 0).
    b : str
        Species at the body centre (0.5, 0.5, 0.5), inside the X6 octahedron.
    x : str
        Species on the three face centres.

    Returns
    -------
    Structure
        Five sites, in the order A, B, X, X, X.

    """
    length = _check_lattice_parameter(lattice_parameter_ang)
    _check_species(a=a, b=b, x=x)
    return Structure(
        Lattice.cubic(length),
        [a, b, x, x, x],
        [_CORNER, _BODY_CENTRE, *_FACE_CENTRES],
    )


def _ag3sbr() -> Structure:
    return antiperovskite(DEFAULT_LATTICE_PARAMETERS_ANG["Ag3SBr"], a="Ag", b="S", x="Br")


def _ag3si() -> Structure:
    return antiperovskite(DEFAULT_LATTICE_PARAMETERS_ANG["Ag3SI"], a="Ag", b="S", x="I")


#: Named structures that :func:`load_structure` builds without a file.
KNOWN_PROTOTYPES: dict[str, Callable[[], Structure]] = {
    "Ag3SBr": _ag3sbr,
    "Ag3SI": _ag3si,
}

_FILE_FORMATS = "CIF (*.cif), POSCAR/CONTCAR (or *.vasp), pymatgen JSON (*.json)"


def load_structure(path_or_name: str | Path) -> Structure:
    """Read a structure file or build a named prototype.

    Parameters
    ----------
    path_or_name : str or Path
        Path to a CIF/POSCAR (anything pymatgen's ``Structure.from_file`` reads), or the
        name of a known prototype (see ``KNOWN_PROTOTYPES``; case-insensitive, e.g.
        ``"Ag3SBr"``) built at its default lattice parameter.

    Returns
    -------
    Structure

    Raises
    ------
    InputError
        If the path does not exist and is not a known name, or the file cannot be parsed.

    """
    path = Path(path_or_name)
    if path.is_file():
        try:
            structure = Structure.from_file(path)
        except Exception as exc:  # pymatgen raises many types for unreadable files
            raise InputError(
                f"could not read a structure from {str(path)!r} ({type(exc).__name__}: {exc}); "
                f"supported formats: {_FILE_FORMATS}"
            ) from exc
        from thermogap.structures.validation import validate_structure

        return validate_structure(structure, repr(str(path)))
    by_lower = {name.lower(): name for name in KNOWN_PROTOTYPES}
    name = by_lower.get(str(path_or_name).strip().lower())
    if name is not None:
        return KNOWN_PROTOTYPES[name]()
    raise InputError(
        f"{str(path_or_name)!r} is neither an existing structure file nor a known prototype; "
        f"known prototypes: {sorted(KNOWN_PROTOTYPES)}; supported files: {_FILE_FORMATS}"
    )
