"""Bring phonons computed elsewhere (atomate2, phonopy) into thermogap's phonon documents."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jobflow import Maker

from thermogap.execution import tg_job
from thermogap.schemas.phonons import PhononDoc, PhononSettings

__all__ = ["ImportPhononsMaker", "import_phonons"]


def import_phonons(source: Any) -> tuple[Any, str, dict[str, Any]]:
    """Build phonopy from ``source`` and say where it came from.

    Parameters
    ----------
    source
        An atomate2 ``PhononBSDOSDoc`` (object or dictionary), a ``phonopy.Phonopy`` with force
        constants, or the path of a ``phonopy.yaml`` holding force constants.

    Returns
    -------
    tuple
        ``(phonon, origin, details)``: the phonopy object, ``"atomate2"`` or ``"phonopy"``, and
        what identifies the calculation (the force constants' SHA-256, atomate2's code).
    """
    from phonopy import Phonopy

    from thermogap.phonons.interop import phonopy_from_atomate2, phonopy_from_file

    details: dict[str, Any] = {}
    if isinstance(source, Phonopy):
        phonon, origin = source, "phonopy"
    elif isinstance(source, str):
        phonon, origin = phonopy_from_file(source), "phonopy"
        details["file"] = source
    else:
        phonon, origin = phonopy_from_atomate2(source), "atomate2"
        code = source.get("code") if isinstance(source, dict) else getattr(source, "code", None)
        details["code"] = str(code) if code is not None else None
    fc = np.ascontiguousarray(phonon.force_constants, dtype=float)
    details["force_constants_sha256"] = hashlib.sha256(fc.tobytes()).hexdigest()
    return phonon, origin, details


@dataclass
class ImportPhononsMaker(Maker):
    """Turn phonons made by atomate2 or phonopy into a thermogap phonon document.

    The output is a :class:`~thermogap.schemas.phonons.PhononDoc` like the one of
    :class:`thermogap.jobs.phonons.PhononMaker`, so it can be handed to the sampling and
    finite-temperature Makers, and the analysis reads the same band structure, DOS and
    stability verdict.

    Parameters
    ----------
    name
        Job name.
    settings
        Band path, DOS mesh and stability tolerance of the analysis.

    Examples
    --------
    >>> from atomate2.forcefields.flows.phonons import PhononMaker as Atomate2Phonons
    >>> a2 = Atomate2Phonons(min_length=8.0).make(structure)  # doctest: +SKIP
    >>> imported = ImportPhononsMaker().make(a2.output)  # doctest: +SKIP
    """

    name: str = "import phonons"
    settings: PhononSettings = field(default_factory=PhononSettings)

    @tg_job
    def make(self, source: Any) -> PhononDoc:
        """Analyse the phonons of ``source`` (see :func:`import_phonons`); no database.

        The force constants become a blob carried by the returned document; the ``phonons``
        collection is built from it afterwards.
        """
        from thermogap.execution.artifacts import current_blobs
        from thermogap.jobs.phonons import analyse_with_settings, phonon_document
        from thermogap.phonons.interop import structure_of_phonopy

        phonon, origin, details = import_phonons(source)
        structure = structure_of_phonopy(phonon)
        analysis = analyse_with_settings(phonon, self.settings)
        fc_ref = current_blobs().put_array(
            np.asarray(phonon.force_constants), kind="force_constants"
        )
        return phonon_document(
            structure,
            phonon,
            analysis,
            force_constants_ref=fc_ref.model_dump(),
            calculator=origin,
            calculator_kwargs=details,
            model_id=None,
            settings=self.settings,
        )
