"""jobflow Maker that samples displaced configurations of a supercell.

The job returns its configurations inside its :class:`ConfigurationBatchDoc`; the
``configurations`` collection is built from those outputs (see :mod:`thermogap.store.builders`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jobflow import Maker
from monty.json import jsanitize
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.execution.artifacts import current_blobs
from thermogap.phonons.storage import phonopy_from_doc
from thermogap.sampling.amplitudes import (
    DEFAULT_FREQUENCY_CUTOFF_THZ,
    DEFAULT_FREQUENCY_FLOOR_THZ,
    SOFT_MODE_TREATMENTS,
)
from thermogap.sampling.batch import (
    DEFAULT_SOFT_MODE_THRESHOLD,
    SCHEMES,
    DisplacementBatch,
    sample_displacements,
)
from thermogap.sampling.displacements import (
    batch_rng,
    configuration_id,
    displaced_structure_dicts,
)
from thermogap.schemas.base import Provenance, make_provenance
from thermogap.schemas.configurations import ConfigurationBatchDoc, ConfigurationDoc
from thermogap.store import collections as names
from thermogap.structures.identity import structure_id

__all__ = [
    "CONFIGURATIONS_COLLECTION",
    "DisplacedConfigurationsMaker",
    "collect_configurations",
    "configuration_documents",
]

CONFIGURATIONS_COLLECTION = names.CONFIGURATIONS


@dataclass
class DisplacedConfigurationsMaker(Maker):
    """A batch of displaced configurations of one supercell (the ``configurations`` data).

    The batch's random stream is fixed by (``seed``, scheme, temperature, amplitude, x,
    supercell, parent phonons), and every configuration gets a deterministic ``config_id``:
    running the job again gives the same documents, which the ``configurations`` builder
    writes over themselves, never duplicates. The parent phonons come as their
    :class:`~thermogap.schemas.phonons.PhononDoc` (by reference), whose force constants
    travel with them; the job opens no database.

    Parameters
    ----------
    name : str
        Job name.
    scheme : str
        ``"gaussian"`` (default: harmonic multivariate normal at T, variance ζ² per
        component), ``"phonon"`` (the paper's u = ε ζ(T), ε ~ U[-1, 1]: variance ζ²/3, an
        effective temperature of about T/3), ``"random"`` (u = ε a) or ``"equilibrium"``.
    n_configurations : int
        Configurations in the batch.
    seed : int
        Seed of the batch.
    mesh : list of int
        q mesh of the phonon-scheme amplitudes.
    frequency_cutoff_thz : float
        Modes at or below this frequency (imaginary, acoustic at Γ) are left out, THz.
    soft_mode_treatment : str or None
        ``"exclude"``, ``"absolute"`` (|ω|, phonopy's choice), ``"floor"`` or ``"md"``
        (short MD with ``calculator``). None: ``"exclude"`` unless more than
        ``soft_mode_threshold`` of a parent's modes are soft, in which case the job stops
        with an error naming these options.
    frequency_floor_thz : float
        Floor of the ``"floor"`` treatment, THz.
    soft_mode_threshold : float
        Fraction of imaginary / below-cutoff modes tolerated without a chosen treatment.
    calculator, calculator_kwargs : str, dict
        Engine of the parent phonons, used by the ``"md"`` treatment.
    md_settings : dict
        Keyword arguments of :func:`thermogap.sampling.molecular_dynamics.md_displacements`.

    Examples
    --------
    >>> from thermogap.jobs.phonons import PhononMaker
    >>> from thermogap.structures import load_structure
    >>> parent = load_structure("Ag3SBr")
    >>> phonon_job = PhononMaker().make(parent)
    >>> supercell = parent * (2, 2, 2)
    >>> maker = DisplacedConfigurationsMaker(scheme="phonon", n_configurations=50, seed=7)
    >>> job = maker.make(supercell, x=0.5, temperature_k=300.0,
    ...                  parent_phonons=[phonon_job.output])
    """

    name: str = "displaced configurations"
    scheme: str = "gaussian"
    n_configurations: int = 10
    seed: int = 0
    mesh: list[int] = field(default_factory=lambda: [8, 8, 8])
    frequency_cutoff_thz: float = DEFAULT_FREQUENCY_CUTOFF_THZ
    soft_mode_treatment: str | None = None
    frequency_floor_thz: float = DEFAULT_FREQUENCY_FLOOR_THZ
    soft_mode_threshold: float = DEFAULT_SOFT_MODE_THRESHOLD
    calculator: str = "chgnet"
    calculator_kwargs: dict[str, Any] = field(default_factory=dict)
    md_settings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise InputError(f"scheme={self.scheme!r} is unknown; allowed: {', '.join(SCHEMES)}")
        treatments = (None, *SOFT_MODE_TREATMENTS)
        if self.soft_mode_treatment not in treatments:
            raise InputError(
                f"soft_mode_treatment={self.soft_mode_treatment!r} is unknown; allowed: "
                f"{', '.join(SOFT_MODE_TREATMENTS)} (or none: refuse above the threshold)"
            )
        if self.n_configurations < 0:
            raise InputError(f"n_configurations={self.n_configurations} must be >= 0")

    @tg_job(data="configurations")  # the list is large: data store
    def make(
        self,
        supercell: Structure,
        x: float,
        temperature_k: float | None = None,
        amplitude_ang: float | None = None,
        parent_phonons: Sequence[Any] = (),
        lattice_parameters: dict[str, float] | None = None,
    ) -> ConfigurationBatchDoc:
        """Sample the batch; return it with its configurations.

        Parameters
        ----------
        supercell : Structure
            Undisplaced (possibly disordered) supercell.
        x : float
            Composition (fraction of the first species on the mixed sublattice).
        temperature_k : float, optional
            K; needed by the phonon and gaussian schemes.
        amplitude_ang : float, optional
            Å; needed by the random scheme.
        parent_phonons : sequence of PhononDoc
            Phonon documents of the parent unit cells (outputs of
            :class:`~thermogap.jobs.phonons.PhononMaker`, by reference, or dicts of them
            carrying their force constants as ``artifacts``); used by the phonon and
            gaussian schemes.
        lattice_parameters : dict, optional
            ``{species: a}`` of the relaxed end members, Å (a reference to
            :func:`thermogap.jobs.phonons.relaxed_lattice_parameters`): the supercell is
            rescaled to Vegard's law between them before sampling.
        """
        if lattice_parameters:
            supercell = vegard_rescaled(supercell, x, lattice_parameters)
        phonon_docs = (
            [_as_dict(doc) for doc in parent_phonons]
            if self.scheme in ("phonon", "gaussian")
            else []
        )
        ids = [str(doc["phonon_id"]) for doc in phonon_docs]
        blobs = current_blobs()
        parents = [phonopy_from_doc(doc, blobs) for doc in phonon_docs]
        temperature = temperature_k if self.scheme in ("phonon", "gaussian") else None
        amplitude = amplitude_ang if self.scheme == "random" else None
        parent_structure_id = structure_id(supercell)
        keys = (self.scheme, temperature, amplitude, round(float(x), 9), parent_structure_id, ids)
        batch = sample_displacements(
            supercell,
            self.scheme,
            self.n_configurations,
            batch_rng(self.seed, *keys),
            parents=parents,
            temperature_k=temperature,
            amplitude_ang=amplitude,
            mesh=self.mesh,
            frequency_cutoff_thz=self.frequency_cutoff_thz,
            soft_mode_treatment=self.soft_mode_treatment,
            frequency_floor_thz=self.frequency_floor_thz,
            soft_mode_threshold=self.soft_mode_threshold,
            calculator=self._md_calculator(),
            md_settings=self.md_settings,
        )
        provenance = make_provenance()
        docs = configuration_documents(
            supercell,
            batch,
            scheme=self.scheme,
            x=float(x),
            seed=self.seed,
            temperature_k=temperature,
            amplitude_ang=amplitude,
            parent_phonon_ids=ids,
            provenance=provenance,
        )
        soft = _soft_summary(batch)
        for d in docs:
            d.update(soft)
        disp = batch.displacements_ang
        return ConfigurationBatchDoc(
            batch_id=_batch_id(
                parent_structure_id, ids, x, self.scheme, temperature, amplitude, self.seed
            ),
            formula=supercell.composition.reduced_formula,
            x=float(x),
            scheme=self.scheme,
            temperature_k=temperature,
            amplitude_ang=amplitude,
            seed=self.seed,
            n_configurations=len(docs),
            config_ids=[d["config_id"] for d in docs],
            parent_phonon_id=_primary(ids, batch),
            parent_structure_id=parent_structure_id,
            amplitudes_ang=None if batch.amplitudes_ang is None else batch.amplitudes_ang.tolist(),
            mesh=list(self.mesh) if self.scheme == "phonon" else None,
            n_imaginary_excluded=batch.n_imaginary_excluded,
            n_near_zero_excluded=batch.n_near_zero_excluded,
            mean_square_displacement_ang2=float(np.mean(np.sum(disp**2, axis=-1)))
            if disp.size
            else 0.0,
            amplitude_mesh_change=batch.amplitude_mesh_change,
            dense_mesh=None if batch.dense_mesh is None else list(batch.dense_mesh),
            supercell=supercell,
            configurations=[ConfigurationDoc.model_validate(d) for d in docs],
            provenance=provenance,
            **soft,
        )

    def _md_calculator(self) -> Any:
        if self.soft_mode_treatment != "md" or self.scheme not in ("phonon", "gaussian"):
            return None
        from thermogap.jobs.phonons import build_calculator

        return build_calculator(self.calculator, self.calculator_kwargs)


def _as_dict(doc: Any) -> dict[str, Any]:
    """Return a phonon document (model or dict) as a JSON-like dict, ``artifacts`` kept."""
    if hasattr(doc, "model_dump"):
        doc = doc.model_dump()
    if isinstance(doc, dict):  # pymatgen objects inside (the structure) become their dicts
        return dict(jsanitize(doc, strict=True, enum_values=True))
    raise InputError(
        f"parent phonons must be PhononDoc outputs (or their dicts), not {type(doc).__name__}; "
        "pass the phonon job's output, not its id"
    )


@tg_job(data=True)
def collect_configurations(batches: list[Any]) -> list[dict[str, Any]]:
    """Every configuration document of ``batches`` (sampling outputs), as one list of dicts.

    The list (the dataset flow's ``output["configurations"]``, the labelling flow's input)
    is kept in jobflow's ``data`` store: a whole dataset exceeds one database document.
    """
    out = []
    for batch in batches:
        configurations = (
            batch.get("configurations") if isinstance(batch, dict) else batch.configurations
        )
        for config in configurations or []:
            doc = config.model_dump() if hasattr(config, "model_dump") else dict(config)
            plain = jsanitize(doc, strict=True, enum_values=True)
            out.append({k: v for k, v in plain.items() if not k.startswith("@")})
    return out


def vegard_rescaled(
    supercell: Structure, x: float, lattice_parameters: dict[str, float]
) -> Structure:
    """``supercell`` scaled isotropically to Vegard's law between the relaxed end members.

    The number of parent cells is taken from the current cell size and the mean of the two
    end members, so the supercell keeps its shape and fractional coordinates.
    """
    from thermogap.structures.solid_solution import vegard_lattice_parameter

    first, second = list(lattice_parameters)
    target = vegard_lattice_parameter(
        x, float(lattice_parameters[first]), float(lattice_parameters[second])
    )
    a_mean = 0.5 * (float(lattice_parameters[first]) + float(lattice_parameters[second]))
    # integer number of parent cells: the cell was built near the end members' size
    n_cells = max(1, round(supercell.volume / a_mean**3))
    scaled = supercell.copy()
    scaled.scale_lattice(n_cells * target**3)
    return scaled


def _soft_summary(batch: DisplacementBatch) -> dict[str, Any]:
    """Soft-mode fields shared by the batch and its configuration documents."""
    worst = max(batch.soft_modes, key=lambda s: s.fraction_of_modes, default=None)
    return {
        "soft_mode_treatment": batch.soft_mode_treatment,
        "n_imaginary_modes": None if worst is None else worst.n_imaginary,
        "n_below_cutoff_modes": None if worst is None else worst.n_below_cutoff,
        "soft_mode_fraction": None if worst is None else worst.fraction_of_modes,
        "soft_mode_variance_fraction": None if worst is None else worst.variance_fraction,
    }


def configuration_documents(
    supercell: Structure,
    batch: DisplacementBatch,
    *,
    scheme: str,
    x: float,
    seed: int,
    temperature_k: float | None,
    amplitude_ang: float | None,
    parent_phonon_ids: Sequence[str],
    provenance: Provenance | None = None,
) -> list[dict[str, Any]]:
    """Documents (``ConfigurationDoc`` as JSON-ready dicts) of every configuration of a batch.

    ``config_id`` is the SHA-256 (16 hex digits) of (undisplaced supercell id, parent phonon
    ids, x, scheme, temperature, amplitude, seed, index).
    """
    parent_structure_id = structure_id(supercell)
    ids = list(parent_phonon_ids)
    batch_id = _batch_id(parent_structure_id, ids, x, scheme, temperature_k, amplitude_ang, seed)
    disp = batch.displacements_ang
    structures = displaced_structure_dicts(supercell, disp)
    norms = np.linalg.norm(disp, axis=-1) if disp.size else np.zeros((len(disp), len(supercell)))
    rms = np.sqrt(np.mean(norms**2, axis=1)) if len(supercell) else np.zeros(len(disp))
    provenance_dict = (provenance or make_provenance()).model_dump(mode="json")
    formula = supercell.composition.reduced_formula
    primary = _primary(ids, batch)
    docs = []
    for index, struct in enumerate(structures):
        cid = configuration_id(
            parent_structure_id=parent_structure_id,
            parent_phonon_ids=ids,
            x=round(float(x), 9),
            scheme=scheme,
            temperature_k=temperature_k,
            amplitude_ang=amplitude_ang,
            seed=seed,
            index=index,
        )
        docs.append(
            {
                "config_id": cid,
                "batch_id": batch_id,
                "formula": formula,
                "x": float(x),
                "scheme": scheme,
                "temperature_k": temperature_k,
                "amplitude_ang": amplitude_ang,
                "seed": int(seed),
                "index": index,
                "parent_phonon_id": primary,
                "parent_phonon_ids": ids,
                "parent_structure_id": parent_structure_id,
                "structure": struct,
                "n_atoms": len(supercell),
                "rms_displacement_ang": float(rms[index]),
                "max_displacement_ang": float(norms[index].max()) if norms.size else 0.0,
                "provenance": provenance_dict,
            }
        )
    return docs


def _primary(ids: Sequence[str], batch: DisplacementBatch) -> str | None:
    if not ids:
        return None
    return ids[batch.parent_index or 0]


def _batch_id(
    parent_structure_id: str,
    ids: Sequence[str],
    x: float,
    scheme: str,
    temperature_k: float | None,
    amplitude_ang: float | None,
    seed: int,
) -> str:
    return configuration_id(
        parent_structure_id=parent_structure_id,
        parent_phonon_ids=list(ids),
        x=round(float(x), 9),
        scheme=scheme,
        temperature_k=temperature_k,
        amplitude_ang=amplitude_ang,
        seed=seed,
        batch=True,
    )
