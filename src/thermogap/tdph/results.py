"""Queries of tdph results in the job store's ``outputs`` collection (by output fields)."""

from __future__ import annotations

from typing import Any

from thermogap.errors import InputError

__all__ = ["TDPH_MARKER_FIELDS", "tdph_criteria", "unique_results"]

#: Fields only a :class:`thermogap.schemas.tdph.TdphDoc` output has; they select tdph docs.
TDPH_MARKER_FIELDS = ("output.compound_id", "output.frequency_shift_norm")
_TOLERANCE = 1e-6


def tdph_criteria(
    *,
    min_r_onsite: float | None = None,
    max_r_onsite: float | None = None,
    temperature_k: float | None = None,
    formula: str | None = None,
    spacegroup_number: int | None = None,
    failed: bool = False,
) -> dict[str, Any]:
    """MongoDB filter on the job store's outputs selecting tdph documents.

    ``min_r_onsite`` / ``max_r_onsite`` bound the largest R_onsite of a compound's sites
    (dimensionless); ``failed`` selects the failed compounds instead of the finished ones.
    """
    for name, value in (("min_r_onsite", min_r_onsite), ("max_r_onsite", max_r_onsite)):
        if value is not None and value < 0:
            raise InputError(f"{name}={value} must be >= 0 (R_onsite is a relative change)")
    if temperature_k is not None and temperature_k < 0:
        raise InputError(f"{temperature_k=} K is negative; temperatures must be >= 0 K")
    criteria: dict[str, Any] = {f: {"$exists": True} for f in TDPH_MARKER_FIELDS}
    criteria["output.status"] = "failed" if failed else "ok"
    bounds: dict[str, float] = {}
    if min_r_onsite is not None:
        bounds["$gte"] = min_r_onsite
    if max_r_onsite is not None:
        bounds["$lte"] = max_r_onsite
    if bounds:
        criteria["output.r_onsite_max"] = bounds
    if temperature_k is not None:
        criteria["output.temperature_k"] = {
            "$gte": temperature_k - _TOLERANCE,
            "$lte": temperature_k + _TOLERANCE,
        }
    if formula is not None:
        criteria["output.formula"] = formula
    if spacegroup_number is not None:
        criteria["output.spacegroup_number"] = spacegroup_number
    return criteria


def unique_results(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One output per (compound, structure, T, calculator, settings): the newest.

    ``records`` are job-store documents with ``output`` and ``completed_at``; a rerun that
    reused finished jobs stores their outputs again under new job ids, and those copies
    must not be listed twice. The order of first appearance is kept.
    """
    import json

    newest: dict[str, dict[str, Any]] = {}
    for record in records:
        out = record["output"]
        key = json.dumps(
            [
                out.get("compound_id"),
                out.get("structure_id"),
                out.get("temperature_k"),
                out.get("calculator"),
                out.get("settings"),
            ],
            sort_keys=True,
            default=str,
        )
        seen = newest.get(key)
        if seen is None or str(record.get("completed_at") or "") > str(
            seen.get("completed_at") or ""
        ):
            newest[key] = record
    return list(newest.values())
