"""jobflow Makers of the temperature-dependent phonon (tdph) flow.

Data path: every job gets its inputs by reference and returns its document; none opens the
results database. Force constants go to the job store's ``data`` store. The jobs are
resumable (:func:`thermogap.execution.tg_job`): a rerun of the same flow against the same store
reuses finished outputs (failed-compound documents included). A step that fails returns a
document with ``status="failed"`` and the reason, and downstream steps of the same compound
pass it on, so one compound never stops the others.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jobflow import Maker, job
from jobflow.core.reference import OnMissing
from pymatgen.core import Structure

from thermogap.execution import tg_job
from thermogap.schemas.base import make_provenance
from thermogap.schemas.tdph import (
    IterationDoc,
    ModeFrequencyDoc,
    OnsiteRatioDoc,
    TdphDoc,
    TdphFineTuneDoc,
    TdphHarmonicDoc,
    TdphSettings,
    TdphSummaryDoc,
)

__all__ = [
    "TdphFineTuneMaker",
    "TdphHarmonicMaker",
    "TdphRenormaliseMaker",
    "tdph_summary",
]

_FC_FIELDS = ["force_constants"]


def _reason(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}"[:500]


def _spacegroup(structure: Structure) -> tuple[int | None, str | None]:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        analyzer = SpacegroupAnalyzer(structure, symprec=1e-3)
        return analyzer.get_space_group_number(), analyzer.get_space_group_symbol()
    except Exception:  # spglib fails on odd cells; the number is metadata only
        return None, None


_FINETUNED: dict[str, Any] = {}  # sha256 -> calculator, so a worker decodes a model once


def _calculator(name: str, kwargs: dict[str, Any], model: Any = None) -> Any:
    """Build the engine ``name``, or the fine-tuned CHGNet of a :class:`TdphFineTuneDoc`."""
    if model is None:
        from thermogap.engines import get_calculator

        return get_calculator(name, **kwargs)
    import base64

    from thermogap.errors import InputError
    from thermogap.tdph.finetune import chgnet_from_state

    doc = TdphFineTuneDoc.model_validate(model)
    if not doc.model_state_b64:
        raise InputError(
            "the fine-tune document carries no model (model_state_b64 is empty); pass the "
            "fine-tune job's output with its data store loaded"
        )
    if doc.model_sha256 not in _FINETUNED:
        _FINETUNED[doc.model_sha256] = chgnet_from_state(
            base64.b64decode(doc.model_state_b64), doc.base_model
        )
    return _FINETUNED[doc.model_sha256]


def _calculator_label(name: str, model: Any) -> str:
    if model is None:
        return name
    doc = TdphFineTuneDoc.model_validate(model)
    return f"chgnet-{doc.base_model}-finetuned:{doc.model_sha256[:12]}"


@dataclass
class TdphHarmonicMaker(Maker):
    """Relax a unit cell and compute its harmonic force constants (or read a phonopy.yaml).

    Parameters
    ----------
    name : str
        Job name.
    calculator : str
        Engine name (:func:`thermogap.engines.get_calculator`).
    calculator_kwargs : dict
        Engine factory arguments.
    supercell_matrix : list
        Three repetitions or a 3x3 matrix (paper: the MDR database's supercells).
    relax : bool
        Relax positions (and the cell with ``relax_cell``) before the phonons.
    relax_cell : bool
        Relax the lattice too.
    fmax_ev_per_ang : float
        Relaxation force threshold, eV/Å.
    max_relax_steps : int
        BFGS step limit.
    displacement_ang : float
        Finite displacement of the harmonic step, Å.

    Examples
    --------
    >>> from thermogap.structures.prototypes import perovskite
    >>> job = TdphHarmonicMaker(calculator="chgnet").make(
    ...     perovskite(3.9, a="Sr", b="Ti", x="O"), compound_id="SrTiO3")
    """

    name: str = "tdph harmonic"
    calculator: str = "chgnet"
    calculator_kwargs: dict[str, Any] = field(default_factory=dict)
    supercell_matrix: list[int] | list[list[int]] = field(default_factory=lambda: [2, 2, 2])
    relax: bool = True
    relax_cell: bool = True
    fmax_ev_per_ang: float = 0.01
    max_relax_steps: int = 300
    displacement_ang: float = 0.01

    @tg_job(data=_FC_FIELDS)
    def make(
        self,
        structure: Structure | None = None,
        compound_id: str = "",
        phonopy_yaml: str | None = None,
        model: TdphFineTuneDoc | None = None,
    ) -> TdphHarmonicDoc:
        """Harmonic phonons of ``structure`` (or the force constants of ``phonopy_yaml``).

        ``model``: a fine-tune job's output (by reference); its CHGNet replaces
        ``calculator`` for the relaxation and the force constants.
        """
        start = time.perf_counter()
        formula = structure.composition.reduced_formula if structure is not None else ""
        label = self.calculator
        try:
            label = _calculator_label(self.calculator, model)
            doc = self._run(structure, compound_id, phonopy_yaml, model, label)
        except Exception as exc:  # any failure of this compound is recorded, not raised
            return TdphHarmonicDoc(
                compound_id=compound_id,
                formula=formula,
                status="failed",
                failure_reason=_reason(exc),
                failed_step=self.name,
                calculator=label,
                provenance=make_provenance(traceback=traceback.format_exc(limit=3)),
            )
        doc.wall_time_s = time.perf_counter() - start
        return doc

    def _run(
        self,
        structure: Structure | None,
        compound_id: str,
        phonopy_yaml: str | None,
        model: Any,
        label: str,
    ) -> TdphHarmonicDoc:
        from thermogap.errors import InputError
        from thermogap.structures.identity import structure_id
        from thermogap.tdph.compound import (
            harmonic_phonons,
            load_phonopy_yaml,
            relax_structure,
            unit_cell,
        )

        converged, calls = None, 0
        if phonopy_yaml is not None:
            phonon = load_phonopy_yaml(phonopy_yaml)
            cell = unit_cell(phonon)
            source = phonopy_yaml
        elif structure is not None:
            calc = _calculator(self.calculator, self.calculator_kwargs, model)
            cell = structure
            if self.relax:
                cell, converged, steps = relax_structure(
                    structure, calc, self.fmax_ev_per_ang, self.relax_cell, self.max_relax_steps
                )
                calls += steps + 1
            phonon = harmonic_phonons(cell, calc, self.supercell_matrix, self.displacement_ang)
            calls += len(phonon.supercells_with_displacements or [])
            source = "computed"
        else:
            raise InputError(f"{compound_id!r}: give a structure or a phonopy.yaml")
        number, symbol = _spacegroup(cell)
        return TdphHarmonicDoc(
            compound_id=compound_id,
            formula=cell.composition.reduced_formula,
            structure_id=structure_id(cell),
            spacegroup_number=number,
            spacegroup_symbol=symbol,
            structure=cell.as_dict(),
            supercell_matrix=np.rint(phonon.supercell_matrix).astype(int).tolist(),
            masses_amu=[float(m) for m in phonon.primitive.masses],
            force_constants=np.asarray(phonon.force_constants).tolist(),
            source=source,
            calculator=label if phonopy_yaml is None else self.calculator,
            relax_converged=converged,
            n_calculator_calls=calls,
            provenance=make_provenance(level=self.calculator),
        )


def phonopy_from_harmonic_doc(doc: TdphHarmonicDoc) -> Any:
    """Rebuild the harmonic phonopy object of a :class:`TdphHarmonicDoc`."""
    from thermogap.phonons.harmonic import phonopy_from_force_constants

    return phonopy_from_force_constants(
        Structure.from_dict(doc.structure or {}),
        doc.supercell_matrix or [1, 1, 1],
        np.asarray(doc.force_constants, dtype=float),
        masses=doc.masses_amu,
    )


@dataclass
class TdphRenormaliseMaker(Maker):
    """Renormalised phonons at one temperature and the paper's metrics (R_full, R_onsite, shift).

    Parameters
    ----------
    name : str
        Job name.
    calculator : str
        Engine name.
    calculator_kwargs : dict
        Engine factory arguments.
    settings : TdphSettings
        Sampling, estimator, iterations and metric settings.

    Examples
    --------
    >>> maker = TdphRenormaliseMaker(settings=TdphSettings(n_samples=8))
    """

    name: str = "tdph renormalise"
    calculator: str = "chgnet"
    calculator_kwargs: dict[str, Any] = field(default_factory=dict)
    settings: TdphSettings = field(default_factory=TdphSettings)

    @tg_job(data=_FC_FIELDS)
    def make(
        self,
        harmonic: TdphHarmonicDoc,
        temperature_k: float,
        model: TdphFineTuneDoc | None = None,
    ) -> TdphDoc:
        """Renormalise the harmonic force constants of ``harmonic`` at ``temperature_k`` (K).

        ``model``: a fine-tune job's output (by reference); its CHGNet gives the forces of
        the sampled supercells instead of ``calculator``.
        """
        harmonic = TdphHarmonicDoc.model_validate(harmonic)
        ids = harmonic.model_dump(
            include={
                "compound_id",
                "formula",
                "structure_id",
                "spacegroup_number",
                "spacegroup_symbol",
            }
        )
        base = {
            **ids,
            "temperature_k": float(temperature_k),
            "calculator": self.calculator,
            "settings": self.settings,
        }
        try:
            base["calculator"] = _calculator_label(self.calculator, model)
        except Exception as exc:  # a malformed model document fails this compound only
            return TdphDoc(
                **base, status="failed", failure_reason=_reason(exc), failed_step=self.name
            )
        if harmonic.status == "failed":
            return TdphDoc(
                **base,
                status="failed",
                failure_reason=harmonic.failure_reason,
                failed_step=harmonic.failed_step,
            )
        start = time.perf_counter()
        try:
            return self._run(harmonic, float(temperature_k), base, start, model)
        except Exception as exc:  # recorded, never raised: the other compounds go on
            return TdphDoc(
                **base, status="failed", failure_reason=_reason(exc), failed_step=self.name
            )

    def _run(
        self,
        harmonic: TdphHarmonicDoc,
        temperature_k: float,
        base: dict[str, Any],
        start: float,
        model: Any = None,
    ) -> TdphDoc:
        from thermogap.tdph.compound import measure_renormalisation

        phonon = phonopy_from_harmonic_doc(harmonic)
        calc = _calculator(self.calculator, self.calculator_kwargs, model)
        m = measure_renormalisation(phonon, calc, temperature_k, self.settings)
        result = m.result
        return TdphDoc(
            **base,
            structure=harmonic.structure,
            r_full=m.r_full,
            r_onsite=[OnsiteRatioDoc(**vars(r)) for r in m.r_onsite],
            r_onsite_max=max(r.r_onsite for r in m.r_onsite),
            frequency_shift_norm=m.frequency_shift_norm,
            **_baseline_fields(m),
            stable_harmonic=not result.imaginary_before,
            stable_renormalised=result.stable,
            imaginary_before=[ModeFrequencyDoc(**_mode(x)) for x in result.imaginary_before],
            imaginary_after=[ModeFrequencyDoc(**_mode(x)) for x in result.imaginary_after],
            min_frequency_harmonic_thz=m.min_frequency_harmonic_thz,
            min_frequency_renormalised_thz=result.iterations[-1].min_frequency_thz,
            iterations=[IterationDoc(**vars(r)) for r in result.iterations],
            n_calculator_calls=result.n_calculator_calls
            + (m.baseline.result.n_calculator_calls if m.baseline else 0),
            band_labels=m.bands_harmonic.labels,
            band_distances=m.bands_harmonic.distances.tolist(),
            band_segment_ends=[list(e) for e in m.bands_harmonic.segment_ends],
            bands_harmonic_thz=m.bands_harmonic.frequencies_thz.tolist(),
            bands_renormalised_thz=m.bands_renormalised.frequencies_thz.tolist(),
            force_constants=np.asarray(result.phonon.force_constants).tolist(),
            wall_time_s=time.perf_counter() - start,
            provenance=make_provenance(level=self.calculator),
        )


def _baseline_fields(m: Any) -> dict[str, Any]:
    if m.baseline is None:
        return {}
    b = m.baseline
    return {
        "baseline_temperature_k": b.result.temperature_k,
        "r_full_baseline": b.r_full,
        "r_onsite_max_baseline": max(r.r_onsite for r in b.r_onsite),
        "frequency_shift_norm_baseline": b.frequency_shift_norm,
    }


def _mode(mode: Any) -> dict[str, Any]:
    return {
        "qpoint": list(mode.qpoint),
        "band_index": mode.band_index,
        "frequency_thz": mode.frequency_thz,
    }


@job(on_missing_references=OnMissing.NONE)
def tdph_summary(docs: list[Any], compound_ids: list[str]) -> TdphSummaryDoc:
    """Collect every (compound, T) document; a job that crashed outright counts as failed.

    ``docs`` holds one entry per (compound, T) in the order of ``compound_ids`` (repeated per
    temperature); entries whose job did not finish arrive as ``None``.
    """
    failed: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    temperatures: set[float] = set()
    for cid, raw in zip(compound_ids, docs, strict=True):
        if raw is None:
            failed.setdefault(cid, "job did not finish (see the job store for its error)")
            continue
        doc = TdphDoc.model_validate(raw)
        temperatures.add(doc.temperature_k)
        if doc.status == "failed":
            failed.setdefault(cid, f"{doc.failed_step}: {doc.failure_reason}")
            continue
        rows.append(
            {
                "compound_id": cid,
                "formula": doc.formula,
                "spacegroup_number": doc.spacegroup_number,
                "temperature_k": doc.temperature_k,
                "r_full": doc.r_full,
                "r_onsite_max": doc.r_onsite_max,
                "frequency_shift_norm": doc.frequency_shift_norm,
                "r_onsite_max_baseline": doc.r_onsite_max_baseline,
                "stable_harmonic": doc.stable_harmonic,
                "stable_renormalised": doc.stable_renormalised,
            }
        )
    unique = list(dict.fromkeys(compound_ids))
    return TdphSummaryDoc(
        n_compounds=len(unique),
        n_ok=sum(1 for c in unique if c not in failed),
        failed=failed,
        temperatures_k=sorted(temperatures),
        rows=rows,
    )


@dataclass
class TdphFineTuneMaker(Maker):
    """Fine-tune CHGNet on data synthesised from reference harmonic force constants.

    Parameters
    ----------
    name : str
        Job name.
    n_configurations : int
        Displaced supercells per training compound (paper: 10).
    min_displacement_ang, max_displacement_ang : float
        Range of the random atomic displacements, Å (paper: 0.01–0.05).
    epochs : int
        Training epochs (paper, M3GNet: 150).
    learning_rate : float
        Adam learning rate.
    force_loss_ratio : float
        Weight of the force term of the MAE loss against the energy term.
    validation_fraction : float
        Fraction of the synthetic configurations kept for validation (paper: 5 %).
    seed : int
        Seed of displacements, split and training.
    freeze_embeddings : bool
        Keep CHGNet's embedding layers fixed (when ``train_only`` is None).
    train_only : list of str or None
        CHGNet sub-modules that learn; default: the readout MLP only, which holds a global
        stiffening of the force constants and transferred to a held-out compound where
        training all layers did not (docs/tdph.md). None: all but the embeddings.
    energy_loss_ratio : float
        Weight of the energy term (default 0: forces only, as the paper).
    base_model : str
        Bundled CHGNet version to start from.

    The output (:class:`TdphFineTuneDoc`, model bytes in the ``data`` store) can be passed
    by reference as ``model`` to :class:`TdphHarmonicMaker` and :class:`TdphRenormaliseMaker`
    (``TdphFlowMaker(finetune_maker=...)`` does that), which then compute with the
    fine-tuned CHGNet.

    Examples
    --------
    >>> maker = TdphFineTuneMaker(epochs=150)
    """

    name: str = "tdph fine-tune"
    n_configurations: int = 10
    min_displacement_ang: float = 0.01
    max_displacement_ang: float = 0.05
    epochs: int = 10
    learning_rate: float = 1e-3
    force_loss_ratio: float = 10.0
    validation_fraction: float = 0.05
    seed: int = 0
    freeze_embeddings: bool = True
    train_only: list[str] | None = field(default_factory=lambda: ["mlp"])
    energy_loss_ratio: float = 0.0
    base_model: str = "0.3.0"

    @tg_job(data=["model_state_b64"])
    def make(
        self, references: list[TdphHarmonicDoc], held_out: list[TdphHarmonicDoc] | None = None
    ) -> TdphFineTuneDoc:
        """Fine-tune on ``references``; report phonon MAEs on ``held_out`` compounds."""
        import base64
        import hashlib

        from thermogap.engines import get_calculator
        from thermogap.tdph.finetune import (
            chgnet_state_bytes,
            finetune_chgnet,
            model_reference_energy,
            phonon_frequency_mae,
        )
        from thermogap.tdph.synthetic import synthetic_dataset

        refs = [TdphHarmonicDoc.model_validate(r) for r in references]
        refs = [r for r in refs if r.status == "ok"]
        tests = [TdphHarmonicDoc.model_validate(r) for r in held_out or []]
        tests = [t for t in tests if t.status == "ok"]
        base = get_calculator("chgnet", model_name=self.base_model)
        configs = []
        for i, r in enumerate(refs):
            phonon = phonopy_from_harmonic_doc(r)
            configs += synthetic_dataset(
                phonon,
                r.compound_id,
                self.n_configurations,
                self.min_displacement_ang,
                self.max_displacement_ang,
                # E0 on the model's own scale: the energy term asks only for ½ uᵀΦu
                reference_energy_ev=model_reference_energy(phonon, base),
                seed=self.seed + i,
            )
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(configs))
        n_val = round(self.validation_fraction * len(configs))
        val = [configs[i] for i in order[:n_val]]
        train = [configs[i] for i in order[n_val:]]
        before = {
            t.compound_id: phonon_frequency_mae(phonopy_from_harmonic_doc(t), base) for t in tests
        }
        result = finetune_chgnet(
            train,
            val,
            epochs=self.epochs,
            learning_rate=self.learning_rate,
            force_loss_ratio=self.force_loss_ratio,
            seed=self.seed,
            freeze_embeddings=self.freeze_embeddings,
            train_only=self.train_only,
            energy_loss_ratio=self.energy_loss_ratio,
            model_name=self.base_model,
        )
        after = {
            t.compound_id: phonon_frequency_mae(phonopy_from_harmonic_doc(t), result.calculator)
            for t in tests
        }
        blob = chgnet_state_bytes(result.model)
        return TdphFineTuneDoc(
            train_compounds=[r.compound_id for r in refs],
            held_out_compounds=[t.compound_id for t in tests],
            n_configurations=len(train),
            epochs=self.epochs,
            learning_rate=self.learning_rate,
            train_only=self.train_only,
            energy_loss_ratio=self.energy_loss_ratio,
            train_force_mae_before=result.train_force_mae_before,
            train_force_mae_after=result.train_force_mae_after,
            val_force_mae_before=result.val_force_mae_before if val else None,
            val_force_mae_after=result.val_force_mae_after if val else None,
            phonon_mae_before_thz=before,
            phonon_mae_after_thz=after,
            base_model=self.base_model,
            model_sha256=hashlib.sha256(blob).hexdigest(),
            model_state_b64=base64.b64encode(blob).decode(),
            provenance=make_provenance(level="chgnet"),
        )
