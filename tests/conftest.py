"""Shared fixtures: a fresh embedded results database and one on a real MongoDB-wire server."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

from thermogap.store import ResultsDB  # noqa: E402


@pytest.fixture
def db(tmp_path):
    """A fresh embedded (MontyDB + blob files) results database in a temporary directory."""
    database = ResultsDB.from_spec(tmp_path / "store")
    yield database
    database.close()
