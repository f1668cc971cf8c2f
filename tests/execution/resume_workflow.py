"""Workflow script for `thermogap run` in the kill-and-resume test."""

from resume_jobs import make_flow as _make_flow


def make_flow(**settings):
    return _make_flow(**settings)
