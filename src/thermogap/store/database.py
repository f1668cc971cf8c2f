"""The results database: one maggma store per collection plus a blob store.

The same :class:`ResultsDB` backs jobflow's job store (collection ``outputs``) and
thermogap's own collections (``structures``, ``phonons``, ``configurations``, ``labels``,
``models``, ``trajectories``, ``band_gaps``), so a worker that is handed a jobflow
``JobStore`` can find everything else from it (:meth:`ResultsDB.from_jobstore`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import bson
from jobflow import JobStore
from maggma.core import Store
from maggma.stores import GridFSStore, MemoryStore, MongoStore, MontyStore
from monty.json import jsanitize

from thermogap.errors import (
    ConfigError,
    InputError,
    ReadOnlyStoreError,
    StoreAuthenticationError,
    StoreConnectionError,
    StoreError,
)
from thermogap.store.blobs import BlobStore, FileBlobStore, GridFSBlobStore, MemoryBlobStore
from thermogap.store.collections import COLLECTIONS as COLLECTIONS  # re-exported
from thermogap.store.config import StoreConfig, resolve_store_config

_MONTY_DB_DIR = "db"
# MongoDB refuses documents over 16 MiB; keep a margin for jobflow's and maggma's own fields
MAX_DOCUMENT_BYTES = 15 * 2**20
_BLOB_DIR = "blobs"
# jobflow's additional store for the large arrays of job outputs (``@job(data=...)``)
DATA_STORE_NAME = "data"
_WRITE_LOCK = ".thermogap-write.lock"
#: MongoDB server error codes of a failed login and of a missing privilege.
AUTH_FAILED_CODES = (18,)
UNAUTHORIZED_CODES = (13,)


_LOCKS: dict[tuple[int, str], Any] = {}


def _monty_write_lock(database_path: str | os.PathLike[str]) -> Any:
    """Return the cross-process write lock of an embedded database (a file beside its data).

    One lock object per process and path, so nested writes in one process re-enter it
    instead of waiting for themselves.
    """
    from filelock import FileLock

    path = os.path.join(os.path.abspath(os.fspath(database_path)), _WRITE_LOCK)
    key = (os.getpid(), path)
    if key not in _LOCKS:
        _LOCKS[key] = FileLock(path, timeout=600)
    return _LOCKS[key]


class LockedMontyStore(MontyStore):
    """A maggma ``MontyStore`` whose writes hold a file lock shared by all processes.

    MontyDB replaces a document by finding, deleting and inserting it; two processes doing so
    at once leave duplicates. Every ``update``/``remove_docs`` therefore takes the lock of the
    database directory. ``connect`` only writes MontyDB's storage settings when they are not
    there yet, so a read-only store can still be opened and read.
    """

    def connect(self, force_reset: bool = False) -> None:
        """Connect, writing MontyDB's storage configuration only on first use."""
        if self._coll is not None and not force_reset:
            return
        from montydb import MontyClient, set_storage

        configured = os.path.isfile(os.path.join(self.database_path, "monty.storage.cfg"))
        if not configured:
            set_storage(self.database_path, storage=self.storage, **self.storage_kwargs)
        client = MontyClient(self.database_path, **self.client_kwargs)
        self._coll = client[self.database_name][self.collection_name]

    def update(self, docs: Any, key: Any = None) -> None:
        """Insert or replace documents while holding the database's write lock."""
        with _monty_write_lock(self.database_path):
            super().update(docs, key)

    def remove_docs(self, criteria: dict[str, Any]) -> None:
        """Remove documents while holding the database's write lock."""
        with _monty_write_lock(self.database_path):
            super().remove_docs(criteria)


def _writable(directory: Any) -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
            return True
    except OSError:
        return False


def _backend_error(exc: Exception, what: str) -> StoreError | InputError:
    """Translate a pymongo/MontyDB error into a one-line thermogap error."""
    code = getattr(exc, "code", None)
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if code in AUTH_FAILED_CODES:
        return StoreAuthenticationError(
            f"authentication failed for {what}: check the user name "
            "and password (server error code 18)"
        )
    if code in UNAUTHORIZED_CODES:
        return StoreError(f"not authorized for {what}: {message}")
    if "unknown operator" in message or "unknown top level operator" in message:
        return InputError(
            f"{what}: {message}; allowed: MongoDB query operators such as $eq, $gt, $in, $regex"
        )
    if "readonly" in message.replace("-", "") or "Read-only" in message:
        return ReadOnlyStoreError(f"{what}: the store is read-only ({message})")
    return StoreError(f"{what} failed: {type(exc).__name__}: {message}")


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
        self._snapshot: Any = None
        #: Whether the store was found read-only (it is then read from a private snapshot).
        self.read_only = False

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
        if isinstance(docs, MemoryStore) and not isinstance(docs, MontyStore):
            # a plain jobflow ``JobStore(MemoryStore())``: thermogap's collections live beside
            # it in this process (kept on the job store, so every job of a run and the caller
            # see the same collections), and the job store itself is the outputs collection
            existing: ResultsDB | None = getattr(jobstore, "_thermogap_memory_db", None)
            if existing is None:
                existing = cls(
                    StoreConfig(backend="memory", outputs_collection=docs.collection_name)
                )
                existing._jobstore = jobstore
                jobstore._thermogap_memory_db = existing  # type: ignore[attr-defined]
            return existing
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
        if self.config.backend in ("monty", "memory"):
            return
        from pymongo.errors import OperationFailure, PyMongoError

        try:
            self._mongo_client().admin.command("ping")
        except OperationFailure as exc:
            raise _backend_error(exc, f"MongoDB at {self.name}") from None
        except PyMongoError:
            raise StoreConnectionError(
                f"cannot reach MongoDB at {self.name} within {self.config.timeout_s:g} s"
            ) from None

    def _make_store(self, collection: str) -> Store:
        if self.config.backend == "monty":
            assert self.config.path is not None
            return LockedMontyStore(
                collection_name=collection,
                database_path=str(self._monty_database_path()),
                database_name=self.config.database,
                storage="sqlite",
            )
        if self.config.backend == "memory":
            return MemoryStore(collection_name=collection)
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

    def _monty_database_path(self) -> Any:
        """Directory MontyDB reads: the store's own, or a private snapshot of a read-only one.

        MontyDB's sqlite files are opened in WAL mode, which needs to write beside them even
        to read; a store on a read-only file system is therefore read from a copy (documents
        only: blobs are read in place), and every write to it is refused.
        """
        assert self.config.path is not None
        directory = self.config.path / _MONTY_DB_DIR
        if self._snapshot is not None:
            return self._snapshot
        if not directory.is_dir() or _writable(directory):
            return directory
        import atexit
        import shutil
        from pathlib import Path

        snapshot = Path(tempfile.mkdtemp(prefix="thermogap-readonly-"))
        atexit.register(shutil.rmtree, snapshot, True)
        shutil.copytree(directory, snapshot / _MONTY_DB_DIR)
        self._snapshot = snapshot / _MONTY_DB_DIR
        self.read_only = True
        return self._snapshot

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
                if getattr(exc, "code", None) in AUTH_FAILED_CODES:
                    raise _backend_error(exc, f"MongoDB at {self.name}") from None
                raise StoreConnectionError(f"cannot open {self.name}/{name}: {exc}") from None
            self._stores[name] = store
        return self._stores[name]

    def jobstore(self) -> JobStore:
        """Return the (connected) jobflow ``JobStore`` on this database (collection ``outputs``)."""
        if self._jobstore is None:
            self._jobstore = JobStore(
                self._make_store(self.config.outputs_collection),
                additional_stores={DATA_STORE_NAME: self._make_data_store()},
            )
            self._jobstore.connect()
            # one output per (uuid, index) even when two runners write at once
            self.ensure_index(self.config.outputs_collection, ["uuid", "index"], unique=True)
        return self._jobstore

    def _make_data_store(self) -> Store:
        """Return the store of large job-output arrays (jobflow's ``data`` additional store).

        A collection beside the embedded database; GridFS on MongoDB.
        """
        name = f"{self.config.outputs_collection}_{DATA_STORE_NAME}"
        if self.config.backend == "mongodb":
            timeout_ms = int(self.config.timeout_s * 1000)
            return GridFSStore(
                database=self.config.database,
                collection_name=name,
                uri=self.config.mongo_uri(),
                mongoclient_kwargs={
                    "serverSelectionTimeoutMS": timeout_ms,
                    "connectTimeoutMS": timeout_ms,
                },
            )
        return self._make_store(name)

    @cached_property
    def blobs(self) -> BlobStore:
        """The blob store: files beside the embedded database, or GridFS on MongoDB."""
        if self.config.backend == "monty":
            assert self.config.path is not None
            return FileBlobStore(self.config.path / _BLOB_DIR)
        if self.config.backend == "memory":
            return MemoryBlobStore()
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

    # -- writes from several processes ----------------------------------------------------------
    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the store's cross-process write lock (embedded store; a no-op on MongoDB).

        MongoDB makes each write atomic per key by itself (unique indexes); an embedded
        MontyDB store needs this lock around find → delete → insert.
        """
        if self.config.backend != "monty":
            yield
            return
        assert self.config.path is not None
        directory = self.config.path / _MONTY_DB_DIR
        directory.mkdir(parents=True, exist_ok=True)
        with _monty_write_lock(directory):
            yield

    def check_writable(self) -> None:
        """Raise :class:`ReadOnlyStoreError` if nothing can be written to the store.

        Embedded stores are probed by creating and removing a file in the database and blob
        directories; on MongoDB permission errors surface on the first write instead.
        """
        if self.config.backend != "monty":
            return
        assert self.config.path is not None
        if self.read_only:
            raise ReadOnlyStoreError(
                f"store {self.name} is read-only; a run must write its results: give a "
                "writable --store (status and query still work)"
            )
        for directory in (self.config.path / _MONTY_DB_DIR, self.config.path / _BLOB_DIR):
            try:
                directory.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
                    pass
            except OSError as exc:
                raise ReadOnlyStoreError(
                    f"store {self.name} is read-only ({exc.strerror}: {directory}); a run must "
                    "write its results: give a writable --store (status and query still work)"
                ) from None

    @contextlib.contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        """Turn backend errors (pymongo, MontyDB, sqlite) into thermogap errors."""
        try:
            yield
        except (StoreError, InputError):
            raise
        except Exception as exc:
            from montydb.errors import MontyError
            from pymongo.errors import PyMongoError

            if isinstance(exc, MontyError | PyMongoError) or type(exc).__module__.startswith(
                ("sqlite3", "montydb", "pymongo", "bson")
            ):
                raise _backend_error(exc, what) from None
            if isinstance(exc, PermissionError) or getattr(exc, "errno", None) == 30:
                raise ReadOnlyStoreError(f"{what}: the store is read-only ({exc})") from None
            raise

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
        if self.read_only:
            self.check_writable()
        with self._translated(f"writing to {self.name}/{name}"), self.write_lock():
            self.ensure_index(name, keys, unique=True)
            self._write(name, keys, clean)
        return len(clean)

    def _write(self, name: str, keys: list[str], clean: list[dict[str, Any]]) -> None:
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
        with self._translated(f"query {criteria or {}} on {self.name}/{name}"):
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
        with self._translated(f"count {criteria or {}} on {self.name}/{name}"):
            return int(self._raw(name).count_documents(criteria or {}))

    def distinct(self, name: str, field: str, criteria: dict[str, Any] | None = None) -> list[Any]:
        """Return the distinct values of ``field`` among matching documents."""
        with self._translated(f"distinct {field} on {self.name}/{name}"):
            return list(self._raw(name).distinct(field, criteria or {}))

    def delete(self, name: str, criteria: dict[str, Any]) -> int:
        """Delete matching documents; return how many."""
        if not criteria:
            raise ConfigError("refusing to delete with empty criteria; pass an explicit filter")
        if self.read_only:
            self.check_writable()
        with self._translated(f"delete from {self.name}/{name}"), self.write_lock():
            return int(self._raw(name).delete_many(criteria).deleted_count)
