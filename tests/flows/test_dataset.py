"""The configuration-dataset flow end to end: counts, contract fields, idempotency.

The sampling jobs return their configurations; the ``configurations`` collection is built
from the job outputs after ``run_flow`` (see thermogap.store.builders).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.execution import run_flow
from thermogap.flows.dataset import DatasetMaker, dataset_flow
from thermogap.jobs.phonons import PhononMaker
from thermogap.jobs.sampling import DisplacedConfigurationsMaker
from thermogap.schemas.configurations import ConfigurationDoc
from thermogap.schemas.phonons import PhononSettings
from thermogap.structures import load_structure

torch.set_num_threads(2)

COMPOSITIONS = [0.5, 1.0]
TEMPERATURES = [100.0, 600.0]
N_PER_BATCH = 4


def make_flow(
    seed: int = 0,
    compositions=COMPOSITIONS,
    temperatures=TEMPERATURES,
    schemes=("phonon", "gaussian", "random", "equilibrium"),
):
    maker = DatasetMaker(
        phonon_maker=PhononMaker(settings=PhononSettings(band_npoints=5, dos_mesh=[4, 4, 4])),
        sampling_maker=DisplacedConfigurationsMaker(
            n_configurations=N_PER_BATCH, seed=seed, mesh=[4, 4, 4], soft_mode_treatment="exclude"
        ),
        compositions=list(compositions),
        temperatures_k=list(temperatures),
        schemes=list(schemes),
        random_amplitudes_ang=[0.3],
        n_equilibrium=1,
    )
    return maker.make([load_structure("Ag3SBr"), load_structure("Ag3SI")])


def _displacements(doc: dict, undisplaced: Structure) -> np.ndarray:
    displaced = Structure.from_dict(doc["structure"])
    dfrac = displaced.frac_coords - undisplaced.frac_coords
    dfrac -= np.rint(dfrac)
    return dfrac @ undisplaced.lattice.matrix


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from thermogap.store import ResultsDB

    db = ResultsDB.from_spec(tmp_path_factory.mktemp("dataset") / "store")
    summary = run_flow(make_flow(), db)
    yield db, summary
    db.close()


def _supercells(db) -> dict[str, Structure]:
    """Undisplaced supercells by id, from the sampling jobs' outputs."""
    outputs = db.query("outputs", {"output.@class": "ConfigurationBatchDoc"}, properties=["output"])
    return {
        o["output"]["parent_structure_id"]: Structure.from_dict(o["output"]["supercell"])
        for o in outputs
    }


def test_every_combination_is_written_once(dataset):
    db, summary = dataset
    assert summary.n_failed == 0
    per_x = 2 * len(TEMPERATURES) * N_PER_BATCH + N_PER_BATCH + 1  # phonon, gaussian, random, eq.
    assert db.count("configurations") == len(COMPOSITIONS) * per_x
    for x in COMPOSITIONS:
        for scheme, expected in [("phonon", 8), ("gaussian", 8), ("random", 4), ("equilibrium", 1)]:
            assert db.count("configurations", {"x": x, "scheme": scheme}) == expected
    # the flow's output lists the same documents: the labelling flow's input
    listed = summary.outputs["flow"]["configurations"]
    assert sorted(c["config_id"] for c in listed) == sorted(
        db.distinct("configurations", "config_id")
    )
    assert {c["scheme"] for c in listed} == {"phonon", "gaussian", "random", "equilibrium"}
    assert len(summary.outputs["flow"]["phonon_ids"]) == 2


def test_documents_follow_the_contract_and_their_scheme(dataset):
    db, summary = dataset
    phonon_ids = set(summary.outputs["flow"]["phonon_ids"])
    supercells = _supercells(db)
    batches = {}
    for raw in db.query("configurations"):
        builder_fields = {"job_uuid", "job_name", "completed_at"}  # added by the builder
        assert builder_fields <= set(raw)
        doc = ConfigurationDoc(**{k: v for k, v in raw.items() if k not in builder_fields})
        structure = Structure.from_dict(raw["structure"])
        assert doc.n_atoms == len(structure) == 40
        n_br = sum(site.specie.symbol == "Br" for site in structure)
        assert n_br == round(8 * doc.x)
        assert doc.formula == structure.composition.reduced_formula
        undisplaced = supercells[doc.parent_structure_id]
        u = _displacements(raw, undisplaced)
        if doc.scheme in ("phonon", "gaussian"):
            assert doc.temperature_k in TEMPERATURES and doc.parent_phonon_id in phonon_ids
            assert set(doc.parent_phonon_ids) == phonon_ids
        else:
            assert doc.temperature_k is None and doc.parent_phonon_id is None
        if doc.scheme == "random":
            assert doc.amplitude_ang == 0.3 and np.abs(u).max() <= 0.3 + 1e-9
        if doc.scheme == "equilibrium":
            np.testing.assert_allclose(u, 0.0, atol=1e-9)
        if doc.scheme == "phonon":
            batches.setdefault(doc.batch_id, []).append(u)
        assert doc.rms_displacement_ang == pytest.approx(
            np.sqrt(np.mean(np.sum(u**2, axis=1))), abs=1e-9
        )
    # phonon scheme: |u_{j,α}| <= ζ_{j,α}, with ζ the batch's amplitudes from the job output
    outputs = db.query("outputs", {"output.scheme": "phonon"}, properties=["output"])
    assert len(outputs) == len(batches) == len(COMPOSITIONS) * len(TEMPERATURES)
    for out in outputs:
        zeta = np.array(out["output"]["amplitudes_ang"])
        for u in batches[out["output"]["batch_id"]]:
            assert np.all(np.abs(u) <= zeta + 1e-9)
        assert out["output"]["n_imaginary_excluded"] > 0  # cubic parents are unstable


def test_rerun_with_the_same_seed_changes_nothing(dataset):
    db, _ = dataset
    before = {d["config_id"]: d["structure"] for d in db.query("configurations")}
    summary = run_flow(make_flow(seed=0), db)
    assert summary.n_failed == 0 and summary.n_ran == 0
    assert summary.n_reused == summary.n_jobs == len(make_flow().jobs)
    after = {d["config_id"]: d["structure"] for d in db.query("configurations")}
    assert after == before


def test_same_seed_reproduces_configurations_in_a_fresh_store(dataset, db):
    """Recomputed from scratch (no reuse), the same seed gives the same ids and positions."""
    old, _ = dataset
    flow = make_flow(compositions=[0.5], temperatures=[100.0], schemes=["phonon", "random"])
    summary = run_flow(flow, db)
    assert summary.n_reused == 0 and db.count("configurations") == 2 * N_PER_BATCH
    for raw in db.query("configurations"):
        previous = old.query_one("configurations", {"config_id": raw["config_id"]})
        assert previous is not None
        np.testing.assert_allclose(
            Structure.from_dict(raw["structure"]).cart_coords,
            Structure.from_dict(previous["structure"]).cart_coords,
            atol=1e-6,
        )


def test_another_seed_gives_new_configurations(db):
    for seed in (1, 2):
        flow = dataset_flow(
            compositions=[1.0],
            schemes=["random"],
            random_amplitudes_ang=[0.2],
            n_per_batch=3,
            seed=seed,
        )
        assert not any("phonons" in job.name for job in flow.jobs)  # random needs no phonons
        run_flow(flow, db)
    docs = db.query("configurations")
    assert len(docs) == 6 and len({d["config_id"] for d in docs}) == 6
    positions = [
        tuple(np.round(Structure.from_dict(d["structure"]).cart_coords[0], 8)) for d in docs
    ]
    assert len(set(positions)) == 6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"compositions": [0.3]}, "not on the 1/8 grid"),
        ({"schemes": ["md"]}, "allowed: phonon, gaussian, random, equilibrium"),
        ({"temperatures_k": [-5.0]}, "temperatures_k"),
        ({"species": ["Br"]}, "species"),
    ],
)
def test_bad_settings_fail_before_anything_runs(kwargs, match):
    with pytest.raises(InputError, match=match):
        dataset_flow(**kwargs)


def test_preset_builder_scales_supercells_by_vegards_law():
    flow = dataset_flow(compositions=[0.0, 0.5, 1.0], schemes=["equilibrium"])
    sizes = {}
    for job in flow.jobs:
        if not job.name.startswith("displaced configurations"):
            continue
        supercell, x = job.function_args[0], job.function_args[1]
        sizes[x] = (supercell.volume / 8) ** (1 / 3)
    a_br = load_structure("Ag3SBr").lattice.a
    a_i = load_structure("Ag3SI").lattice.a
    assert sizes[1.0] == pytest.approx(a_br)
    assert sizes[0.0] == pytest.approx(a_i)
    assert sizes[0.5] == pytest.approx(0.5 * (a_br + a_i))


def test_supercells_follow_vegards_law_between_the_relaxed_parents(dataset):
    """The stored undisplaced supercells are scaled to the parents relaxed with their engine."""
    db, _ = dataset
    relaxed = {d["formula"]: d for d in db.query("phonons")}
    a_br = relaxed["Ag3SBr"]["lattice_parameter_ang"]
    a_i = relaxed["Ag3SI"]["lattice_parameter_ang"]
    assert relaxed["Ag3SBr"]["relaxed"] and relaxed["Ag3SI"]["relaxed"]
    # CHGNet's own lattice parameters, not the 4.90 / 4.98 Å starting values
    assert abs(a_br - 4.90) > 0.02 and abs(a_i - 4.98) > 0.01
    for x, expected in [(1.0, a_br), (0.5, 0.5 * (a_br + a_i))]:
        doc = db.query_one("configurations", {"x": x, "scheme": "equilibrium"})
        cell = Structure.from_dict(doc["structure"])
        assert (cell.volume / 8) ** (1 / 3) == pytest.approx(expected, abs=1e-6)


def test_soft_modes_are_reported_in_phonon_and_configuration_documents(dataset):
    db, _ = dataset
    for phonon in db.query("phonons"):
        soft = phonon["soft_modes"]
        assert soft["n_imaginary"] > 0 and 0 < soft["fraction_of_modes"] <= 1
        assert 0 < soft["variance_fraction"] <= 1
    doc = db.query_one("configurations", {"scheme": "gaussian"})
    assert doc["soft_mode_treatment"] == "exclude" and doc["n_imaginary_modes"] > 0
    assert doc["soft_mode_fraction"] > 0.1 and doc["soft_mode_variance_fraction"] > 0
    out = db.query_one("outputs", {"output.scheme": "phonon"}, properties=["output"])["output"]
    assert out["dense_mesh"] == [6, 6, 6] and out["amplitude_mesh_change"] > 0
