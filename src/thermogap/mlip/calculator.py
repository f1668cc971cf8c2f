"""ASE calculators from trained MLIP files, with the file checked before it is unpickled.

MACE model files are whole pickled ``torch.nn.Module`` objects, so loading one runs code from
the file: a model is only unpickled after its bytes were hashed and matched against the
SHA-256 recorded when it was stored.

``import mace`` sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` in ``os.environ`` for the whole
process, which silently turns every later ``torch.load`` in the process into an unsafe full
unpickle. Every thermogap import of mace goes through :func:`contained_mace_import`, which
restores the environment variable to what it was before, and the model file itself is
loaded with an explicit ``weights_only=False`` after its hash was checked, so no other
``torch.load`` depends on the variable.
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

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

__all__ = [
    "MLIP_LOADERS",
    "TORCH_UNSAFE_LOAD_VARIABLES",
    "calculator_from_model_id",
    "contained_mace_import",
    "file_sha256",
    "load_mace_calculator",
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


def file_sha256(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """Return the SHA-256 hex digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_file(path: Path, expected_sha256: str | None) -> str:
    if not path.is_file():
        raise MissingModelError(f"MLIP model file {str(path)!r} does not exist")
    digest = file_sha256(path)
    if expected_sha256 is not None and digest != expected_sha256:
        raise BlobIntegrityError(
            f"model file {str(path)!r} has sha256 {digest}, expected {expected_sha256}; "
            "refusing to unpickle it"
        )
    return digest


def load_mace_model(
    path: str | os.PathLike[str], expected_sha256: str | None = None, device: str = "cpu"
) -> Any:
    """Unpickle a MACE ``torch.nn.Module`` after checking the file's SHA-256.

    Parameters
    ----------
    path
        MACE model file (``*.model``, a pickled module as written by ``mace_run_train``).
    expected_sha256
        SHA-256 hex digest the file must have; ``None`` only for files the caller trusts
        (e.g. a foundation model it just hashed itself).
    device
        Torch device to map the tensors to.

    Returns
    -------
    torch.nn.Module
        The MACE model.

    Raises
    ------
    MissingModelError
        If the file does not exist.
    BlobIntegrityError
        If the file's SHA-256 differs from ``expected_sha256`` (nothing is unpickled).
    """
    path = Path(path)
    _check_file(path, expected_sha256)
    import torch

    with contained_mace_import():
        import mace.modules  # noqa: F401  (the classes the pickle refers to)

        # weights_only=False on purpose: the file is a whole module and its hash was checked.
        return torch.load(path, map_location=device, weights_only=False)


def load_mace_calculator(
    path: str | os.PathLike[str],
    expected_sha256: str | None = None,
    device: str = "cpu",
    dtype: str = "float64",
) -> Calculator:
    """Build an ASE ``MACECalculator`` from a model file whose SHA-256 is checked first.

    Parameters
    ----------
    path
        MACE model file.
    expected_sha256
        SHA-256 hex digest the file must have (see :func:`load_mace_model`).
    device
        Torch device, ``"cpu"`` or ``"cuda"``.
    dtype
        Floating-point precision of the evaluation, one of :data:`MODEL_DTYPES`.

    Returns
    -------
    mace.calculators.MACECalculator
        Energy (eV), forces (eV/Å, shape=(n_atoms, 3)), stress (eV/Å^3, ASE sign).
    """
    if dtype not in MODEL_DTYPES:
        raise InputError(f"{dtype=} is not a model dtype; allowed: {', '.join(MODEL_DTYPES)}")
    model = load_mace_model(path, expected_sha256=expected_sha256, device=device)
    with contained_mace_import():
        from mace.calculators import MACECalculator

        return MACECalculator(models=model, device=device, default_dtype=dtype)


def _model_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(tempfile.gettempdir()) / "thermogap-models"


def materialise_model_file(
    db: Any, model_id: str, cache_dir: str | os.PathLike[str] | None = None
) -> tuple[Path, dict[str, Any]]:
    """Write the file of model ``model_id`` from the blob store to a local cache.

    Parameters
    ----------
    db
        :class:`thermogap.store.ResultsDB` holding the ``models`` collection.
    model_id
        ``model_id`` of a document in ``models``.
    cache_dir
        Directory for model files, named by their SHA-256; default: a ``thermogap-models``
        folder in the system temporary directory.

    Returns
    -------
    (pathlib.Path, dict)
        The local file and the model document.

    Raises
    ------
    UnknownEntryError
        If no model has this id.
    BlobIntegrityError
        If the stored bytes do not match the SHA-256 recorded in the document.
    """
    doc = db.query_one("models", {"model_id": model_id})
    if doc is None:
        known = [d["model_id"] for d in db.query("models", properties=["model_id"], limit=20)]
        raise UnknownEntryError(
            f"no model with {model_id=} in 'models'; known ids: {', '.join(known) or '(none)'}"
        )
    sha256 = doc["sha256"]
    if doc["model_blob"]["sha256"] != sha256:
        raise BlobIntegrityError(
            f"model {model_id!r}: blob sha256 {doc['model_blob']['sha256']} != document {sha256}"
        )
    directory = _model_cache_dir(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{sha256}.model"
    if not path.is_file() or file_sha256(path) != sha256:
        data = db.blobs.get_bytes(doc["model_blob"])  # verifies the blob's SHA-256
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path, doc


def calculator_from_model_id(
    db: Any,
    model_id: str,
    device: str = "cpu",
    dtype: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Calculator:
    """Return an ASE calculator for a trained model stored in the results database.

    The model file is copied from the blob store and its SHA-256 is checked against the
    ``models`` document before it is loaded.

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
    path, doc = materialise_model_file(db, model_id, cache_dir)
    loader = MLIP_LOADERS.get(doc.get("kind", "mace"))
    if dtype is None:
        dtype = doc.get("settings", {}).get("default_dtype", "float64")
    return loader(path, expected_sha256=doc["sha256"], device=device, dtype=dtype)
