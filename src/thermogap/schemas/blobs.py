"""Reference to bytes kept in a blob store, as it appears inside documents.

The reference is a plain schema so that documents can hold one without importing the storage
layer; :mod:`thermogap.store.blobs` writes and reads the bytes it points to.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class BlobRef(BaseModel):
    """A reference to bytes in the blob store, stored inside documents."""

    blob_id: str = Field(..., description="Identifier in the blob store (the SHA-256 hex digest).")
    sha256: str = Field(..., description="SHA-256 hex digest of the stored bytes.")
    size_bytes: int = Field(..., ge=0, description="Size of the stored bytes, in bytes.")
    kind: str = Field("bytes", description="What the bytes are: 'npy', 'npz', 'model', ...")
    filename: str | None = Field(None, description="Original file name, if any.")
