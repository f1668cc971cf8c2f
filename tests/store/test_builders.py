"""Derived collections are maggma-built views of the job outputs."""

import json

import pytest
from jobflow import Flow, job, run_locally
from pydantic import BaseModel

from thermogap.cli.main import main
from thermogap.errors import InputError
from thermogap.store.builders import (
    DERIVED_COLLECTIONS,
    build_collections,
    register_derived_collection,
)


class ToyResultDoc(BaseModel):
    result_id: str
    md_length_ps: float
    band_gap_ev: float


@job
def _toy_result(md_length_ps: float, gap: float) -> ToyResultDoc:
    return ToyResultDoc(
        result_id=f"x0.5-T300-md{md_length_ps}", md_length_ps=md_length_ps, band_gap_ev=gap
    )


@pytest.fixture
def toy_collection():
    register_derived_collection("toy_results", "ToyResultDoc", "result_id")
    yield "toy_results"
    DERIVED_COLLECTIONS.pop("toy_results", None)


def test_builder_adds_results_of_other_settings_and_replaces_same_key(db, toy_collection):
    store = db.jobstore()
    run_locally(Flow([_toy_result(1.0, 1.10)]), store=store, ensure_success=True)
    run_locally(Flow([_toy_result(2.0, 1.05)]), store=store, ensure_success=True)
    assert build_collections(db, [toy_collection]) == {toy_collection: 2}
    docs = {d["md_length_ps"]: d for d in db.query(toy_collection)}
    assert set(docs) == {1.0, 2.0}  # a re-run with another MD length adds, never overwrites
    assert docs[2.0]["band_gap_ev"] == pytest.approx(1.05)
    assert "@class" not in docs[2.0] and docs[2.0]["job_uuid"]
    # the same key again (a recomputation) replaces the entry instead of duplicating it
    run_locally(Flow([_toy_result(2.0, 1.07)]), store=store, ensure_success=True)
    build_collections(db, [toy_collection])
    assert db.count(toy_collection) == 2
    assert db.query_one(toy_collection, {"md_length_ps": 2.0})["band_gap_ev"] == 1.07  # newest


def test_unknown_collection_is_named(db):
    with pytest.raises(InputError, match="no_such"):
        build_collections(db, ["no_such"])


def test_build_command(db, toy_collection, capsys):
    run_locally(Flow([_toy_result(1.0, 1.1)]), store=db.jobstore(), ensure_success=True)
    path = str(db.config.path)
    db.close()
    capsys.readouterr()
    assert main(["build", "--store", path, "--collection", toy_collection, "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["written"] == {toy_collection: 1}, out
