import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from thermogap.errors import BlobIntegrityError, UnknownEntryError
from thermogap.mlip.calculator import calculator_from_model_id, load_mace_calculator


def test_torch_load_stays_safe_after_building_a_mace_calculator(tiny_mace, tmp_path):
    """In a fresh process: build a calculator, then torch.load must refuse arbitrary pickles."""
    script = textwrap.dedent(
        f"""
        import os, pickle, torch
        from thermogap.mlip.calculator import load_mace_calculator
        calc = load_mace_calculator({str(tiny_mace.model_path)!r}, {tiny_mace.sha256!r})
        print("ENV", os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"))
        class Payload:
            pass
        torch.save(Payload(), {str(tmp_path / "payload.pt")!r})
        try:
            torch.load({str(tmp_path / "payload.pt")!r})
            print("UNSAFE")
        except pickle.UnpicklingError:
            print("SAFE")
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ENV None" in out.stdout and "SAFE" in out.stdout and "UNSAFE" not in out.stdout


def test_tampered_model_file_is_refused(tiny_mace, tmp_path):
    copy = tmp_path / "tampered.model"
    shutil.copy(tiny_mace.model_path, copy)
    with open(copy, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BlobIntegrityError, match="refusing"):
        load_mace_calculator(copy, expected_sha256=tiny_mace.sha256)


def _store_model(db, tiny_mace, model_id="mace-test"):
    ref = db.blobs.put_file(tiny_mace.model_path, kind="mace-model")
    db.upsert(
        "models",
        [
            {
                "model_id": model_id,
                "kind": "mace",
                "sha256": tiny_mace.sha256,
                "model_blob": ref.model_dump(),
            }
        ],
        key="model_id",
    )
    return ref


def test_calculator_from_model_id_matches_mace_own_loader(
    db, tiny_mace, labelled_configurations, tmp_path
):
    from thermogap.mlip.calculator import contained_mace_import

    _store_model(db, tiny_mace)
    calc = calculator_from_model_id(db, "mace-test", cache_dir=tmp_path / "cache")
    with contained_mace_import():
        from mace.calculators import MACECalculator

        reference = MACECalculator(
            models=torch.load(tiny_mace.pickled_model_path, weights_only=False),
            default_dtype="float64",
        )
    atoms = labelled_configurations[0].copy()
    atoms.calc = calc
    forces = atoms.get_forces()
    atoms2 = labelled_configurations[0].copy()
    atoms2.calc = reference
    np.testing.assert_allclose(forces, atoms2.get_forces(), atol=1e-10)
    assert atoms.get_potential_energy() == pytest.approx(atoms2.get_potential_energy(), abs=1e-10)

    # a corrupted cached copy is replaced from the verified blob, not loaded
    cached = tmp_path / "cache" / f"{tiny_mace.sha256}.model"
    cached.write_bytes(b"garbage")
    calculator_from_model_id(db, "mace-test", cache_dir=tmp_path / "cache")
    assert cached.read_bytes() == tiny_mace.model_path.read_bytes()

    with pytest.raises(UnknownEntryError, match="mace-test"):
        calculator_from_model_id(db, "mace-nope", cache_dir=tmp_path / "cache")


def test_stored_model_is_a_weights_only_archive_with_allow_listed_names(tiny_mace):
    import io

    from thermogap.mlip.calculator import UntrustedModelError, load_mace_model_bytes

    archive = torch.load(tiny_mace.model_path, weights_only=True)  # no code can run here
    assert archive["model_class"] == "ScaleShiftMACE"
    assert archive["config"]["interaction_cls"].startswith("RealAgnostic")
    for field, bad in (("interaction_cls", "Popen"), ("gate", "system")):
        tampered = dict(archive, config=dict(archive["config"], **{field: bad}))
        buffer = io.BytesIO()
        torch.save(tampered, buffer)
        with pytest.raises(UntrustedModelError, match=bad):
            load_mace_model_bytes(buffer.getvalue())
