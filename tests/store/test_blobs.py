import hashlib

import numpy as np
import pytest
from bson import Binary

from thermogap.errors import BlobIntegrityError
from thermogap.store.blobs import BlobRef, FileBlobStore


def test_bytes_are_content_addressed_and_deduplicated(any_db):
    data = b"force constants" * 1000
    ref = any_db.blobs.put_bytes(data, kind="test")
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert ref.size_bytes == len(data)
    again = any_db.blobs.put_bytes(data, kind="test")
    assert again.blob_id == ref.blob_id
    assert any_db.blobs.get_bytes(ref.model_dump()) == data


def test_arrays_round_trip_exactly(any_db):
    rng = np.random.default_rng(0)
    positions = rng.normal(size=(500, 40, 3))
    ref = any_db.blobs.put_array(positions)
    np.testing.assert_array_equal(any_db.blobs.get_array(ref), positions)
    arrays = {"positions": positions, "energies": rng.normal(size=500)}
    back = any_db.blobs.get_arrays(any_db.blobs.put_arrays(arrays))
    assert set(back) == {"positions", "energies"}
    np.testing.assert_array_equal(back["energies"], arrays["energies"])


def _corrupt(blobs, blob_id: str, data: bytes) -> None:
    """Overwrite a stored blob behind the blob store's back."""
    if isinstance(blobs, FileBlobStore):
        blobs._path(blob_id).write_bytes(data)
        return
    files = blobs._files
    chunks = files.database[files.name.replace(".files", ".chunks")]
    file_id = files.find_one({"filename": blob_id})["_id"]
    chunks.update_one({"files_id": file_id, "n": 0}, {"$set": {"data": Binary(data)}})


def test_corruption_is_detected_on_read(any_db):
    ref = any_db.blobs.put_bytes(b"model weights")
    _corrupt(any_db.blobs, ref.blob_id, b"model weightz")
    with pytest.raises(BlobIntegrityError, match=ref.sha256):
        any_db.blobs.get_bytes(ref)


def test_wrong_recorded_hash_is_refused(any_db):
    ref = any_db.blobs.put_bytes(b"abc")
    forged = BlobRef(**(ref.model_dump() | {"sha256": "0" * 64}))
    with pytest.raises(BlobIntegrityError):
        any_db.blobs.get_bytes(forged)


def test_files_round_trip(any_db, tmp_path):
    src = tmp_path / "model.bin"
    src.write_bytes(bytes(range(256)) * 10)
    ref = any_db.blobs.put_file(src, kind="model")
    assert ref.filename == "model.bin"
    out = any_db.blobs.get_file(ref, tmp_path / "out" / "copy.bin")
    assert out.read_bytes() == src.read_bytes()
