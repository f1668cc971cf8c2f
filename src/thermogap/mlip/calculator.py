"""ASE calculators from trained MLIP files; loading a stored model never runs code from it.

A MACE model written by ``mace_run_train`` is a whole pickled ``torch.nn.Module``: unpickling
it executes whatever the file says. thermogap therefore stores trained models in a *safe
archive*: a ``torch.save`` of plain data only (the state dict, the hyperparameters of
:func:`mace.tools.scripts_utils.extract_config_mace_model` with classes and functions
replaced by names from a fixed allow-list, and the model class name), which
``torch.load(..., weights_only=True)`` reads without executing anything. The model is then
rebuilt as ``mace.modules.ScaleShiftMACE(**config)`` and its weights are loaded strictly.

Models are loaded from the very bytes whose SHA-256 was checked (an ``io.BytesIO``, never a
reopened path, so a file swapped after the check is not read), and a pickled module is
refused unless the caller passes ``trust_model=True`` for a file of its own (a foundation
model it downloaded, a model it just trained in a child process).

``import mace`` sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` in ``os.environ`` for the whole
process, which silently turns every later ``torch.load`` without an explicit ``weights_only``
into an unsafe full unpickle. Every thermogap import of mace goes through
:func:`contained_mace_import`, which restores the environment variable, and every
``torch.load`` here passes ``weights_only`` explicitly.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thermogap.errors import BlobIntegrityError, InputError, MissingModelError, UnknownEntryError
from thermogap.registry import Registry
from thermogap.store import collections as names

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

__all__ = [
    "MLIP_LOADERS",
    "TORCH_UNSAFE_LOAD_VARIABLES",
    "calculator_from_model",
    "calculator_from_model_id",
    "contained_mace_import",
    "file_sha256",
    "load_mace_calculator",
    "load_mace_model",
    "load_mace_model_bytes",
    "mace_calculator_from_bytes",
    "mace_model_to_safe_bytes",
    "materialise_model_file",
    "model_bytes_from_id",
]

#: Environment variables through which mace-torch changes torch's ``torch.load`` default.
TORCH_UNSAFE_LOAD_VARIABLES = ("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD",)

#: Allowed torch dtypes of a loaded model.
MODEL_DTYPES = ("float32", "float64")

#: Calculator loaders ``(path, device=, dtype=) -> Calculator`` by model ``kind`` (lazy imports).
MLIP_LOADERS = Registry("MLIP model kind")
MLIP_LOADERS.register("mace", "thermogap.mlip.calculator:load_mace_calculator")


@contextlib.contextmanager
def contained_mace_import() -> Iterator[None]:
    """Restore the environment variables mace-torch sets when imported.

    Import mace (or anything that imports it) inside this context; on exit every variable
    in :data:`TORCH_UNSAFE_LOAD_VARIABLES` has its value from before the ``with`` block
    again (or is absent again), so ``torch.load`` elsewhere keeps its safe
    ``weights_only=True`` default.

    Examples
    --------
    >>> import contextlib, io
    >>> with contained_mace_import(), contextlib.redirect_stdout(io.StringIO()):
    ...     from mace.calculators import MACECalculator
    >>> import os
    >>> "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" in os.environ
    False
    """
    saved = {name: os.environ.get(name) for name in TORCH_UNSAFE_LOAD_VARIABLES}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


#: ``format`` tag of thermogap's safe MACE archive.
SAFE_MACE_FORMAT = "thermogap-mace-state-dict"
SAFE_MACE_VERSION = 1

#: Model classes a safe archive may name (all in ``mace.modules``).
SAFE_MACE_MODEL_CLASSES = ("ScaleShiftMACE", "MACE")

#: Gate functions a safe archive may name, by name (``None``: no gate).
_GATES = ("silu", "tanh", "relu", "sigmoid", "abs")

#: Config entries holding a class of ``mace.modules.blocks``.
_CLASS_FIELDS = ("interaction_cls", "interaction_cls_first", "readout_cls")

#: Config entries holding e3nn irreps.
_IRREPS_FIELDS = ("hidden_irreps", "MLP_irreps", "edge_irreps")


class UntrustedModelError(InputError):
    """A model file is not a safe archive and the caller did not vouch for it."""


def file_sha256(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """Return the SHA-256 hex digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_verified(path: Path, expected_sha256: str | None) -> bytes:
    """Read ``path`` once and check the bytes read (the caller loads these, not the file)."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise MissingModelError(f"MLIP model file {str(path)!r} does not exist") from None
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise BlobIntegrityError(
            f"model file {str(path)!r} has sha256 {digest}, expected {expected_sha256}; "
            "refusing to load it"
        )
    return data


# -- safe archive --------------------------------------------------------------------------------
def _encode_config(config: dict[str, Any]) -> dict[str, Any]:
    """Turn mace's model config into plain data (names instead of classes and functions)."""
    import numpy as np
    import torch

    plain: dict[str, Any] = {}
    for key, value in config.items():
        if key in _CLASS_FIELDS or key == "gate":
            plain[key] = None if value is None else value.__name__
        elif key in _IRREPS_FIELDS:
            plain[key] = None if value is None else str(value)
        elif key == "cueq_config":
            if value is not None:
                raise InputError("MACE models with a cuEquivariance config cannot be archived")
            plain[key] = None
        elif isinstance(value, torch.Tensor | np.ndarray):
            plain[key] = np.asarray(value.cpu() if isinstance(value, torch.Tensor) else value)
            plain[key] = plain[key].tolist()
        elif isinstance(value, np.generic):
            plain[key] = value.item()
        else:
            plain[key] = value
    return plain


def _decode_config(plain: dict[str, Any]) -> dict[str, Any]:
    """Rebuild mace's model config from plain data, resolving names on the allow-lists only."""
    import numpy as np
    import torch
    from e3nn import o3

    with contained_mace_import():
        from mace.modules import blocks

    config = dict(plain)
    for key in _CLASS_FIELDS:
        name = config.get(key)
        if name is None:
            continue
        cls = getattr(blocks, str(name), None)
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise UntrustedModelError(f"model archive names an unknown MACE block {key}={name!r}")
        config[key] = cls
    gate = config.get("gate")
    if gate is not None:
        if gate not in _GATES:
            raise UntrustedModelError(f"model archive names gate {gate!r}; allowed: {_GATES}")
        config["gate"] = getattr(torch.nn.functional, gate)
    for key in _IRREPS_FIELDS:
        if config.get(key) is not None:
            config[key] = o3.Irreps(config[key])
    config["atomic_energies"] = np.asarray(config["atomic_energies"], dtype=float)
    for key in ("atomic_inter_scale", "atomic_inter_shift"):
        if isinstance(config.get(key), list):
            config[key] = np.asarray(config[key], dtype=float)
    return config


def mace_model_to_safe_bytes(model: Any) -> bytes:
    """Serialise a MACE module as a safe archive (state dict + hyperparameters, no pickled code).

    Parameters
    ----------
    model
        A ``mace.modules.ScaleShiftMACE`` (or ``MACE``) module.

    Returns
    -------
    bytes
        Output of ``torch.save`` that ``torch.load(weights_only=True)`` reads back.
    """
    import io

    import torch

    name = type(model).__name__
    if name not in SAFE_MACE_MODEL_CLASSES:
        raise InputError(f"cannot archive a {name}; allowed: {', '.join(SAFE_MACE_MODEL_CLASSES)}")
    with contained_mace_import():
        from mace.tools.scripts_utils import extract_config_mace_model

        config = extract_config_mace_model(model)
    if "error" in config:
        raise InputError(f"cannot archive this MACE model: {config['error']}")
    archive = {
        "format": SAFE_MACE_FORMAT,
        "version": SAFE_MACE_VERSION,
        "model_class": name,
        "config": _encode_config(config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(archive, buffer)
    return buffer.getvalue()


def _model_from_archive(archive: dict[str, Any], device: str) -> Any:
    import torch

    if archive.get("format") != SAFE_MACE_FORMAT or archive.get("version") != SAFE_MACE_VERSION:
        raise UntrustedModelError(
            f"not a thermogap MACE archive (format {archive.get('format')!r}, "
            f"version {archive.get('version')!r}); expected {SAFE_MACE_FORMAT!r} v1"
        )
    class_name = archive.get("model_class")
    if class_name not in SAFE_MACE_MODEL_CLASSES:
        raise UntrustedModelError(
            f"model archive names class {class_name!r}; allowed: {SAFE_MACE_MODEL_CLASSES}"
        )
    with contained_mace_import():
        from mace import modules

        model = getattr(modules, class_name)(**_decode_config(archive["config"]))
    state = archive["state_dict"]
    floating = [t.dtype for t in state.values() if torch.is_floating_point(t)]
    if floating:  # build in the precision the weights were saved in, so nothing is rounded
        model = model.to(floating[0])
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def load_mace_model_bytes(data: bytes, device: str = "cpu", trust_model: bool = False) -> Any:
    """Build a MACE module from (already verified) bytes without unpickling code.

    Parameters
    ----------
    data
        A safe archive (:func:`mace_model_to_safe_bytes`), or, only with ``trust_model``,
        a pickled module as written by ``mace_run_train``.
    device
        Torch device to map the tensors to.
    trust_model
        Allow a pickled module (which runs code while it loads). Only for a file the caller
        provides itself, never for bytes read from a shared results database.

    Returns
    -------
    torch.nn.Module
        The MACE model.

    Raises
    ------
    UntrustedModelError
        If ``data`` is not a safe archive and ``trust_model`` is false (nothing was executed).
    """
    import io
    import pickle

    import torch

    try:
        archive = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        if not trust_model:
            raise UntrustedModelError(
                "model is not a weights-only MACE archive (it would run code when unpickled); "
                "refusing to load it. Pass trust_model=True only for a file you provide yourself"
            ) from None
        with contained_mace_import():
            import mace.modules  # noqa: F401  (the classes the pickle refers to)

            return torch.load(io.BytesIO(data), map_location=device, weights_only=False)
    except Exception as exc:  # truncated or not a torch file at all
        raise UntrustedModelError(f"model bytes are not a torch archive: {exc}") from None
    if not isinstance(archive, dict):
        raise UntrustedModelError(f"model archive holds a {type(archive).__name__}, not a dict")
    return _model_from_archive(archive, device)


def convert_mace_model_file(
    source: str | os.PathLike[str], dest: str | os.PathLike[str], trust_model: bool = False
) -> str:
    """Write a safe archive of the MACE model file ``source`` to ``dest``; return its SHA-256.

    ``source`` may be a pickled module only with ``trust_model=True`` (see
    :func:`load_mace_model_bytes`).
    """
    model = load_mace_model_bytes(Path(source).read_bytes(), trust_model=trust_model)
    data = mace_model_to_safe_bytes(model)
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return hashlib.sha256(data).hexdigest()


def is_safe_mace_archive(data: bytes) -> bool:
    """Whether ``data`` is a safe MACE archive (checked with a weights-only load)."""
    try:
        load_mace_model_bytes(data)
    except (UntrustedModelError, InputError):
        return False
    return True


def load_mace_model(
    path: str | os.PathLike[str],
    expected_sha256: str | None = None,
    device: str = "cpu",
    trust_model: bool = False,
) -> Any:
    """Load a MACE module from a file, from the bytes whose SHA-256 was checked.

    Parameters
    ----------
    path
        A safe archive (as stored in the results database) or, with ``trust_model``, a
        pickled MACE module (``*.model`` as written by ``mace_run_train``).
    expected_sha256
        SHA-256 hex digest the file must have; ``None`` skips the check.
    device
        Torch device to map the tensors to.
    trust_model
        Allow a pickled module; only for files the caller provides itself.

    Returns
    -------
    torch.nn.Module
        The MACE model.

    Raises
    ------
    MissingModelError
        If the file does not exist.
    BlobIntegrityError
        If the file's SHA-256 differs from ``expected_sha256`` (nothing is loaded).
    UntrustedModelError
        If the file is a pickle and ``trust_model`` is false (nothing is executed).
    """
    data = _read_verified(Path(path), expected_sha256)
    return load_mace_model_bytes(data, device=device, trust_model=trust_model)


def _mace_calculator(model: Any, device: str, dtype: str) -> Calculator:
    if dtype not in MODEL_DTYPES:
        raise InputError(f"{dtype=} is not a model dtype; allowed: {', '.join(MODEL_DTYPES)}")
    with contained_mace_import():
        from mace.calculators import MACECalculator

        return MACECalculator(models=model, device=device, default_dtype=dtype)


def load_mace_calculator(
    path: str | os.PathLike[str],
    expected_sha256: str | None = None,
    device: str = "cpu",
    dtype: str = "float64",
    trust_model: bool = False,
) -> Calculator:
    """Build an ASE ``MACECalculator`` from a model file whose SHA-256 is checked first.

    Parameters
    ----------
    path
        MACE model file (see :func:`load_mace_model`).
    expected_sha256
        SHA-256 hex digest the file must have.
    device
        Torch device, ``"cpu"`` or ``"cuda"``.
    dtype
        Floating-point precision of the evaluation, one of :data:`MODEL_DTYPES`.
    trust_model
        Allow a pickled module (a file the caller provides itself).

    Returns
    -------
    mace.calculators.MACECalculator
        Energy (eV), forces (eV/Å, shape=(n_atoms, 3)), stress (eV/Å^3, ASE sign).
    """
    if dtype not in MODEL_DTYPES:
        raise InputError(f"{dtype=} is not a model dtype; allowed: {', '.join(MODEL_DTYPES)}")
    model = load_mace_model(path, expected_sha256, device=device, trust_model=trust_model)
    return _mace_calculator(model, device, dtype)


def mace_calculator_from_bytes(
    data: bytes, device: str = "cpu", dtype: str = "float64"
) -> Calculator:
    """Build an ASE ``MACECalculator`` from verified bytes of a safe archive (never a pickle)."""
    return _mace_calculator(load_mace_model_bytes(data, device=device), device, dtype)


#: Calculator loaders ``(bytes, device=, dtype=) -> Calculator`` by model ``kind``.
MLIP_BYTES_LOADERS = Registry("MLIP model kind")
MLIP_BYTES_LOADERS.register("mace", "thermogap.mlip.calculator:mace_calculator_from_bytes")


# -- model cache ---------------------------------------------------------------------------------
def _model_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    """Return a private (0700, ours) cache directory, creating it if needed.

    Raises
    ------
    StoreError
        If the directory belongs to another user or others may write or read it.
    """
    from thermogap.errors import StoreError

    if cache_dir is not None:
        directory = Path(cache_dir)
    else:
        uid = os.getuid() if hasattr(os, "getuid") else 0
        directory = Path(tempfile.gettempdir()) / f"thermogap-models-{uid}"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(directory)
    import stat

    if not stat.S_ISDIR(info.st_mode):
        raise StoreError(f"model cache {str(directory)!r} is not a directory (a symlink?)")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise StoreError(
            f"model cache {str(directory)!r} belongs to uid {info.st_uid}, not to you "
            f"(uid {os.getuid()}); pass another cache_dir"
        )
    if info.st_mode & 0o077:
        os.chmod(directory, 0o700)  # ours: make it private rather than refuse
    return directory


def _model_document(db: Any, model_id: str) -> dict[str, Any]:
    doc: dict[str, Any] | None = db.query_one(names.MODELS, {"model_id": model_id})
    if doc is None:
        known = [d["model_id"] for d in db.query(names.MODELS, properties=["model_id"], limit=20)]
        raise UnknownEntryError(
            f"no model with {model_id=} in 'models'; known ids: {', '.join(known) or '(none)'}"
        )
    if doc["model_blob"]["sha256"] != doc["sha256"]:
        raise BlobIntegrityError(
            f"model {model_id!r}: blob sha256 {doc['model_blob']['sha256']} != "
            f"document {doc['sha256']}"
        )
    return doc


def model_bytes_from_id(
    db: Any, model_id: str, cache_dir: str | os.PathLike[str] | None = None
) -> tuple[bytes, dict[str, Any]]:
    """Return the verified bytes of model ``model_id`` and its document.

    The bytes come from the private cache when its copy hashes right, else from the blob
    store (which checks the SHA-256) and are then cached. Either way the hash is computed on
    the bytes returned, so what is loaded is what was checked.
    """
    doc = _model_document(db, model_id)
    sha256 = doc["sha256"]
    path = _model_cache_dir(cache_dir) / f"{sha256}.model"
    try:
        cached = path.read_bytes()
    except OSError:
        cached = b""
    if cached and hashlib.sha256(cached).hexdigest() == sha256:
        return cached, doc
    data: bytes = db.blobs.get_bytes(doc["model_blob"])  # verifies the blob's SHA-256
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
    return data, doc


def materialise_model_file(
    db: Any, model_id: str, cache_dir: str | os.PathLike[str] | None = None
) -> tuple[Path, dict[str, Any]]:
    """Write the file of model ``model_id`` from the blob store to the private cache.

    Parameters
    ----------
    db
        :class:`thermogap.store.ResultsDB` holding the ``models`` collection.
    model_id
        ``model_id`` of a document in ``models``.
    cache_dir
        Directory for model files, named by their SHA-256; default: a private
        ``thermogap-models-<uid>`` folder (mode 0700) in the system temporary directory.

    Returns
    -------
    (pathlib.Path, dict)
        The local file and the model document. Load it with :func:`load_mace_calculator`
        and the document's ``sha256`` (the file is hashed again when read).

    Raises
    ------
    UnknownEntryError
        If no model has this id.
    BlobIntegrityError
        If the stored bytes do not match the SHA-256 recorded in the document.
    """
    _, doc = model_bytes_from_id(db, model_id, cache_dir)
    return _model_cache_dir(cache_dir) / f"{doc['sha256']}.model", doc


def calculator_from_model_id(
    db: Any,
    model_id: str,
    device: str = "cpu",
    dtype: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Calculator:
    """Return an ASE calculator for a trained model stored in the results database.

    The model's bytes are read from the private cache or the blob store, checked against the
    SHA-256 of the ``models`` document, and loaded from those same bytes as a weights-only
    archive: a stored pickle is refused, never executed.

    Parameters
    ----------
    db
        :class:`thermogap.store.ResultsDB`.
    model_id
        ``model_id`` of the model document.
    device
        Torch device.
    dtype
        Evaluation precision; default: the dtype the model was trained in.
    cache_dir
        Where model files are cached (see :func:`materialise_model_file`).

    Returns
    -------
    ase.calculators.calculator.Calculator
        Energy (eV), forces (eV/Å), stress (eV/Å^3, ASE sign).

    Raises
    ------
    UnknownEntryError
        If the model id or its ``kind`` is unknown.
    BlobIntegrityError
        If the file does not match its recorded SHA-256.
    """
    data, doc = model_bytes_from_id(db, model_id, cache_dir)
    loader = MLIP_BYTES_LOADERS.get(doc.get("kind", "mace"))
    if dtype is None:
        dtype = doc.get("settings", {}).get("default_dtype", "float64")
    return loader(data, device=device, dtype=dtype)


def calculator_from_model(
    model: Any, device: str = "cpu", dtype: str | None = None, blobs: Any = None
) -> Calculator:
    """Return an ASE calculator for a model document passed by reference (no database).

    Parameters
    ----------
    model
        The output document of the job that trained the model (:class:`MlipModelDoc` or its
        dict), carrying the model file as ``artifacts`` (see
        :mod:`thermogap.execution.artifacts`).
    device
        Torch device.
    dtype
        Evaluation precision; default: the dtype the model was trained in.
    blobs
        Blob store to read from; default: the running job's (its resolved inputs), or
        outside a job the ``artifacts`` the document carries.

    Raises
    ------
    BlobIntegrityError
        If the bytes do not match the SHA-256 recorded in the document.
    InputError
        If ``model`` is not a model document (a bare id, say).
    """
    from thermogap.execution.artifacts import JobBlobStore, current_blobs, find_artifacts

    doc = _as_document(model)
    if doc.get("model_blob", {}).get("sha256") != doc.get("sha256"):
        raise BlobIntegrityError(
            f"model {doc.get('model_id')!r}: blob sha256 {doc.get('model_blob', {}).get('sha256')}"
            f" != document {doc.get('sha256')}"
        )
    if blobs is None:
        # the running job's inputs; outside a job, the bytes the document itself carries
        blobs = current_blobs()
        carried = find_artifacts(doc)
        if not blobs.exists(doc["model_blob"]["blob_id"]) and carried:
            blobs = JobBlobStore(carried)
    data = blobs.get_bytes(doc["model_blob"])
    loader = MLIP_BYTES_LOADERS.get(doc.get("kind", "mace"))
    if dtype is None:
        dtype = (doc.get("settings") or {}).get("default_dtype", "float64")
    return loader(data, device=device, dtype=dtype)


def _as_document(model: Any) -> dict[str, Any]:
    if hasattr(model, "model_dump"):
        model = model.model_dump(mode="json")
    if not isinstance(model, dict) or "model_id" not in model:
        raise InputError(
            f"expected a model document (the training job's output), got {str(model)[:80]!r}; "
            "pass job.output, or a stored model through thermogap.execution.artifacts."
            "document_with_artifacts"
        )
    return model
