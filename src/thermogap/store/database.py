"""The results database: one maggma store per collection plus a blob store.

The same :class:`ResultsDB` backs jobflow's job store (collection ``outputs``) and
thermogap's own collections (``structures``, ``phonons``, ``configurations``, ``labels``,
``models``, ``trajectories``, ``band_gaps``), so a worker that is handed a jobflow
``JobStore`` can find everything else from it (:meth:`ResultsDB.from_jobstore`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import bson
from jobflow import JobStore
from maggma.core import Store
from maggma.stores import MongoStore, MontyStore
from monty.json import jsanitize

from thermogap.errors import ConfigError, StoreConnectionError, StoreError
from thermogap.store.blobs import BlobStore, FileBlobStore, GridFSBlobStore
from thermogap.store.config import StoreConfig, resolve_store_config

COLLECTIONS = (
    "structures",
    "phonons",
    "configurations",
    "labels",
    "models",
    "trajectories",
    "band_gaps",
    "disorder",
    "electron_phonon",
    "runs",
)
_MONTY_DB_DIR = "db"
# MongoDB refuses documents over 16 MiB; keep a margin for jobflow's and maggma's own fields
MAX_DOCUMENT_BYTES = 15 * 2**20
_BLOB_DIR = "blobs"


class ResultsDB:
    """thermogap's results database.

    Parameters
    ----------
    config
        Where the database lives; see :func:`thermogap.store.config.resolve_store_config`.

    Examples
    --------
    >>> import tempfile
    >>> db = ResultsDB.from_spec(tempfile.mkdtemp())
    >>> db.upsert("band_gaps", [{"result_id": "a", "band_gap_ev": 1.2}], key="result_id")
    1
    >>> db.query("band_gaps", {"result_id": "a"})[0]["band_gap_ev"]
    1.2
    >>> db.close()
    """

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self._stores: dict[str, Store] = {}
        self._indexed: set[tuple[str, tuple[str, ...]]] = set()
        self._client: Any = None
        self._jobstore: JobStore | None = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: str | os.PathLike[str] | StoreConfig | None = None) -> ResultsDB:
        """Open the database named by a path, URI, YAML file or ``$THERMOGAP_STORE``."""
        db = cls(resolve_store_config(spec))
        db.check_connection()
        return db

    @classmethod
    def from_jobstore(cls, jobstore: JobStore) -> ResultsDB:
        """Recover the database a jobflow ``JobStore`` writes to (on a worker, inside a job)."""
        docs = jobstore.docs_store
        if isinstance(docs, MontyStore):
            path = os.path.dirname(os.path.abspath(docs.database_path))
            config = StoreConfig(
                backend="monty",
                path=path,
                database=docs.database_name,
                outputs_collection=docs.collection_name,
            )
        elif isinstance(docs, MongoStore):
            if docs.uri:
                uri = docs.uri
            else:
                auth = ""
                if docs.username:
                    from urllib.parse import quote_plus

                    auth = f"{quote_plus(docs.username)}:{quote_plus(docs.password)}@"
                uri = f"mongodb://{auth}{docs.host}:{docs.port}/"
            config = StoreConfig(
                backend="mongodb",
                uri=uri,
                database=docs.database or urlsplit(uri).path.lstrip("/") or "thermogap",
                outputs_collection=docs.collection_name,
            )
        else:
            raise StoreError(
                f"cannot derive a thermogap database from a {type(docs).__name__} job store; "
                "allowed: MontyStore, MongoStore"
            )
        return cls(config)

    # -- connections --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Location of the database, without credentials."""
        return self.config.display_name

    def _mongo_client(self) -> Any:
        if self._client is None:
            from pymongo import MongoClient

            timeout_ms = int(self.config.timeout_s * 1000)
            self._client = MongoClient(
                self.config.mongo_uri(),
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
            )
        return self._client

    def check_connection(self) -> None:
        """Fail fast with one clear line when the server cannot be reached.

        Raises
        ------
        StoreConnectionError
            If MongoDB does not answer within ``config.timeout_s`` seconds.
        """
        if self.config.backend == "monty":
            assert self.config.path is not None
            return
        from pymongo.errors import PyMongoError

        try:
            self._mongo_client().admin.command("ping")
        except PyMongoError:
            raise StoreConnectionError(
                f"cannot reach MongoDB at {self.name} within {self.config.timeout_s:g} s"
            ) from None

    def _make_store(self, collection: str) -> Store:
        if self.config.backend == "monty":
            assert self.config.path is not None
            return MontyStore(
                collection_name=collection,
                database_path=str(self.config.path / _MONTY_DB_DIR),
                database_name=self.config.database,
                storage="sqlite",
            )
        timeout_ms = int(self.config.timeout_s * 1000)
        return MongoStore(
            database=self.config.database,
            collection_name=collection,
            uri=self.config.mongo_uri(),
            mongoclient_kwargs={
                "serverSelectionTimeoutMS": timeout_ms,
                "connectTimeoutMS": timeout_ms,
            },
        )

    def collection(self, name: str) -> Store:
        """Return the connected maggma store of collection ``name``."""
        if name not in self._stores:
            if self.config.backend == "monty":
                assert self.config.path is not None
                self.config.path.mkdir(parents=True, exist_ok=True)
            store = self._make_store(name)
            try:
                store.connect()
            except Exception as exc:  # pymongo raises several unrelated types here
                raise StoreConnectionError(f"cannot open {self.name}/{name}: {exc}") from None
            self._stores[name] = store
        return self._stores[name]

    def jobstore(self) -> JobStore:
        """Return the (connected) jobflow ``JobStore`` on this database (collection ``outputs``)."""
        if self._jobstore is None:
            self._jobstore = JobStore(self._make_store(self.config.outputs_collection))
            self._jobstore.connect()
        return self._jobstore

    @cached_property
    def blobs(self) -> BlobStore:
        """The blob store: files beside the embedded database, or GridFS on MongoDB."""
        if self.config.backend == "monty":
            assert self.config.path is not None
            return FileBlobStore(self.config.path / _BLOB_DIR)
        return GridFSBlobStore(
            self._mongo_client()[self.config.database], bucket=self.config.blob_bucket
        )

    def close(self) -> None:
        """Close every open connection."""
        for store in self._stores.values():
            # closing twice or a dead server must not raise on the way out
            with contextlib.suppress(Exception):
                store.close()
        self._stores.clear()
        if self._jobstore is not None:
            with contextlib.suppress(Exception):
                self._jobstore.close()
            self._jobstore = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- documents ----------------------------------------------------------------------------
    def _raw(self, name: str) -> Any:
        return self.collection(name)._collection

    def ensure_index(self, name: str, keys: Sequence[str], unique: bool = False) -> None:
        """Index ``keys`` of collection ``name`` once per process (no-op on MontyDB)."""
        tag = (name, tuple(keys))
        if tag in self._indexed:
            return
        if self.config.backend == "mongodb":
            self._raw(name).create_index([(k, 1) for k in keys], unique=unique)
        self._indexed.add(tag)

    def upsert(self, name: str, docs: Iterable[dict[str, Any]], key: str | Sequence[str]) -> int:
        """Insert or replace documents in bulk, matching on ``key``; return how many were written.

        Each document is written whole in one operation: a reader never sees half of one.
        """
        keys = [key] if isinstance(key, str) else list(key)
        clean = [jsanitize(d, allow_bson=True, recursive_msonable=True) for d in docs]
        if not clean:
            return 0
        for doc in clean:
            missing = [k for k in keys if k not in doc]
            if missing:
                raise StoreError(f"document for {name!r} lacks key field(s) {missing}")
            size = len(bson.encode(doc))
            if size > MAX_DOCUMENT_BYTES:
                ident = {k: doc[k] for k in keys}
                raise StoreError(
                    f"document {ident} for {name!r} is {size / 2**20:.1f} MiB; documents must"
                    f" stay below {MAX_DOCUMENT_BYTES / 2**20:.0f} MiB "
                    "(put large arrays in db.blobs and store the BlobRef)"
                )
        self.ensure_index(name, keys, unique=True)
        coll = self._raw(name)
        if self.config.backend == "mongodb":
            from pymongo import ReplaceOne

            coll.bulk_write(
                [ReplaceOne({k: d[k] for k in keys}, d, upsert=True) for d in clean],
                ordered=False,
            )
        else:
            # MontyDB upserts one document at a time (tens per second); delete the old
            # versions in one query and insert the new ones in bulk instead.
            # (montydb cannot delete from a collection that was never written, hence the find)
            if len(keys) == 1:
                selector = {keys[0]: {"$in": [d[keys[0]] for d in clean]}}
                if coll.find_one(selector) is not None:
                    coll.delete_many(selector)
            else:
                for d in clean:
                    selector = {k: d[k] for k in keys}
                    if coll.find_one(selector) is not None:
                        coll.delete_many(selector)
            coll.insert_many(clean)
        return len(clean)

    def query(
        self,
        name: str,
        criteria: dict[str, Any] | None = None,
        properties: list[str] | None = None,
        sort: dict[str, int] | None = None,
        limit: int = 0,
    ) -> list[dict[str, Any]]:
        """Return matching documents (without MongoDB's ``_id``)."""
        projection: dict[str, Any] = {"_id": 0}
        if properties:
            projection = {p: 1 for p in properties} | {"_id": 0}
        cursor = self._raw(name).find(criteria or {}, projection)
        if sort:
            cursor = cursor.sort(list(sort.items()))
        if limit:
            cursor = cursor.limit(limit)
        return list(cursor)

    def query_one(
        self, name: str, criteria: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any] | None:
        """Return the first matching document, or ``None``."""
        found = self.query(name, criteria, limit=1, **kwargs)
        return found[0] if found else None

    def count(self, name: str, criteria: dict[str, Any] | None = None) -> int:
        """Count matching documents."""
        return int(self._raw(name).count_documents(criteria or {}))

    def distinct(self, name: str, field: str, criteria: dict[str, Any] | None = None) -> list[Any]:
        """Return the distinct values of ``field`` among matching documents."""
        return list(self._raw(name).distinct(field, criteria or {}))

    def delete(self, name: str, criteria: dict[str, Any]) -> int:
        """Delete matching documents; return how many."""
        if not criteria:
            raise ConfigError("refusing to delete with empty criteria; pass an explicit filter")
        return int(self._raw(name).delete_many(criteria).deleted_count)
