import hashlib

import numpy as np
import pytest

from thermogap.errors import BlobIntegrityError
from thermogap.store.blobs import BlobRef


def test_bytes_are_content_addressed_and_deduplicated(db):
    data = b"force constants" * 1000
    ref = db.blobs.put_bytes(data, kind="test")
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert ref.size_bytes == len(data)
    again = db.blobs.put_bytes(data, kind="test")
    assert again.blob_id == ref.blob_id
    assert db.blobs.get_bytes(ref.model_dump()) == data


def test_arrays_round_trip_exactly(db):
    rng = np.random.default_rng(0)
    positions = rng.normal(size=(500, 40, 3))
    ref = db.blobs.put_array(positions)
    np.testing.assert_array_equal(db.blobs.get_array(ref), positions)
    arrays = {"positions": positions, "energies": rng.normal(size=500)}
    back = db.blobs.get_arrays(db.blobs.put_arrays(arrays))
    assert set(back) == {"positions", "energies"}
    np.testing.assert_array_equal(back["energies"], arrays["energies"])


def test_corruption_is_detected_on_read(db):
    ref = db.blobs.put_bytes(b"model weights")
    path = db.blobs._path(ref.blob_id)
    path.write_bytes(b"model weightz")
    with pytest.raises(BlobIntegrityError, match=ref.sha256):
        db.blobs.get_bytes(ref)


def test_wrong_recorded_hash_is_refused(db):
    ref = db.blobs.put_bytes(b"abc")
    forged = BlobRef(**(ref.model_dump() | {"sha256": "0" * 64}))
    with pytest.raises(BlobIntegrityError):
        db.blobs.get_bytes(forged)


def test_files_round_trip(db, tmp_path):
    src = tmp_path / "model.bin"
    src.write_bytes(bytes(range(256)) * 10)
    ref = db.blobs.put_file(src, kind="model")
    assert ref.filename == "model.bin"
    out = db.blobs.get_file(ref, tmp_path / "out" / "copy.bin")
    assert out.read_bytes() == src.read_bytes()
