"""The tdph flow fine-tunes CHGNet and then computes with the fine-tuned model."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Structure

from thermogap.engines import get_calculator
from thermogap.errors import ConfigError, InputError
from thermogap.flows.tdph import TdphFlowMaker, example_structures, tdph_flow
from thermogap.jobs.tdph import TdphFineTuneMaker, TdphHarmonicMaker, TdphRenormaliseMaker
from thermogap.phonons.harmonic import compute_force_constants
from thermogap.schemas.tdph import TdphDoc, TdphFineTuneDoc, TdphHarmonicDoc, TdphSettings
from thermogap.tdph.finetune import chgnet_from_state

STIFFER = 1.3  # reference force constants = 1.3 x CHGNet's: a stand-in for stiffer PBEsol ones


@pytest.fixture(scope="module")
def nacl() -> tuple[Structure, np.ndarray, np.ndarray]:
    """NaCl example cell, CHGNet's 2x2x2 force constants and the stiffer reference."""
    structure = Structure.from_file(example_structures(["NaCl"])[0])
    phonon = compute_force_constants(
        structure, get_calculator("chgnet"), supercell_matrix=(2, 2, 2)
    )
    fc = np.asarray(phonon.force_constants)
    return structure, fc, STIFFER * fc


def _reference_yaml(structure: Structure, fc_ref: np.ndarray, folder: Path) -> str:
    phonon = compute_force_constants(
        structure, get_calculator("chgnet"), supercell_matrix=(2, 2, 2)
    )
    phonon.force_constants = fc_ref
    path = folder / "NaCl_ref_phonopy.yaml"
    phonon.save(str(path), settings={"force_constants": True})
    return str(path)


def test_flow_uses_the_finetuned_model_as_its_calculator(nacl, tmp_path: Path) -> None:
    structure, fc_chgnet, fc_ref = nacl
    reference = _reference_yaml(structure, fc_ref, tmp_path)
    maker = TdphFlowMaker(
        temperatures_k=[300.0],
        harmonic_maker=TdphHarmonicMaker(relax=False, supercell_matrix=[2, 2, 2]),
        renormalise_maker=TdphRenormaliseMaker(
            settings=TdphSettings(n_samples=2, shift_mesh=[2, 2, 2], band_npoints=2)
        ),
        finetune_maker=TdphFineTuneMaker(
            n_configurations=6, epochs=4, learning_rate=1e-3, validation_fraction=0.0
        ),
    )
    flow = maker.make([structure], finetune_references=[reference])
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(flow, store=store, log=False, ensure_success=True, root_dir=tmp_path)

    tuned = TdphFineTuneDoc.model_validate(
        store.query_one({"name": "tdph fine-tune"}, load=True)["output"]
    )
    raw = store.query_one({"name": "tdph fine-tune"}, load=False)["output"]
    assert "blob_uuid" in raw["model_state_b64"]  # the model bytes live in the data store
    label = f"chgnet-0.3.0-finetuned:{tuned.model_sha256[:12]}"
    harmonic = TdphHarmonicDoc.model_validate(
        store.query_one({"name": "tdph harmonic NaCl"}, load=True)["output"]
    )
    renorm = TdphDoc.model_validate(
        store.query_one({"name": {"$regex": "^tdph renormalise NaCl"}}, load=True)["output"]
    )
    assert harmonic.status == "ok" and harmonic.calculator == label
    assert renorm.status == "ok" and renorm.calculator == label
    # the flow's harmonic force constants are the fine-tuned model's: recomputed here from the
    # stored bytes they agree, and they moved from CHGNet's towards the stiffer reference
    fc_flow = np.asarray(harmonic.force_constants)
    calc = chgnet_from_state(base64.b64decode(tuned.model_state_b64 or ""))
    fc_again = compute_force_constants(structure, calc, supercell_matrix=(2, 2, 2))
    np.testing.assert_allclose(fc_flow, fc_again.force_constants, atol=1e-5)
    assert np.linalg.norm(fc_flow - fc_ref) < 0.9 * np.linalg.norm(fc_chgnet - fc_ref)


def test_finetune_inputs_are_checked(nacl) -> None:
    structure, _, _ = nacl
    maker = TdphFlowMaker(finetune_maker=TdphFineTuneMaker())
    with pytest.raises(InputError, match="finetune_references"):
        maker.make([structure])
    with pytest.raises(InputError, match="is a structure"):
        maker.make([structure], finetune_references=example_structures(["NaCl"]))
    with pytest.raises(InputError, match="finetune_maker"):
        TdphFlowMaker().make([structure], finetune_references=example_structures(["NaCl"]))
    with pytest.raises(InputError, match="finetune_references"):
        tdph_flow(examples=["KCl"], finetune={"epochs": 1})
    with pytest.raises(ConfigError, match="bogus"):
        tdph_flow(examples=["KCl"], finetune={"bogus": 1}, finetune_references=["x"])
