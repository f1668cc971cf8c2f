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
from thermogap.structures.identity import as_structure, content_id, structure_id

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

    The 0 K phonons arrive as their document (passed by reference, force constants carried
    with it); each optical Γ mode is frozen into the cell with ``±`` its RMS amplitude at
    ``temperature_k`` and the gaps are computed with a GNN given by its model document or
    with an embedded level of theory (``engine``). The job opens no database: it returns an
    :class:`ElectronPhononDoc` with a PNG of ΔE_g/E_g against the mode frequency as a carried
    blob; the ``electron_phonon`` collection is built from it (key ``electron_phonon_id``).

    Parameters
    ----------
    name : str
        Job name.
    temperature_k : float
        Temperature of the mode amplitudes, K (seed paper: 300 and 600 K).
    engine : str or None
        Name of an *embedded* level of theory (``"chgnet-gfn1-xtb"``, ...), whose xTB
        Hamiltonian gives the Γ-point gap, used when ``make`` is given no GNN.
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
    >>> maker = ElectronPhononCouplingMaker(temperature_k=600.0)
    >>> job = maker.make(phonon_job.output, gnn_job.output)  # doctest: +SKIP
    """

    name: str = "electron-phonon coupling"
    temperature_k: float = 300.0
    engine: str | None = None
    signs: list[int] = field(default_factory=lambda: [1, -1])
    frequency_cutoff_thz: float = DEFAULT_FREQUENCY_CUTOFF_THZ
    batch_size: int = 64
    amplitude: str = "quantum"
    normalisation: str = "formula_unit"
    equivalent_species: list[str] = field(default_factory=list)

    @tg_job
    def make(
        self,
        phonon: Any,
        gnn: Any = None,
        finite_temperature_phonon: Any = None,
        structure: Structure | None = None,
    ) -> ElectronPhononDoc:
        """Compute the mode-resolved gap changes of the phonons ``phonon``.

        Parameters
        ----------
        phonon : PhononDoc
            Harmonic (0 K) phonons, e.g. the output of
            :class:`~thermogap.jobs.phonons.PhononMaker`.
        gnn : GNNModelDoc, optional
            The band-gap GNN's model document (a training job's output, or a stored model
            embedded with its bytes). Exactly one of ``gnn`` and the Maker's ``engine``.
        finite_temperature_phonon : FiniteTemperaturePhononDoc, optional
            NMD phonons at T projected on ``phonon``: the amplitudes then use the
            renormalised Γ frequencies, so modes imaginary at 0 K count.
        structure : Structure, optional
            The cell to distort (a supercell of the phonon cell, e.g. large enough for the
            GNN); by default the phonon cell itself.
        """
        from thermogap.execution.artifacts import current_blobs
        from thermogap.phonons.harmonic import phonopy_atoms_to_structure
        from thermogap.phonons.storage import phonon_doc_dict, phonopy_from_doc
        from thermogap.results.plots import plot_mode_gap_changes

        if (gnn is None) == (self.engine is None):
            raise InputError(
                f"give exactly one gap source: a GNN model document (gnn={str(gnn)[:40]!r}) "
                f"or the Maker's engine={self.engine!r} (an embedded level name)"
            )
        harmonic = phonon_doc_dict(phonon)
        phonon_id = str(harmonic["phonon_id"])
        blobs = current_blobs()
        phonopy_obj = phonopy_from_doc(harmonic, blobs)
        gnn_doc = None if gnn is None else _model_dict(gnn)
        gap_fn = (
            gnn_gap_fn(gnn_doc, self.batch_size)
            if gnn_doc is not None
            else embedded_gap_fn(str(self.engine))
        )
        nmd = (
            None
            if finite_temperature_phonon is None
            else phonon_doc_dict(finite_temperature_phonon)
        )
        at_t = None if nmd is None else gamma_frequencies_at_t(nmd, phonon_id)
        structure = None if structure is None else as_structure(structure)
        changes = frozen_phonon_gap_changes(
            phonopy_obj,
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
        cell = phonopy_atoms_to_structure(phonopy_obj.primitive) if structure is None else structure
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
        plot_ref = blobs.put_bytes(png, kind="plot", filename="electron_phonon.png")
        gap_model_id = None if gnn_doc is None else gnn_doc.get("model_id")
        return electron_phonon_document(
            phonon_id,
            cell,
            changes,
            ElectronPhononSettings(
                temperature_k=self.temperature_k,
                signs=list(self.signs),
                frequency_cutoff_thz=self.frequency_cutoff_thz,
                gap_model_id=gap_model_id,
                engine=self.engine if gnn_doc is None else None,
                amplitude=self.amplitude,
                normalisation=self.normalisation,
                equivalent_species=list(self.equivalent_species),
                finite_temperature_phonon_id=None if nmd is None else nmd["phonon_id"],
            ),
            n_modes_total=3 * len(phonopy_obj.primitive),
            plot=plot_ref.model_dump(),
            provenance=make_provenance(
                level=self.engine if gnn_doc is None else None,
                model_id=gap_model_id,
                model_sha256=None if gnn_doc is None else gnn_doc.get("sha256"),
            ),
        )


def _model_dict(model: Any) -> dict[str, Any]:
    doc = model.model_dump(mode="json") if hasattr(model, "model_dump") else model
    if not isinstance(doc, dict) or "blob" not in doc:
        raise InputError(
            f"gnn must be a GNN model document (a training job's output), got {str(model)[:80]!r}"
        )
    return doc


def gamma_frequencies_at_t(nmd_doc: Any, harmonic_phonon_id: str) -> np.ndarray:
    """Renormalised Γ frequencies (THz) of an NMD document, ascending 0 K band order.

    Parameters
    ----------
    nmd_doc : FiniteTemperaturePhononDoc or dict
        The NMD phonons at T (an NMD job's output).
    harmonic_phonon_id : str
        Id of the harmonic phonons the gap changes use; the NMD must project on them.

    Raises
    ------
    InputError
        If the document is not an NMD document, was projected on other phonons, or has no
        Γ point.
    """
    from thermogap.phonons.storage import phonon_doc_dict

    doc = phonon_doc_dict(nmd_doc)
    if doc.get("kind") != "nmd":
        raise InputError(
            f"{doc.get('phonon_id')!r} (kind {doc.get('kind', 'harmonic')!r}) is not an NMD "
            "document (FiniteTemperaturePhononDoc)"
        )
    if doc["harmonic_phonon_id"] != harmonic_phonon_id:
        raise InputError(
            f"NMD {doc['phonon_id']!r} projects on {doc['harmonic_phonon_id']!r}, not on "
            f"{harmonic_phonon_id!r}: its band indices would not match"
        )
    modes = [m.model_dump() if hasattr(m, "model_dump") else m for m in doc["modes"]]
    gamma = [m for m in modes if np.allclose(m["qpoint"], 0.0, atol=1e-8)]
    if not gamma:
        raise InputError(f"NMD {doc['phonon_id']!r} has no Γ point among its q-points")
    gamma.sort(key=lambda m: m["band_index"])
    return np.array([m["frequency_thz"] for m in gamma], dtype=float)


def gnn_gap_fn(model: Any, batch_size: int = 64) -> GapFunction:
    """Gap function of a GNN given by its model document: ``structures -> gaps`` (eV).

    The bundle's bytes are read from the running job's blobs (SHA-256 verified on load).

    Raises
    ------
    InputError
        If the model does not predict band gaps.
    """
    from thermogap.gnn.bundle import gnn_from_model
    from thermogap.gnn.inference import predict

    bundle = gnn_from_model(model)
    if bundle.target != "band_gap":
        raise InputError(
            f"model {bundle.model_id!r} predicts {bundle.target!r}; a band-gap model "
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
