"""Results database: collections in maggma stores and a content-addressed blob store."""

from thermogap.store.blobs import BlobRef, BlobStore, FileBlobStore, GridFSBlobStore
from thermogap.store.collections import COLLECTIONS
from thermogap.store.config import StoreConfig, resolve_store_config
from thermogap.store.context import current_db
from thermogap.store.database import ResultsDB

__all__ = [
    "COLLECTIONS",
    "BlobRef",
    "BlobStore",
    "FileBlobStore",
    "GridFSBlobStore",
    "ResultsDB",
    "StoreConfig",
    "current_db",
    "resolve_store_config",
]
