"""Execution: jobs, reuse of finished jobs, local runs and jobflow-remote submission."""

from thermogap.execution.cache import tg_job
from thermogap.execution.local import RunSummary, run_flow
from thermogap.execution.reuse import ReuseReport, flow_keys, reuse_finished

__all__ = ["ReuseReport", "RunSummary", "flow_keys", "reuse_finished", "run_flow", "tg_job"]
