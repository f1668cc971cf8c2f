"""Shared fixtures: a fresh embedded results database and one on a real MongoDB-wire server."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

from fixtures.crystals import l12_cu3au
from fixtures.mongo_server import mongo_database, mongo_uri  # noqa: F401
from thermogap.store import ResultsDB, StoreConfig


@pytest.fixture
def db(tmp_path):
    """A fresh embedded (MontyDB + blob files) results database in a temporary directory."""
    database = ResultsDB.from_spec(tmp_path / "store")
    yield database
    database.close()


@pytest.fixture
def mongo_db(mongo_uri, mongo_database):  # noqa: F811
    """A fresh results database (MongoStore + GridFS blobs) on the loopback MongoDB server."""
    config = StoreConfig(
        backend="mongodb", uri=f"{mongo_uri}/{mongo_database}", database=mongo_database
    )
    database = ResultsDB.from_spec(config)
    yield database
    database.close()


@pytest.fixture(params=["monty", "mongodb"])
def any_db(request):
    """Each results-database backend in turn: embedded MontyDB, then MongoDB."""
    return request.getfixturevalue("db" if request.param == "monty" else "mongo_db")


@pytest.fixture
def cu3au_structure():
    return l12_cu3au()


@pytest.fixture(scope="session")
def cu3au_phonon():
    """EMT phonons of L1_2 Cu3Au in a 2x2x2 supercell (stable, two masses)."""
    from ase.calculators.emt import EMT

    from thermogap.phonons.harmonic import compute_force_constants

    return compute_force_constants(l12_cu3au(), EMT(), supercell_matrix=(2, 2, 2))


@pytest.fixture(scope="session")
def quick_store(tmp_path_factory):
    """A small store of every kind of result (see tests/fixtures/quick_store.py)."""
    from fixtures.quick_store import build_quick_store

    path = tmp_path_factory.mktemp("quick_store") / "store"
    ids = build_quick_store(path)
    return path, ids


_UNSAFE_LOAD = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"
_UNSAFE_AT_START = os.environ.get(_UNSAFE_LOAD)


@pytest.fixture(autouse=True)
def _torch_load_stays_safe():
    """Fail the test after which mace's import left torch.load unsafe for the whole process."""
    yield
    if os.environ.get(_UNSAFE_LOAD) != _UNSAFE_AT_START:
        leaked = os.environ.pop(_UNSAFE_LOAD, None)
        pytest.fail(f"{_UNSAFE_LOAD}={leaked!r} leaked: import mace inside contained_mace_import()")
