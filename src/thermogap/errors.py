"""Domain errors raised by thermogap.

Every error carries the offending value in its message and, where there is a
finite set of allowed values, lists them. The command-line interface turns any
:class:`ThermogapError` into a single line on stderr and a non-zero exit code.
"""

from __future__ import annotations


class ThermogapError(Exception):
    """Base class of every error thermogap raises on purpose."""


class InputError(ThermogapError, ValueError):
    """A user-supplied value is invalid (off-grid composition, negative temperature, ...)."""


class ConfigError(ThermogapError):
    """A configuration file or setting is malformed or refers to something unknown."""


class UnknownEntryError(ConfigError, KeyError):
    """A name was looked up in a registry (engine, model, preset, level) and not found."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class StoreError(ThermogapError):
    """The results database cannot be used as asked."""


class StoreConnectionError(StoreError):
    """The results database server cannot be reached."""


class BlobIntegrityError(StoreError):
    """A blob read back from the blob store does not match its recorded SHA-256."""


class StoreAuthenticationError(StoreConnectionError):
    """The database server refused the credentials (MongoDB error code 18)."""


class ReadOnlyStoreError(StoreError):
    """The results database can be read but not written."""


class MissingModelError(ThermogapError, FileNotFoundError):
    """A model file (foundation MLIP, trained model) is not where it was expected."""


class CalculationError(ThermogapError):
    """A calculation failed (unconverged SCF, NaN forces, custodian gave up, ...)."""


def first_validation_problem(exc: Exception) -> str:
    """Return ``"field.path: message"`` of the first error of a pydantic ``ValidationError``.

    Used to turn a validation failure of a settings model into one line of a domain error.
    """
    errors = exc.errors() if hasattr(exc, "errors") else []
    if not errors:
        return str(exc)
    first = errors[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
