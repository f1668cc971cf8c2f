import pytest

from thermogap.errors import StoreError
from thermogap.store import ResultsDB


def _docs(n, value=0.0):
    return [{"config_id": f"c{i:04d}", "x": i / n, "energy_ev": value + i} for i in range(n)]


def test_upsert_is_idempotent_and_replaces(any_db):
    assert any_db.upsert("labels", _docs(50), key="config_id") == 50
    assert any_db.upsert("labels", _docs(50, value=100.0), key="config_id") == 50
    assert any_db.count("labels") == 50
    doc = any_db.query_one("labels", {"config_id": "c0007"})
    assert doc["energy_ev"] == pytest.approx(107.0)
    assert "_id" not in doc


def test_compound_keys(any_db):
    docs = [{"config_id": "a", "level": lvl, "gap": g} for lvl, g in [("A", 1.0), ("B", 2.0)]]
    any_db.upsert("labels", docs, key=["config_id", "level"])
    any_db.upsert(
        "labels", [{"config_id": "a", "level": "B", "gap": 3.0}], key=["config_id", "level"]
    )
    gaps = {d["level"]: d["gap"] for d in any_db.query("labels", {"config_id": "a"})}
    assert gaps == {"A": 1.0, "B": 3.0}


def test_query_sort_limit_projection(any_db):
    any_db.upsert("band_gaps", _docs(10), key="config_id")
    top = any_db.query("band_gaps", sort={"energy_ev": -1}, limit=3, properties=["energy_ev"])
    assert [d["energy_ev"] for d in top] == [9.0, 8.0, 7.0]
    assert set(top[0]) == {"energy_ev"}


def test_missing_key_field_is_an_error_and_writes_nothing(any_db):
    with pytest.raises(StoreError, match="config_id"):
        any_db.upsert("labels", [{"config_id": "ok"}, {"other": 1}], key="config_id")
    assert any_db.count("labels") == 0


def test_reopening_sees_the_same_data(any_db):
    any_db.upsert("structures", _docs(3), key="config_id")
    again = ResultsDB(any_db.config)
    assert again.count("structures") == 3
    again.close()


def test_from_jobstore_points_at_the_same_database(any_db):
    any_db.upsert("phonons", [{"phonon_id": "p1"}], key="phonon_id")
    derived = ResultsDB.from_jobstore(any_db.jobstore())
    assert derived.query_one("phonons", {"phonon_id": "p1"}) is not None
    ref = any_db.blobs.put_bytes(b"shared")
    assert derived.blobs.get_bytes(ref) == b"shared"


def test_oversized_document_is_refused_before_writing(any_db):
    from thermogap.store.database import MAX_DOCUMENT_BYTES

    big = {"config_id": "big", "positions": [0.5] * (MAX_DOCUMENT_BYTES // 8)}
    with pytest.raises(StoreError, match=r"db\.blobs") as info:
        any_db.upsert("trajectories", [{"config_id": "small"}, big], key="config_id")
    assert "'big'" in str(info.value)
    assert any_db.count("trajectories") == 0
