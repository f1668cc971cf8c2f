"""jobflow Maker for harmonic phonons with any registered calculator."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from jobflow import Maker
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.phonons.analysis import PhononAnalysis, analyse_phonons
from thermogap.phonons.harmonic import compute_force_constants, phonon_id, supercell_matrix_array
from thermogap.schemas.base import make_provenance
from thermogap.schemas.phonons import (
    ImaginaryModeDoc,
    PhononBandStructureDoc,
    PhononDoc,
    PhononDosDoc,
    PhononSettings,
    RelaxedStructureDoc,
    SoftModeDoc,
)
from thermogap.store import collections as names
from thermogap.structures.identity import as_structure, structure_id

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator
    from phonopy import Phonopy

__all__ = [
    "ParentRelaxMaker",
    "PhononMaker",
    "build_calculator",
    "phonon_document",
    "relaxed_lattice_parameters",
    "store_external_phonons",
    "structure_record",
]

STRUCTURES_COLLECTION = names.STRUCTURES


@dataclass
class PhononMaker(Maker):
    """Harmonic phonons of a unit cell: force constants, band structure, DOS, stability.

    The job opens no database: it returns a :class:`PhononDoc` whose force constants are a
    blob reference written with :func:`~thermogap.execution.artifacts.current_blobs`, so the
    bytes travel with the document (``artifacts``). The ``phonons`` collection is built from
    these outputs afterwards (:mod:`thermogap.store.builders`, key ``phonon_id``).

    Parameters
    ----------
    name : str
        Job name.
    calculator : str
        Engine name resolved with :func:`thermogap.engines.get_calculator` when the job runs
        and ``make`` is given no ``mlip``.
    calculator_kwargs : dict
        Keyword arguments of the engine factory (or of
        :func:`thermogap.mlip.calculator.calculator_from_model`: ``device``, ``dtype``).
    supercell_matrix : list
        Three repetitions or a 3x3 integer matrix (paper: 2x2x2 of the 5-atom cell).
    settings : PhononSettings
        Displacement, symmetrisation, band path, DOS mesh and stability tolerance.
    model_id : str or None
        No longer used: a job does not look models up by id. Pass the model document to
        ``make`` (a flow embeds a stored model with
        :func:`thermogap.execution.artifacts.document_with_artifacts`); any other value
        than ``None`` is refused.

    Examples
    --------
    >>> from thermogap.structures import load_structure
    >>> job = PhononMaker(calculator="chgnet").make(load_structure("Ag3SBr"))
    >>> on_mlip = PhononMaker().make(load_structure("Ag3SBr"), training.output)  # doctest: +SKIP
    """

    name: str = "harmonic phonons"
    calculator: str = "chgnet"
    calculator_kwargs: dict[str, Any] = field(default_factory=dict)
    supercell_matrix: list[int] | list[list[int]] = field(default_factory=lambda: [2, 2, 2])
    settings: PhononSettings = field(default_factory=PhononSettings)
    model_id: str | None = None

    def __post_init__(self) -> None:
        if self.model_id is not None:
            raise InputError(
                f"PhononMaker(model_id={self.model_id!r}): jobs no longer look models up by "
                "id; pass the model document as make(structure, mlip) (a stored model: "
                "thermogap.execution.artifacts.document_with_artifacts(db.blobs, doc))"
            )

    @tg_job
    def make(
        self,
        structure: Structure,
        mlip: Any = None,
        relaxation: RelaxedStructureDoc | None = None,
    ) -> PhononDoc:
        """Compute the phonons of ``structure`` (an ordered unit cell).

        Parameters
        ----------
        structure : Structure
            Unit cell.
        mlip : MlipModelDoc or dict or str, optional
            The forces' model: the document of a trained MLIP (a training job's output, or
            a stored model embedded with its bytes), or an engine name (``"chgnet"``,
            ``"emt"``); default the Maker's ``calculator``.
        relaxation : RelaxedStructureDoc, optional
            Output of :class:`ParentRelaxMaker`: replaces ``structure`` by the relaxed cell
            and marks the document ``relaxed``.
        """
        from thermogap.execution.artifacts import current_blobs
        from thermogap.mlip.relaxation import pressure_gpa, single_point

        if relaxation is not None:
            relaxation = RelaxedStructureDoc.model_validate(relaxation)
            structure = relaxation.structure
        structure = as_structure(structure)
        engine, model = _engine_or_model(mlip, self.calculator)
        calc = build_calculator(engine, self.calculator_kwargs, model)
        pressure = pressure_gpa(
            single_point(AseAtomsAdaptor.get_atoms(structure), calc).stress_ev_per_ang3
        )
        phonon = compute_force_constants(
            structure,
            calc,
            supercell_matrix=self.supercell_matrix,
            displacement_ang=self.settings.displacement_ang,
            symmetrize=self.settings.symmetrize_force_constants,
            symprec=self.settings.symprec,
        )
        analysis = analyse_with_settings(phonon, self.settings)
        fc_ref = current_blobs().put_array(
            np.asarray(phonon.force_constants), kind="force_constants"
        )
        doc = phonon_document(
            structure,
            phonon,
            analysis,
            force_constants_ref=fc_ref.model_dump(),
            calculator=engine,
            calculator_kwargs=self.calculator_kwargs,
            model_id=None if model is None else model.get("model_id"),
            settings=self.settings,
            model_sha256=None if model is None else model.get("sha256"),
            relaxed=relaxation is not None,
            pressure_gpa=pressure,
        )
        print(  # the lattice parameter behind every phonon result, on screen (stderr: --json)
            f"{doc.formula}: phonons with {doc.calculator} of a {len(structure)}-atom cell, "
            f"V^(1/3) = {doc.lattice_parameter_ang:.4f} Å "
            f"({'relaxed by ParentRelaxMaker' if doc.relaxed else 'cell as given'}, "
            f"p = {pressure:+.2f} GPa); "
            f"{doc.soft_modes.n_imaginary if doc.soft_modes else 0} imaginary modes "
            f"({doc.soft_modes.fraction_of_modes if doc.soft_modes else 0.0:.0%}) on the DOS mesh",
            file=sys.stderr,
        )
        return doc


def _engine_or_model(mlip: Any, default_engine: str) -> tuple[str, dict[str, Any] | None]:
    """``(engine name, model document or None)`` of a ``mlip`` argument of a job."""
    if mlip is None:
        return default_engine, None
    if isinstance(mlip, str):
        return mlip, None
    doc = mlip.model_dump(mode="json") if hasattr(mlip, "model_dump") else mlip
    if not isinstance(doc, dict) or "model_blob" not in doc:
        raise InputError(
            f"mlip must be an MLIP model document (a training job's output) or an engine "
            f"name, got {str(mlip)[:80]!r}"
        )
    return "mlip", doc


def analyse_with_settings(phonon: Any, settings: PhononSettings) -> Any:
    """Band structure, DOS and stability of ``phonon`` with the analysis part of ``settings``."""
    return analyse_phonons(
        phonon,
        band_npoints=settings.band_npoints,
        dos_mesh=settings.dos_mesh,
        stability_tolerance_thz=settings.stability_tolerance_thz,
        max_imaginary_modes=settings.max_imaginary_modes,
        path_type=settings.band_path_type,
    )


def build_calculator(
    name: str, kwargs: dict[str, Any], model: dict[str, Any] | None = None
) -> Calculator:
    """ASE calculator from an engine name, or from an MLIP model document when given.

    Parameters
    ----------
    name : str
        Engine name (:func:`thermogap.engines.get_calculator`); ignored with ``model``.
    kwargs : dict
        Keyword arguments of the engine factory or of
        :func:`thermogap.mlip.calculator.calculator_from_model` (``device``, ``dtype``).
    model : dict, optional
        :class:`~thermogap.schemas.mlip.MlipModelDoc` carrying its model file (read from
        the running job's blobs; SHA-256 verified before loading).
    """
    if model is not None:
        from thermogap.mlip.calculator import calculator_from_model

        return calculator_from_model(model, **kwargs)
    from thermogap.engines import get_calculator

    return get_calculator(name, **kwargs)


def phonon_document(
    structure: Structure,
    phonon: Phonopy,
    analysis: PhononAnalysis,
    *,
    force_constants_ref: dict[str, Any],
    calculator: str,
    calculator_kwargs: dict[str, Any],
    model_id: str | None,
    settings: PhononSettings,
    model_sha256: str | None = None,
    relaxed: bool = False,
    pressure_gpa: float | None = None,
) -> PhononDoc:
    """Build the :class:`PhononDoc` of a finished calculation."""
    from thermogap.sampling.amplitudes import soft_mode_analysis

    soft = soft_mode_analysis(phonon, 300.0, mesh=settings.dos_mesh)
    calculator_id = (
        f"model:{model_id}" if model_id else calculator
    ) + f":{sorted(calculator_kwargs.items())}"
    # every setting that changes the document is part of its id (the collection's key)
    calculator_id += "|" + json.dumps(settings.model_dump(mode="json"), sort_keys=True)
    bands = analysis.band_structure
    return PhononDoc(
        phonon_id=phonon_id(
            structure, phonon.supercell_matrix, calculator_id, settings.displacement_ang
        ),
        structure_id=structure_id(structure),
        formula=structure.composition.reduced_formula,
        structure=structure.as_dict(),
        n_atoms=len(structure),
        calculator=calculator if model_id is None else "mlip",
        calculator_kwargs=dict(calculator_kwargs),
        model_id=model_id,
        supercell_matrix=supercell_matrix_array(phonon.supercell_matrix).tolist(),
        masses_amu=[float(m) for m in phonon.primitive.masses],
        n_displacements=len(phonon.supercells_with_displacements or []),
        force_constants=force_constants_ref,
        dynamically_stable=analysis.dynamically_stable,
        stability_tolerance_thz=analysis.stability_tolerance_thz,
        min_frequency_thz=analysis.min_frequency_thz,
        n_imaginary_qpoints=analysis.n_imaginary_qpoints,
        imaginary_modes=[
            ImaginaryModeDoc(
                frequency_thz=m.frequency_thz,
                qpoint=m.qpoint,
                band_index=m.band_index,
                eigenvector_real=m.eigenvector.real.tolist(),
                eigenvector_imag=m.eigenvector.imag.tolist(),
            )
            for m in analysis.imaginary_modes
        ],
        band_structure=PhononBandStructureDoc(
            qpoints=bands.qpoints.tolist(),
            distances=bands.distances.tolist(),
            frequencies_thz=bands.frequencies_thz.tolist(),
            labels=bands.labels,
            segment_ends=[list(e) for e in bands.segment_ends],
        ),
        dos=PhononDosDoc(
            frequencies_thz=analysis.dos.frequencies_thz.tolist(),
            dos=analysis.dos.dos.tolist(),
            mesh=list(analysis.dos.mesh),
        ),
        settings=settings,
        lattice_abc_ang=[float(v) for v in structure.lattice.abc],
        lattice_parameter_ang=float(structure.volume ** (1 / 3)),
        relaxed=relaxed,
        pressure_gpa=None
        if pressure_gpa is None or not np.isfinite(pressure_gpa)
        else pressure_gpa,
        soft_modes=SoftModeDoc(**soft.as_dict()),
        provenance=make_provenance(model_id=model_id, model_sha256=model_sha256),
    )


@dataclass
class ParentRelaxMaker(Maker):
    """Relax a parent unit cell, cell and ions, with the engine of its phonons.

    The cubic prototypes are built at fixed, approximate lattice parameters (4.90 / 4.98 Å);
    at those CHGNet sees +1.9 / +1.1 GPa and most modes come out imaginary.  This job
    relaxes the cell (ASE ``FrechetCellFilter``, space group kept with ``FixSymmetry``) with
    the same engine as the phonons, so that they are computed at the engine's own zero-
    pressure lattice.  The job does not open the database.

    Parameters
    ----------
    name : str
        Job name.
    calculator : str
        Engine name (:func:`thermogap.engines.get_calculator`).
    calculator_kwargs : dict
        Keyword arguments of the engine factory.
    fmax_ev_per_ang : float
        Force (and cell) threshold, eV/Å (paper's VASP relaxations: 0.005 eV/Å).
    max_steps : int
        Optimiser steps.
    optimizer : str
        ``"BFGS"`` or ``"FIRE"``.
    keep_symmetry : bool
        Keep the starting space group.

    Examples
    --------
    >>> from thermogap.structures import load_structure
    >>> job = ParentRelaxMaker(calculator="chgnet").make(load_structure("Ag3SBr"))
    """

    name: str = "relax parent"
    calculator: str = "chgnet"
    calculator_kwargs: dict[str, Any] = field(default_factory=dict)
    fmax_ev_per_ang: float = 0.005
    max_steps: int = 300
    optimizer: str = "BFGS"
    keep_symmetry: bool = True

    @tg_job
    def make(self, structure: Structure) -> RelaxedStructureDoc:
        """Relax ``structure`` (cell and ions) and return the relaxed cell with its pressure."""
        from thermogap.mlip.relaxation import pressure_gpa, relax, single_point

        calc = build_calculator(self.calculator, self.calculator_kwargs)
        atoms = AseAtomsAdaptor.get_atoms(structure)
        initial = pressure_gpa(single_point(atoms, calc).stress_ev_per_ang3)
        result = relax(
            atoms,
            calc,
            fmax_ev_per_ang=self.fmax_ev_per_ang,
            relax_cell=True,
            max_steps=self.max_steps,
            keep_symmetry=self.keep_symmetry,
            optimizer=self.optimizer,
        )
        relaxed = AseAtomsAdaptor.get_structure(result.atoms)
        doc = RelaxedStructureDoc(
            formula=relaxed.composition.reduced_formula,
            structure_id=structure_id(relaxed),
            structure=relaxed,
            initial_structure=structure,
            calculator=self.calculator,
            lattice_abc_ang=[float(v) for v in relaxed.lattice.abc],
            lattice_parameter_ang=float(relaxed.volume ** (1 / 3)),
            initial_lattice_parameter_ang=float(structure.volume ** (1 / 3)),
            initial_pressure_gpa=initial,
            pressure_gpa=pressure_gpa(result.final.stress_ev_per_ang3),
            max_force_ev_per_ang=float(
                np.linalg.norm(result.final.forces_ev_per_ang, axis=1).max()
            ),
            converged=result.converged,
            n_steps=result.n_steps,
            fmax_ev_per_ang=self.fmax_ev_per_ang,
        )
        print(  # the lattice parameter every later stage builds on, on screen
            f"{doc.formula} relaxed with {self.calculator}: a = {doc.lattice_parameter_ang:.4f} Å "
            f"(from {doc.initial_lattice_parameter_ang:.4f} Å; p = {doc.initial_pressure_gpa:+.2f}"
            f" -> {doc.pressure_gpa:+.3f} GPa, {'converged' if doc.converged else 'NOT converged'}"
            f" in {doc.n_steps} steps)",
            file=sys.stderr,
        )
        return doc


@tg_job
def relaxed_lattice_parameters(structures: list[Structure], species: list[str]) -> dict[str, float]:
    """``{species[i]: a_i}``: cube root of each relaxed end member's volume (Vegard input), Å."""
    values = {}
    for symbol, structure in zip(species, structures, strict=True):
        structure = as_structure(structure)
        values[str(symbol)] = float(structure.volume ** (1 / 3))
    return values


def structure_record(structure: Structure, *, role: str) -> dict[str, Any]:
    """Return the ``structures`` collection's record of ``structure`` (id, formula, cell)."""
    return {
        "structure_id": structure_id(structure),
        "formula": structure.composition.reduced_formula,
        "n_atoms": len(structure),
        "role": role,
        "lattice_abc_ang": list(structure.lattice.abc),
        "structure": structure.as_dict(),
    }


@tg_job
def store_external_phonons(
    structure: Structure,
    force_constants: Any,
    supercell_matrix: Any,
    calculator: str,
    settings: PhononSettings | None = None,
) -> PhononDoc:
    """Turn force constants computed elsewhere (atomate2's VASP phonon flow) into a PhononDoc.

    The job opens no database: the force constants become a blob carried by the returned
    document, which the ``phonons`` collection is built from.

    Parameters
    ----------
    structure : Structure
        Unit cell of the force constants (atomate2: ``PhononBSDOSDoc.structure``).
    force_constants : array-like or atomate2 ``ForceConstants``
        shape=(n_super, n_super, 3, 3), eV/Å².
    supercell_matrix : 3x3 ints
    calculator : str
        Name of the level that computed the forces (e.g. ``"pbesol"``).
    settings : PhononSettings, optional
        Analysis settings (band path, DOS mesh, stability tolerance).
    """
    from thermogap.execution.artifacts import current_blobs
    from thermogap.phonons.harmonic import phonopy_from_force_constants

    settings = settings or PhononSettings()
    structure = as_structure(structure)
    raw = getattr(force_constants, "force_constants", force_constants)
    if isinstance(raw, dict):
        raw = raw["force_constants"]
    fc = np.asarray(raw, dtype=float)
    phonon = phonopy_from_force_constants(structure, supercell_matrix, fc)
    analysis = analyse_with_settings(phonon, settings)
    fc_ref = current_blobs().put_array(fc, kind="force_constants")
    return phonon_document(
        structure,
        phonon,
        analysis,
        force_constants_ref=fc_ref.model_dump(),
        calculator=calculator,
        calculator_kwargs={},
        model_id=None,
        settings=settings,
        relaxed=True,
    )


def vasp_parent_phonon_jobs(
    structure: Structure, level_name: str, supercell_matrix: Any
) -> tuple[list[Any], Any, Any]:
    """atomate2 VASP jobs for one parent: relax (cell + ions), phonopy, store as PhononDoc.

    Returns
    -------
    jobs : list
        The relax job, atomate2's phonon flow and :func:`store_external_phonons`.
    relaxed_structure : OutputReference
        The relaxed unit cell.
    phonon_doc : OutputReference
        The stored :class:`PhononDoc`.
    """
    from atomate2.vasp.flows.phonons import PhononMaker as VaspPhononMaker
    from atomate2.vasp.jobs.phonons import PhononDisplacementMaker

    from thermogap.levels import load_level
    from thermogap.vasp.custodian import run_vasp_kwargs
    from thermogap.vasp.makers import relax_maker
    from thermogap.vasp.sets import static_set_generator

    level = load_level(level_name)
    relax = relax_maker(level).make(structure)  # type: ignore[misc]
    matrix = np.asarray(supercell_matrix)
    matrix = np.diag(matrix) if matrix.shape == (3,) else matrix
    assert level.vasp is not None  # relax_maker raised otherwise
    phonons = VaspPhononMaker(
        name=f"{level.name} phonons",
        bulk_relax_maker=None,
        static_energy_maker=None,
        born_maker=None,
        min_length=None,
        store_force_constants=True,
        phonon_displacement_maker=PhononDisplacementMaker(
            input_set_generator=static_set_generator(level.vasp),
            run_vasp_kwargs=run_vasp_kwargs(level.vasp.custodian),
        ),
    ).make(relax.output.structure, supercell_matrix=matrix.tolist())
    store = store_external_phonons(
        phonons.output.structure,
        phonons.output.force_constants,
        phonons.output.supercell_matrix,
        level.name,
    )
    return [relax, phonons, store], relax.output.structure, store.output
