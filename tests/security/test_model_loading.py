"""Loading a model from the store never runs code that came with it (issue 12, part 1).

The payload is a real pickle whose unpickling creates a marker file; the test first shows
that an unsafe ``torch.load`` does run it, so an absent marker means the loader refused it.
"""

from __future__ import annotations

import hashlib
import os
import stat

import pytest
import torch

from thermogap.errors import BlobIntegrityError, StoreError
from thermogap.mlip.calculator import (
    UntrustedModelError,
    calculator_from_model_id,
    load_mace_calculator,
    load_mace_model_bytes,
    materialise_model_file,
)


class _Payload:
    """Unpickling this touches ``marker``: stands for any code planted in a model file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _malicious_model_bytes(marker) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save({"model": _Payload(str(marker))}, buffer)
    return buffer.getvalue()


def _plant(db, data: bytes, model_id: str = "mace-evil") -> str:
    ref = db.blobs.put_bytes(data, kind="mace-model")
    sha256 = hashlib.sha256(data).hexdigest()
    db.upsert(
        "models",
        [{"model_id": model_id, "kind": "mace", "sha256": sha256, "model_blob": ref.model_dump()}],
        key="model_id",
    )
    return sha256


def test_payload_really_runs_when_unpickled_unsafely(tmp_path):
    """Control: the planted bytes do execute under a full unpickle (so the test can fail)."""
    import io

    marker = tmp_path / "control-marker"
    torch.load(io.BytesIO(_malicious_model_bytes(marker)), weights_only=False)
    assert marker.exists()


def test_planted_model_with_matching_hash_does_not_execute(db, tmp_path):
    marker = tmp_path / "pwned"
    _plant(db, _malicious_model_bytes(marker))
    with pytest.raises(UntrustedModelError, match="refusing"):
        calculator_from_model_id(db, "mace-evil", cache_dir=tmp_path / "cache")
    assert not marker.exists()

    # a materialised copy loaded by path, with its correct hash, is refused the same way
    path, doc = materialise_model_file(db, "mace-evil", cache_dir=tmp_path / "cache")
    with pytest.raises(UntrustedModelError):
        load_mace_calculator(path, expected_sha256=doc["sha256"])
    assert not marker.exists()


def test_swapped_cache_file_is_not_loaded(db, tmp_path):
    """A file swapped into the cache is hashed as read; a mismatch falls back to the blob."""
    marker = tmp_path / "pwned"
    good = _malicious_model_bytes(tmp_path / "never")  # content irrelevant: it is refused too
    sha256 = _plant(db, good, "mace-x")
    cache = tmp_path / "cache"
    path, _ = materialise_model_file(db, "mace-x", cache_dir=cache)
    path.write_bytes(_malicious_model_bytes(marker))  # swap after it was written
    with pytest.raises(UntrustedModelError):
        calculator_from_model_id(db, "mace-x", cache_dir=cache)
    assert not marker.exists()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256  # repaired from the blob


def test_user_file_needs_explicit_trust(tmp_path):
    marker = tmp_path / "trusted-marker"
    model = tmp_path / "own.model"
    model.write_bytes(_malicious_model_bytes(marker))
    with pytest.raises(UntrustedModelError):
        load_mace_model_bytes(model.read_bytes())
    assert not marker.exists()
    # with trust_model=True the user's own file is unpickled (that is what trust means)
    load_mace_model_bytes(model.read_bytes(), trust_model=True)
    assert marker.exists()


def test_hash_mismatch_is_refused_before_loading(tmp_path):
    marker = tmp_path / "pwned"
    model = tmp_path / "m.model"
    model.write_bytes(_malicious_model_bytes(marker))
    with pytest.raises(BlobIntegrityError, match="refusing"):
        load_mace_calculator(model, expected_sha256="0" * 64, trust_model=True)
    assert not marker.exists()


def test_model_cache_is_private_and_owned(db, tmp_path):
    _plant(db, b"not a model", "mace-junk")
    shared = tmp_path / "shared-cache"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    materialise_model_file(db, "mace-junk", cache_dir=shared)
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o700

    if os.getuid() != 0:
        pytest.skip("changing the owner of a directory needs root")  # pragma: no cover
    foreign = tmp_path / "foreign-cache"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, 12345, 12345)
    with pytest.raises(StoreError, match="belongs to uid 12345"):
        materialise_model_file(db, "mace-junk", cache_dir=foreign)
