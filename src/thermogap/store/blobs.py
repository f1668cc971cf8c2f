"""Content-addressed blob storage for large arrays, trajectories, datasets and model files.

Documents never hold large arrays: they hold a :class:`BlobRef` whose ``blob_id`` is the
SHA-256 of the bytes. Writing the same bytes twice stores them once, a write is complete or
absent (files are renamed into place; GridFS files are written before they become findable by
their hash), and every read recomputes the hash and refuses data that does not match.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from thermogap.errors import BlobIntegrityError, StoreError
from thermogap.schemas.blobs import BlobRef


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore(ABC):
    """Interface of a blob backend; subclasses store raw bytes under their SHA-256."""

    @abstractmethod
    def _write(self, sha256: str, data: bytes, metadata: dict[str, Any]) -> None: ...

    @abstractmethod
    def _read(self, blob_id: str) -> bytes: ...

    @abstractmethod
    def exists(self, blob_id: str) -> bool:
        """Return whether a blob with this id is stored."""

    def put_bytes(
        self, data: bytes, *, kind: str = "bytes", filename: str | None = None
    ) -> BlobRef:
        """Store ``data`` and return its reference (idempotent for identical bytes)."""
        digest = _sha256(data)
        if not self.exists(digest):
            self._write(digest, data, {"kind": kind, "filename": filename})
        elif self.check(digest) is not None:  # a damaged copy: writing it again repairs it
            self._replace(digest, data, {"kind": kind, "filename": filename})
        return BlobRef(
            blob_id=digest, sha256=digest, size_bytes=len(data), kind=kind, filename=filename
        )

    def _replace(self, sha256: str, data: bytes, metadata: dict[str, Any]) -> None:
        """Overwrite a stored blob whose content no longer matches its hash."""
        self._write(sha256, data, metadata)

    def check(self, blob_id: str, sha256: str | None = None) -> str | None:
        """Return ``None`` if the blob is present and hashes to ``sha256``, else the problem.

        Parameters
        ----------
        blob_id
            Identifier in the store.
        sha256
            Expected SHA-256 (default: ``blob_id``, which is the hash for blobs written here).
        """
        try:
            data = self._read(blob_id)
        except StoreError as exc:
            return str(exc)
        digest = _sha256(data)
        expected = sha256 or blob_id
        if digest != expected:
            return f"blob {blob_id} is corrupted: sha256 {digest} != recorded {expected}"
        return None

    def get_bytes(self, ref: BlobRef | dict[str, Any]) -> bytes:
        """Read the bytes of ``ref`` and check them against its SHA-256.

        Raises
        ------
        BlobIntegrityError
            If the stored bytes do not hash to ``ref.sha256``.
        StoreError
            If no blob with ``ref.blob_id`` exists.
        """
        ref = BlobRef.model_validate(ref)
        data = self._read(ref.blob_id)
        digest = _sha256(data)
        if digest != ref.sha256:
            raise BlobIntegrityError(
                f"blob {ref.blob_id} is corrupted: sha256 {digest} != recorded {ref.sha256}"
            )
        return data

    def put_array(self, array: np.ndarray, *, kind: str = "npy") -> BlobRef:
        """Store one numpy array (``.npy`` format, no pickles)."""
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        return self.put_bytes(buffer.getvalue(), kind=kind)

    def get_array(self, ref: BlobRef | dict[str, Any]) -> np.ndarray:
        """Read back an array stored with :meth:`put_array`."""
        return np.load(io.BytesIO(self.get_bytes(ref)), allow_pickle=False)

    def put_arrays(self, arrays: dict[str, np.ndarray], *, kind: str = "npz") -> BlobRef:
        """Store several named arrays together (compressed ``.npz``)."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        return self.put_bytes(buffer.getvalue(), kind=kind)

    def get_arrays(self, ref: BlobRef | dict[str, Any]) -> dict[str, np.ndarray]:
        """Read back arrays stored with :meth:`put_arrays`."""
        with np.load(io.BytesIO(self.get_bytes(ref)), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}

    def put_file(self, path: str | os.PathLike[str], *, kind: str = "file") -> BlobRef:
        """Store the content of a file (model files, datasets)."""
        path = Path(path)
        return self.put_bytes(path.read_bytes(), kind=kind, filename=path.name)

    def get_file(self, ref: BlobRef | dict[str, Any], dest: str | os.PathLike[str]) -> Path:
        """Write a verified blob to ``dest`` (atomically) and return the path."""
        data = self.get_bytes(ref)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, dest)
        return dest


class FileBlobStore(BlobStore):
    """Blobs as files ``ROOT/ab/abcdef...`` next to the embedded database."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, blob_id: str) -> Path:
        return self.root / blob_id[:2] / blob_id

    def exists(self, blob_id: str) -> bool:
        """Return whether the blob file exists."""
        return self._path(blob_id).is_file()

    def _write(self, sha256: str, data: bytes, metadata: dict[str, Any]) -> None:
        target = self._path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        # write to a temporary file first so a killed process never leaves a partial blob
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
            tmp.write(data)
        os.replace(tmp.name, target)

    def _read(self, blob_id: str) -> bytes:
        try:
            return self._path(blob_id).read_bytes()
        except FileNotFoundError:
            raise StoreError(f"blob {blob_id} not found under {self.root}") from None

    def clear(self) -> None:
        """Delete every blob (used by tests and ``thermogap db`` maintenance)."""
        shutil.rmtree(self.root, ignore_errors=True)


class MemoryBlobStore(BlobStore):
    """Blobs in a dictionary of this process (for jobs run against in-memory job stores)."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def exists(self, blob_id: str) -> bool:
        """Return whether the blob is held."""
        return blob_id in self._blobs

    def _write(self, sha256: str, data: bytes, metadata: dict[str, Any]) -> None:
        self._blobs[sha256] = bytes(data)

    def _read(self, blob_id: str) -> bytes:
        try:
            return self._blobs[blob_id]
        except KeyError:
            raise StoreError(f"blob {blob_id} not found in memory") from None


class GridFSBlobStore(BlobStore):
    """Blobs in a MongoDB GridFS bucket, found by their SHA-256 stored as the file name."""

    def __init__(self, database: Any, bucket: str = "thermogap_blobs") -> None:
        import gridfs

        self._bucket = gridfs.GridFSBucket(database, bucket_name=bucket)
        self._files = database[f"{bucket}.files"]

    def exists(self, blob_id: str) -> bool:
        """Return whether a complete GridFS file with this hash exists."""
        return self._files.count_documents({"filename": blob_id}, limit=1) > 0

    def _write(self, sha256: str, data: bytes, metadata: dict[str, Any]) -> None:
        # GridFS writes the chunks first and the files document last, so an interrupted upload
        # is never found by its file name.
        self._bucket.upload_from_stream(sha256, io.BytesIO(data), metadata=metadata)

    def _read(self, blob_id: str) -> bytes:
        import gridfs
        from pymongo.errors import PyMongoError

        try:
            return self._bucket.open_download_stream_by_name(blob_id).read()
        except gridfs.errors.NoFile:
            raise StoreError(f"blob {blob_id} not found in GridFS") from None
        except gridfs.errors.CorruptGridFile as exc:  # a missing or truncated chunk
            raise BlobIntegrityError(f"blob {blob_id} is corrupted in GridFS: {exc}") from None
        except PyMongoError as exc:
            raise StoreError(f"cannot read blob {blob_id} from GridFS: {exc}") from None

    def _replace(self, sha256: str, data: bytes, metadata: dict[str, Any]) -> None:
        # upload the good copy first, then drop the damaged ones: never a moment without one
        new_id = self._bucket.upload_from_stream(sha256, io.BytesIO(data), metadata=metadata)
        for old in self._files.find({"filename": sha256, "_id": {"$ne": new_id}}, {"_id": 1}):
            self._bucket.delete(old["_id"])
