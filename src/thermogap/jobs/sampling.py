"""jobflow Maker that samples displaced configurations into the ``configurations`` collection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jobflow import Maker
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.jobs.phonons import store_structure
from thermogap.phonons.storage import load_phonopy
from thermogap.sampling.amplitudes import DEFAULT_FREQUENCY_CUTOFF_THZ
from thermogap.sampling.batch import SCHEMES, DisplacementBatch, sample_displacements
from thermogap.sampling.displacements import (
    batch_rng,
    configuration_id,
    displaced_structure_dicts,
)
from thermogap.schemas.base import Provenance, make_provenance
from thermogap.schemas.configurations import ConfigurationBatchDoc, ConfigurationDoc
from thermogap.structures.identity import structure_id

__all__ = ["CONFIGURATIONS_COLLECTION", "DisplacedConfigurationsMaker", "configuration_documents"]

CONFIGURATIONS_COLLECTION = "configurations"


@dataclass
class DisplacedConfigurationsMaker(Maker):
    """A batch of displaced configurations of one supercell, written to ``configurations``.

    The batch's random stream is fixed by (``seed``, scheme, temperature, amplitude, x,
    supercell), and every configuration gets a deterministic ``config_id``: running the job
    again writes the same documents over themselves, never duplicates.

    Parameters
    ----------
    name : str
        Job name.
    scheme : str
        ``"phonon"`` (u = ε ζ(T)), ``"gaussian"`` (harmonic multivariate normal at T),
        ``"random"`` (u = ε a) or ``"equilibrium"``.
    n_configurations : int
        Configurations in the batch.
    seed : int
        Seed of the batch.
    mesh : list of int
        q mesh of the phonon-scheme amplitudes.
    frequency_cutoff_thz : float
        Modes at or below this frequency (imaginary, acoustic at Γ) are left out, THz.

    Examples
    --------
    >>> from thermogap.jobs.phonons import PhononMaker
    >>> from thermogap.structures import load_structure
    >>> parent = load_structure("Ag3SBr")
    >>> phonon_job = PhononMaker().make(parent)
    >>> supercell = parent * (2, 2, 2)
    >>> maker = DisplacedConfigurationsMaker(scheme="phonon", n_configurations=50, seed=7)
    >>> job = maker.make(supercell, x=0.5, temperature_k=300.0,
    ...                  parent_phonon_ids=[phonon_job.output.phonon_id])
    """

    name: str = "displaced configurations"
    scheme: str = "phonon"
    n_configurations: int = 10
    seed: int = 0
    mesh: list[int] = field(default_factory=lambda: [8, 8, 8])
    frequency_cutoff_thz: float = DEFAULT_FREQUENCY_CUTOFF_THZ

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise InputError(f"scheme={self.scheme!r} is unknown; allowed: {', '.join(SCHEMES)}")
        if self.n_configurations < 0:
            raise InputError(f"n_configurations={self.n_configurations} must be >= 0")

    @tg_job
    def make(
        self,
        supercell: Structure,
        x: float,
        temperature_k: float | None = None,
        amplitude_ang: float | None = None,
        parent_phonon_ids: Sequence[str] = (),
    ) -> ConfigurationBatchDoc:
        """Sample the batch and write it to the ``configurations`` collection.

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
        parent_phonon_ids : sequence of str
            Phonon calculations (``phonons`` collection) of the parent unit cells.
        """
        from thermogap.store import current_db

        db = current_db()
        ids = list(parent_phonon_ids) if self.scheme in ("phonon", "gaussian") else []
        parents = [load_phonopy(db, pid) for pid in ids]
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
        if docs:  # the documents are built as plain dicts for speed; keep them on contract
            ConfigurationDoc.model_validate(docs[0])
        store_structure(db, supercell, role="undisplaced supercell")
        db.upsert(CONFIGURATIONS_COLLECTION, docs, key="config_id")
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
            provenance=provenance,
        )


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
