"""Blob bytes travel with job outputs through jobflow's data store, never the database."""

from __future__ import annotations

import base64
import hashlib

import pytest
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore

from thermogap.errors import StoreError
from thermogap.execution import tg_job
from thermogap.execution.artifacts import (
    JobBlobStore,
    current_blobs,
    document_with_artifacts,
    job_blob_scope,
)
from thermogap.schemas.base import ThermogapDocument
from thermogap.store import ResultsDB
from thermogap.store.builders import build_collections, register_derived_collection

PAYLOAD = b"force constants" * 1000


@tg_job
def make_blob(n: int) -> dict:
    ref = current_blobs().put_bytes(PAYLOAD * n, kind="test")
    return {"blob": ref.model_dump(), "n": n, "result_id": f"r{n}"}


@tg_job
def read_blob(upstream: dict) -> dict:
    data = current_blobs().get_bytes(upstream["blob"])
    return {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _memory_jobstore() -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})


def test_bytes_reach_the_downstream_job_through_the_data_store():
    first = make_blob(2)
    second = read_blob(first.output)
    store = _memory_jobstore()
    responses = run_locally(Flow([first, second]), store=store, ensure_success=True)
    out = responses[second.uuid][1].output
    assert out["length"] == len(PAYLOAD) * 2
    assert out["sha256"] == hashlib.sha256(PAYLOAD * 2).hexdigest()
    # the document in the outputs collection holds a data-store reference, not the bytes
    raw = store.query_one({"uuid": first.uuid}, load=False)["output"]
    assert "blob_uuid" in raw["artifacts"]
    assert store.additional_stores["data"].count() == 1


def test_a_job_without_the_upstream_document_cannot_read_the_blob():
    ref = JobBlobStore().put_bytes(b"abc")
    with job_blob_scope({"unrelated": 1}), pytest.raises(StoreError, match="among this job"):
        current_blobs().get_bytes(ref)


def test_tampered_artifact_is_refused():
    good = JobBlobStore()
    ref = good.put_bytes(b"abc")
    forged = {ref.blob_id: base64.b64encode(b"abd").decode()}
    with job_blob_scope({"artifacts": forged}), pytest.raises(Exception, match="corrupted"):
        current_blobs().get_bytes(ref)


class _BlobResultDoc(ThermogapDocument):
    result_id: str
    blob: dict


@tg_job
def make_blob_doc(n: int) -> _BlobResultDoc:
    ref = current_blobs().put_bytes(PAYLOAD * n, kind="test")
    return _BlobResultDoc(result_id=f"r{n}", blob=ref.model_dump())


def test_builder_copies_artifacts_into_the_results_database(tmp_path):
    register_derived_collection("artifact_test", "_BlobResultDoc", "result_id")
    digest = hashlib.sha256(PAYLOAD * 3).hexdigest()
    with ResultsDB.from_spec(str(tmp_path / "db")) as db:
        job = make_blob_doc(3)
        run_locally(Flow([job]), store=db.jobstore(), ensure_success=True)
        assert not db.blobs.exists(digest)  # the job itself never wrote to the database
        assert build_collections(db, ["artifact_test"]) == {"artifact_test": 1}
        built = db.query("artifact_test", {"result_id": "r3"})
        assert len(built) == 1 and "artifacts" not in built[0]
        assert db.blobs.get_bytes(built[0]["blob"]) == PAYLOAD * 3
        # a stored document becomes a static input that carries its bytes again
        carried = document_with_artifacts(db.blobs, built[0])
        assert set(carried["artifacts"]) == {digest} and "_id" not in carried
        with job_blob_scope(carried):
            assert current_blobs().get_bytes(built[0]["blob"]) == PAYLOAD * 3
