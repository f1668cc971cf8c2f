"""Pieces shared by every output document: provenance and a common base model."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

_TRACKED_PACKAGES = (
    "thermogap",
    "jobflow",
    "pymatgen",
    "phonopy",
    "ase",
    "torch",
    "mace-torch",
    "torch-geometric",
    "chgnet",
    "tblite",
    "atomate2",
)


def package_versions(packages: tuple[str, ...] = _TRACKED_PACKAGES) -> dict[str, str]:
    """Return installed versions of ``packages`` (missing ones are left out)."""
    found = {}
    for name in packages:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


class Provenance(BaseModel):
    """Where a document came from."""

    model_config = ConfigDict(extra="allow")

    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC), description="Creation time (UTC)."
    )
    versions: dict[str, str] = Field(
        default_factory=package_versions, description="Versions of the packages that made it."
    )
    host: str = Field(default_factory=platform.node, description="Host name of the worker.")
    level: str | None = Field(None, description="Level of theory the data were computed at.")
    model_id: str | None = Field(None, description="Id of the ML model used, if any.")
    model_sha256: str | None = Field(None, description="SHA-256 of the ML model file, if any.")
    job_uuid: str | None = Field(None, description="uuid of the jobflow job that made it.")


def make_provenance(**extra: Any) -> Provenance:
    """Build a :class:`Provenance`, filling in the running job's uuid when inside a job."""
    from jobflow import CURRENT_JOB

    if CURRENT_JOB.job is not None and "job_uuid" not in extra:
        extra["job_uuid"] = CURRENT_JOB.job.uuid
    return Provenance(**extra)


class MakerSettings(BaseModel):
    """Settings held by a Maker field, serialised the way jobflow edits Makers.

    jobflow's ``update_maker_kwargs(..., dict_mod=True)`` edits ``maker.as_dict()``; giving
    the settings an ``as_dict``/``from_dict`` pair makes them plain nested dictionaries there,
    so ``{"_set": {"settings->total_time_ps": 0.5}}`` changes one field and keeps the others.
    """

    def as_dict(self) -> dict[str, Any]:
        """Return the fields (JSON types) with monty's ``@module``/``@class`` tags."""
        return {
            "@module": type(self).__module__,
            "@class": type(self).__name__,
            **self.model_dump(mode="json"),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """Rebuild (and validate) the settings from :meth:`as_dict` output."""
        return cls.model_validate({k: v for k, v in d.items() if not k.startswith("@")})


class MSONDictFields(BaseModel):
    """A model whose ``dict`` fields accept pymatgen objects, stored as their ``as_dict()``."""

    @model_validator(mode="before")
    @classmethod
    def _msonable_fields_to_dicts(cls, data: Any) -> Any:
        # jobflow decodes stored outputs with MontyDecoder, which turns a serialised pymatgen
        # object held in a ``dict`` field back into the object; give the field its dict again.
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            value = data.get(name)
            if (
                hasattr(value, "as_dict")
                and not isinstance(value, BaseModel)
                and "dict" in str(field.annotation)
            ):
                data = {**data, name: value.as_dict()}  # type: ignore[union-attr]
        return data


class ThermogapDocument(MSONDictFields):
    """Base of thermogap output documents: extra fields forbidden, provenance attached."""

    model_config = ConfigDict(extra="forbid")

    provenance: Provenance = Field(default_factory=make_provenance, description="Provenance.")
    artifacts: dict[str, str] | None = Field(
        None,
        description="Base64 bytes of every blob the document refers to, by blob id (SHA-256); "
        "kept in jobflow's data store, see thermogap.execution.artifacts.",
    )
