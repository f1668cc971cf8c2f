"""Execution: resumable jobs, local runs and jobflow-remote submission."""

from thermogap.execution.cache import cache_key, tg_job
from thermogap.execution.local import RunSummary, run_flow

__all__ = ["RunSummary", "cache_key", "run_flow", "tg_job"]
