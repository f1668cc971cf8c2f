"""Where the results database lives: parse a store specification into a :class:`StoreConfig`.

A specification is, in order of precedence, the ``--store`` argument, the
``THERMOGAP_STORE`` environment variable, or the embedded default
``./thermogap-data``. It may be

* a directory path: an embedded on-disk MontyDB (sqlite) database, blobs as files beside it;
* a ``mongodb://`` or ``mongodb+srv://`` URI: MongoDB, blobs in GridFS in the same database;
* a ``.yaml``/``.yml`` file with the fields of :class:`StoreConfig` (see ``configs/stores/``).

Credentials are never read from files: a YAML config names the environment variables that hold
them (``username_env``, ``password_env``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal
from urllib.parse import quote_plus, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thermogap.errors import ConfigError, first_validation_problem

STORE_ENV_VAR = "THERMOGAP_STORE"
DEFAULT_STORE_PATH = "thermogap-data"
_MONGO_SCHEMES = ("mongodb", "mongodb+srv")
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]*@")


def redact_credentials(text: str) -> str:
    """Replace ``user:password@`` in every URI inside ``text`` by ``***@``.

    Examples
    --------
    >>> redact_credentials("cannot reach mongodb://ann:s3cret@db.example:27017/tg")
    'cannot reach mongodb://***@db.example:27017/tg'
    """
    return _CREDENTIALS.sub(r"\g<scheme>***@", text)


class StoreConfig(BaseModel):
    """Connection settings of a results database.

    Examples
    --------
    >>> StoreConfig(backend="monty", path="thermogap-data").backend
    'monty'
    """

    model_config = ConfigDict(extra="forbid")

    backend: Literal["monty", "mongodb", "memory"] = Field(
        "monty",
        description=(
            "'monty': embedded on-disk MontyDB; 'mongodb': a MongoDB server; 'memory': the "
            "in-process stores of a jobflow ``JobStore(MemoryStore())`` (nothing persists)."
        ),
    )
    path: Path | None = Field(
        None, description="Directory of the embedded database and its blob files (monty only)."
    )
    uri: str | None = Field(None, description="MongoDB connection URI without credentials.")
    database: str = Field("thermogap", description="Database name.")
    username_env: str | None = Field(
        None, description="Environment variable holding the MongoDB user name."
    )
    password_env: str | None = Field(
        None, description="Environment variable holding the MongoDB password."
    )
    outputs_collection: str = Field("outputs", description="jobflow's job-output collection.")
    blob_bucket: str = Field("thermogap_blobs", description="GridFS bucket for large arrays.")
    timeout_s: float = Field(
        5.0, gt=0, description="Server selection timeout for MongoDB connections, in seconds."
    )

    def mongo_uri(self) -> str:
        """Return the MongoDB URI with credentials inserted from the environment."""
        if self.backend != "mongodb" or not self.uri:
            raise ConfigError(f"store backend {self.backend!r} has no MongoDB URI")
        if not self.username_env:
            return self.uri
        user = os.environ.get(self.username_env)
        password = os.environ.get(self.password_env or "", "")
        if user is None:
            raise ConfigError(
                f"environment variable {self.username_env!r} (MongoDB user) is not set"
            )
        parts = urlsplit(self.uri)
        netloc = f"{quote_plus(user)}:{quote_plus(password)}@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        return parts._replace(netloc=netloc).geturl()

    @property
    def display_name(self) -> str:
        """A human-readable location with no credentials in it."""
        if self.backend == "monty":
            return str(self.path)
        if self.backend == "memory":
            return "memory://"
        parts = urlsplit(self.uri or "")
        host = parts.hostname or "?"
        return (
            f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}/{self.database}"
        )


def _from_uri(uri: str) -> StoreConfig:
    shown = redact_credentials(uri)
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"malformed store URI {shown!r}: {exc}") from None
    if parts.scheme not in _MONGO_SCHEMES:
        raise ConfigError(
            f"unknown store scheme {parts.scheme + '://'!r} in {shown!r}; allowed: mongodb://, "
            "mongodb+srv://, a directory path, or a .yaml store config"
        )
    if not parts.hostname:
        raise ConfigError(f"store URI {shown!r} names no host")
    if parts.scheme == "mongodb+srv" and port is not None:
        raise ConfigError(f"store URI {shown!r}: a mongodb+srv:// URI cannot have a port")
    database = parts.path.lstrip("/") or "thermogap"
    return StoreConfig(backend="mongodb", uri=uri, database=database)


def _from_yaml(path: Path) -> StoreConfig:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"store config file {str(path)!r} does not exist") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"malformed YAML in store config {str(path)!r}{where}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"store config {str(path)!r} must be a mapping, got {type(raw).__name__}")
    if "uri" in raw and raw.get("backend") is None:
        raw["backend"] = "mongodb"
    try:
        config = StoreConfig(**raw)
    except ValidationError as exc:
        problem = first_validation_problem(exc)
        raise ConfigError(f"invalid store config {str(path)!r}: {problem}") from None
    if config.backend == "monty":
        base = config.path or Path(DEFAULT_STORE_PATH)
        config.path = base if base.is_absolute() else (path.parent / base).resolve()
    elif not config.uri:
        raise ConfigError(f"store config {str(path)!r}: backend 'mongodb' needs a 'uri'")
    return config


def resolve_store_config(spec: str | os.PathLike[str] | StoreConfig | None = None) -> StoreConfig:
    """Turn a store specification into a :class:`StoreConfig`.

    Parameters
    ----------
    spec
        A directory path, a ``mongodb://`` URI, a YAML file, a ready :class:`StoreConfig`, or
        ``None`` to use ``$THERMOGAP_STORE`` and then ``./thermogap-data``.

    Raises
    ------
    ConfigError
        For an unknown URI scheme, a missing or malformed YAML file or invalid fields.
    """
    if isinstance(spec, StoreConfig):
        return spec
    if spec is None:
        spec = os.environ.get(STORE_ENV_VAR) or DEFAULT_STORE_PATH
    text = os.fspath(spec)
    if "://" in text:
        return _from_uri(text)
    path = Path(text).expanduser()
    if path.suffix in {".yaml", ".yml"}:
        return _from_yaml(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"store {text!r} is a file; give a directory, a mongodb:// URI or a .yaml config"
        )
    return StoreConfig(backend="monty", path=path.resolve())
