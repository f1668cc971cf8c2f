"""Issue 12, part 4: damaged blobs are found before reuse, repaired by a rewrite, reported."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from thermogap.cli.main import main
from thermogap.errors import BlobIntegrityError, ThermogapError
from thermogap.execution import run_flow
from thermogap.store.verify import verify_store

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from reliability_jobs import blob_flow


def _corrupt(db, blob_id: str) -> None:
    """Flip the stored bytes of ``blob_id`` in whichever backend ``db`` uses."""
    if db.config.backend == "monty":
        db.blobs._path(blob_id).write_bytes(b"flipped bits")
        return
    files = db._mongo_client()[db.config.database][f"{db.config.blob_bucket}.files"]
    chunks = db._mongo_client()[db.config.database][f"{db.config.blob_bucket}.chunks"]
    file_id = files.find_one({"filename": blob_id})["_id"]
    chunks.update_one({"files_id": file_id, "n": 0}, {"$set": {"data": b"flipped bits"}})


def test_rewriting_the_same_bytes_repairs_a_corrupted_blob(any_db):
    data = b"force constants" * 100
    ref = any_db.blobs.put_bytes(data)
    _corrupt(any_db, ref.blob_id)
    with pytest.raises(BlobIntegrityError):
        any_db.blobs.get_bytes(ref)
    assert any_db.blobs.put_bytes(data) == ref
    assert any_db.blobs.get_bytes(ref) == data
    assert any_db.blobs.check(ref.blob_id) is None


def test_missing_gridfs_chunk_is_a_thermogap_error(mongo_db):
    ref = mongo_db.blobs.put_bytes(b"x" * 1000)
    database = mongo_db._mongo_client()[mongo_db.config.database]
    database[f"{mongo_db.config.blob_bucket}.chunks"].delete_many({})
    with pytest.raises(ThermogapError, match=ref.blob_id):  # not gridfs' CorruptGridFile
        mongo_db.blobs.get_bytes(ref)
    assert "corrupted" in mongo_db.blobs.check(ref.blob_id)


def test_rerun_recomputes_jobs_whose_blobs_are_broken(db, tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("RELIABILITY_LOG", str(log))
    first = run_flow(blob_flow(3), db)
    refs = {o["name"]: o["blob"] for o in first.outputs["flow"]}
    assert verify_store(db).ok

    _corrupt(db, refs["step1"]["blob_id"])  # bit rot
    db.blobs._path(refs["step2"]["blob_id"]).unlink()  # lost file
    report = verify_store(db)
    assert len(report.problems) == 2 and report.n_blobs == 3
    assert any("step1" in p or refs["step1"]["blob_id"] in p for p in report.problems)

    second = run_flow(blob_flow(3), db)
    assert (second.n_ran, second.n_reused, second.n_failed) == (2, 1, 0)
    assert Counter(log.read_text().split()) == Counter({"step0": 1, "step1": 2, "step2": 2})
    assert verify_store(db).ok  # the rerun wrote the blobs again
    assert db.blobs.get_bytes(refs["step1"]) == b"payload of step1"


def test_db_verify_command_reports_and_exits_nonzero(db, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RELIABILITY_LOG", str(tmp_path / "calls.log"))
    first = run_flow(blob_flow(2), db)
    assert main(["db", "verify", "--store", str(db.config.path)]) == 0
    assert "0 problems" in capsys.readouterr().out
    _corrupt(db, first.outputs["flow"][0]["blob"]["blob_id"])
    assert main(["db", "verify", "--store", str(db.config.path), "--json"]) == 1
    out = capsys.readouterr().out
    assert '"ok": false' in out and "corrupted" in out
