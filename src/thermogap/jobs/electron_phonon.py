"""jobflow Maker for mode-resolved electron–phonon coupling (frozen Γ-phonon distortions)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jobflow import Maker
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.phonons.electron_phonon import ModeGapChanges, frozen_phonon_gap_changes
from thermogap.sampling.amplitudes import DEFAULT_FREQUENCY_CUTOFF_THZ
from thermogap.schemas.base import Provenance, make_provenance
from thermogap.schemas.electron_phonon import ElectronPhononDoc, ElectronPhononSettings
from thermogap.store import collections as names
from thermogap.structures.identity import content_id, structure_id

__all__ = [
    "ELECTRON_PHONON_COLLECTION",
    "ElectronPhononCouplingMaker",
    "electron_phonon_document",
    "electron_phonon_id",
    "embedded_gap_fn",
    "gamma_frequencies_at_t",
    "gnn_gap_fn",
]

ELECTRON_PHONON_COLLECTION = names.ELECTRON_PHONON

GapFunction = Callable[[list[Structure]], np.ndarray]


@dataclass
class ElectronPhononCouplingMaker(Maker):
    """Band-gap change of every optical Γ mode frozen in at its thermal amplitude.

    The 0 K phonons are read from the ``phonons`` collection; each optical Γ mode is frozen
    into the cell with ``±`` its RMS amplitude at ``temperature_k`` and the gaps are computed
    with a stored GNN (``gap_model_id``) or an embedded level of theory (``engine``).  The
    document goes to the ``electron_phonon`` collection with a PNG of ΔE_g/E_g against the
    mode frequency in the blob store.

    Parameters
    ----------
    name : str
        Job name.
    temperature_k : float
        Temperature of the mode amplitudes, K (seed paper: 300 and 600 K).
    gap_model_id : str or None
        A GNN band-gap model of the ``models`` collection.
    engine : str or None
        Name of an *embedded* level of theory (``"chgnet-gfn1-xtb"``, ...), whose xTB
        Hamiltonian gives the Γ-point gap.  Exactly one of ``gap_model_id`` and ``engine``.
    signs : list of int
        Signs of the distortions; gaps are averaged over them.
    frequency_cutoff_thz : float
        Modes at or below this frequency (THz) are left out, besides the acoustic ones.
    batch_size : int
        Structures per GNN forward pass.
    amplitude : str
        ``"quantum"`` (default, the seed's Eq. 1) or ``"classical"`` (``k_B T / ω²``).
    normalisation : str
        ``"formula_unit"`` (default; cell-independent) or ``"cell"`` (per phonon cell).
    equivalent_species : list of str
        Mixed species counted as one when formula units are counted (e.g. ``["Br", "I"]``).

    Examples
    --------
    >>> maker = ElectronPhononCouplingMaker(temperature_k=600.0, gap_model_id="gnn-0123abcd")
    >>> job = maker.make(phonon_id="3f2a9c0d1e2b4a5c")
    """

    name: str = "electron-phonon coupling"
    temperature_k: float = 300.0
    gap_model_id: str | None = None
    engine: str | None = None
    signs: list[int] = field(default_factory=lambda: [1, -1])
    frequency_cutoff_thz: float = DEFAULT_FREQUENCY_CUTOFF_THZ
    batch_size: int = 64
    amplitude: str = "quantum"
    normalisation: str = "formula_unit"
    equivalent_species: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if (self.gap_model_id is None) == (self.engine is None):
            raise InputError(
                f"give exactly one of gap_model_id={self.gap_model_id!r} and "
                f"engine={self.engine!r} (an embedded level name)"
            )

    @tg_job
    def make(
        self,
        phonon_id: str,
        structure: Structure | None = None,
        finite_temperature_phonon_id: str | None = None,
    ) -> ElectronPhononDoc:
        """Compute and store the mode-resolved gap changes of phonon calculation ``phonon_id``.

        ``structure`` is the cell to distort (a supercell of the phonon cell, e.g. large
        enough for the GNN); by default the phonon cell itself.  With
        ``finite_temperature_phonon_id`` (an NMD document of the same phonons at T) the
        amplitudes use the renormalised Γ frequencies, so modes imaginary at 0 K count.
        """
        from thermogap.phonons.harmonic import phonopy_atoms_to_structure
        from thermogap.phonons.storage import load_phonopy
        from thermogap.results.plots import plot_mode_gap_changes
        from thermogap.store import current_db

        db = current_db()
        phonon = load_phonopy(db, phonon_id)
        gap_fn = (
            gnn_gap_fn(db, self.gap_model_id, self.batch_size)
            if self.gap_model_id is not None
            else embedded_gap_fn(str(self.engine))
        )
        at_t = (
            None
            if finite_temperature_phonon_id is None
            else gamma_frequencies_at_t(db, finite_temperature_phonon_id, phonon_id)
        )
        changes = frozen_phonon_gap_changes(
            phonon,
            structure,
            self.temperature_k,
            gap_fn,
            sign=self.signs,
            frequency_cutoff_thz=self.frequency_cutoff_thz,
            amplitude=self.amplitude,
            normalisation=self.normalisation,
            equivalent_species=self.equivalent_species,
            frequencies_at_t_thz=at_t,
        )
        cell = phonopy_atoms_to_structure(phonon.primitive) if structure is None else structure
        png = plot_mode_gap_changes(
            [
                {
                    "temperature_k": self.temperature_k,
                    "frequency_thz": changes.frequency_thz.tolist(),
                    "relative_gap_change": changes.relative_gap_change.tolist(),
                    "formula": cell.composition.reduced_formula,
                }
            ]
        )
        plot_ref = db.blobs.put_bytes(png, kind="plot", filename="electron_phonon.png")
        doc = electron_phonon_document(
            phonon_id,
            cell,
            changes,
            ElectronPhononSettings(
                temperature_k=self.temperature_k,
                signs=list(self.signs),
                frequency_cutoff_thz=self.frequency_cutoff_thz,
                gap_model_id=self.gap_model_id,
                engine=self.engine,
                amplitude=self.amplitude,
                normalisation=self.normalisation,
                equivalent_species=list(self.equivalent_species),
                finite_temperature_phonon_id=finite_temperature_phonon_id,
            ),
            n_modes_total=3 * len(phonon.primitive),
            plot=plot_ref.model_dump(),
            provenance=make_provenance(
                level=self.engine,
                model_id=self.gap_model_id,
                model_sha256=_model_sha256(db, self.gap_model_id),
            ),
        )
        db.upsert(ELECTRON_PHONON_COLLECTION, [doc.model_dump()], key="electron_phonon_id")
        return doc


def gamma_frequencies_at_t(db: Any, nmd_phonon_id: str, harmonic_phonon_id: str) -> np.ndarray:
    """Renormalised Γ frequencies (THz) of an NMD document, ascending 0 K band order.

    Raises
    ------
    InputError
        If the document is missing, was projected on other phonons, or has no Γ point.
    """
    from thermogap.phonons.storage import PHONONS_COLLECTION

    doc = db.query_one(PHONONS_COLLECTION, {"phonon_id": nmd_phonon_id, "kind": "nmd"})
    if doc is None:
        raise InputError(f"{nmd_phonon_id=} is not an NMD document of the phonons collection")
    if doc["harmonic_phonon_id"] != harmonic_phonon_id:
        raise InputError(
            f"NMD {nmd_phonon_id!r} projects on {doc['harmonic_phonon_id']!r}, not on "
            f"{harmonic_phonon_id!r}: its band indices would not match"
        )
    gamma = [m for m in doc["modes"] if np.allclose(m["qpoint"], 0.0, atol=1e-8)]
    if not gamma:
        raise InputError(f"NMD {nmd_phonon_id!r} has no Γ point among its q-points")
    gamma.sort(key=lambda m: m["band_index"])
    return np.array([m["frequency_thz"] for m in gamma], dtype=float)


def gnn_gap_fn(db: Any, model_id: str, batch_size: int = 64) -> GapFunction:
    """Gap function of a stored GNN: ``structures -> gaps`` (eV), SHA-256 verified on load."""
    from thermogap.gnn.bundle import load_gnn
    from thermogap.gnn.inference import predict

    bundle = load_gnn(db, model_id)
    if bundle.target != "band_gap":
        raise InputError(
            f"model {model_id!r} predicts {bundle.target!r}; a band-gap model "
            "(target 'band_gap') is needed"
        )

    def gaps(structures: list[Structure]) -> np.ndarray:
        return predict(bundle, structures, batch_size=batch_size)

    return gaps


def embedded_gap_fn(level_name: str) -> GapFunction:
    """Gap function of an embedded level: its xTB Γ-point gap (eV), no force engine needed."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from thermogap.engines.embedded import xtb_band_edges
    from thermogap.levels import load_level
    from thermogap.threads import limited_threads

    level = load_level(level_name)
    if level.engine != "embedded" or level.embedded is None:
        raise InputError(
            f"level {level_name!r} runs {level.engine!r}; the in-process gap needs an "
            "embedded level (e.g. 'chgnet-gfn1-xtb')"
        )
    settings = level.embedded

    def gaps(structures: list[Structure]) -> np.ndarray:
        with limited_threads(settings.num_threads):
            return np.array(
                [
                    xtb_band_edges(
                        AseAtomsAdaptor.get_atoms(s),
                        method=settings.gap_method,
                        accuracy=settings.gap_accuracy,
                        max_iterations=settings.gap_max_iterations,
                        electronic_temperature_k=settings.electronic_temperature_k,
                    ).band_gap_ev
                    for s in structures
                ]
            )

    return gaps


def electron_phonon_id(phonon_id: str, cell: Structure, settings: ElectronPhononSettings) -> str:
    """Deterministic id (16 hex of a SHA-256) of a frozen-phonon gap calculation."""
    return content_id(
        phonon_id=phonon_id, cell=structure_id(cell), **settings.model_dump(mode="json")
    )


def electron_phonon_document(
    phonon_id: str,
    cell: Structure,
    changes: ModeGapChanges,
    settings: ElectronPhononSettings,
    *,
    n_modes_total: int,
    plot: dict[str, Any] | None = None,
    provenance: Provenance | None = None,
) -> ElectronPhononDoc:
    """Build the :class:`ElectronPhononDoc` of a finished calculation.

    ``n_modes_total`` is ``3 n_atoms`` of the phonon cell; ``plot`` a ``BlobRef`` dump.
    """
    source = f"gnn:{settings.gap_model_id}" if settings.gap_model_id else f"level:{settings.engine}"
    return ElectronPhononDoc(
        electron_phonon_id=electron_phonon_id(phonon_id, cell, settings),
        phonon_id=phonon_id,
        formula=cell.composition.reduced_formula,
        cell_structure_id=structure_id(cell),
        n_atoms_cell=len(cell),
        temperature_k=float(changes.temperature_k),
        gap_source=source,
        reference_gap_ev=changes.reference_gap_ev,
        signs=list(changes.signs),
        mode_index=changes.mode_index.tolist(),
        frequency_thz=changes.frequency_thz.tolist(),
        frequency_source=list(changes.frequency_source),
        amplitude_kind=changes.amplitude_kind,
        formula_units=changes.formula_units,
        amplitude_sqrt_amu_ang=changes.amplitude.tolist(),
        gaps_ev=changes.gaps_ev.tolist(),
        relative_gap_change=changes.relative_gap_change.tolist(),
        degenerate_set=changes.degenerate_set.tolist(),
        irreps=list(changes.irreps),
        n_modes_excluded=n_modes_total - len(changes.mode_index),
        plot=plot,
        settings=settings,
        provenance=provenance or make_provenance(),
    )


def _model_sha256(db: Any, model_id: str | None) -> str | None:
    if model_id is None:
        return None
    doc = db.query_one(names.MODELS, {"model_id": model_id}, properties=["sha256"])
    return None if doc is None else doc.get("sha256")
