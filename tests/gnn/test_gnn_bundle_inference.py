"""Storing, loading (SHA-256 checked) and batched inference of trained GNNs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from thermogap.errors import BlobIntegrityError, InputError, MissingModelError, StoreError
from thermogap.execution.artifacts import JobBlobStore
from thermogap.gnn.bundle import GNNBundle, gnn_from_model, load_gnn, register_gnn, save_gnn
from thermogap.gnn.graphs import structures_to_data
from thermogap.gnn.inference import predict


def _reference_predictions(bundle, structures):
    """Per-graph PyG Data objects collated by torch_geometric (independent of batch_graphs)."""
    batch = Batch.from_data_list(structures_to_data(structures, bundle.graph_settings))
    with torch.no_grad():
        out = bundle.model.eval()(batch.x, batch.edge_index, batch.edge_weight, batch.batch)
    return bundle.scaler.denormalise(out.double().numpy())


def test_predict_is_batch_size_independent_and_in_ev(trained, synthetic_data):
    structures, gaps = synthetic_data
    subset = structures[:37]
    reference = _reference_predictions(trained.bundle, subset)
    for batch_size in (1, 8, 256):
        np.testing.assert_allclose(
            predict(trained.bundle, subset, batch_size), reference, rtol=1e-5, atol=1e-6
        )
    test_idx = trained.split.test
    mae = np.abs(predict(trained.bundle, [structures[i] for i in test_idx]) - gaps[test_idx]).mean()
    assert mae == pytest.approx(trained.metrics.test.mae, rel=1e-5)


def test_bundle_round_trip_through_the_store(db, trained, synthetic_data):
    structures, _ = synthetic_data
    doc = register_gnn(
        db, trained.bundle, {"settings": {"hidden_channels": 16}, "metrics": trained.metrics}
    )
    assert doc.model_id.startswith("gnn-") and doc.sha256 == doc.blob["sha256"]
    stored = db.query_one("models", {"model_id": doc.model_id})
    assert stored["kind"] == "gnn" and stored["levels"] == ["synthetic"]
    assert stored["target_range"] == [trained.bundle.scaler.minimum, trained.bundle.scaler.maximum]
    loaded = load_gnn(db, doc.model_id)
    assert loaded.graph_settings == trained.bundle.graph_settings
    assert loaded.training_ids == trained.ids["train"] and loaded.scaler == trained.bundle.scaler
    np.testing.assert_array_equal(
        predict(loaded, structures[:10]), predict(trained.bundle, structures[:10])
    )
    # saving the same weights again is idempotent
    assert register_gnn(db, trained.bundle, {"settings": {}}).model_id == doc.model_id
    assert db.count("models", {"kind": "gnn"}) == 1


def test_save_gnn_writes_no_database_and_the_document_loads_the_model(db, trained, synthetic_data):
    structures, _ = synthetic_data
    blobs = JobBlobStore()
    doc = save_gnn(trained.bundle, {"settings": {}}, blobs=blobs)
    assert blobs.exists(doc.blob["blob_id"]) and not db.blobs.exists(doc.blob["blob_id"])
    assert db.count("models") == 0
    # the document alone does not hold the bytes; with the store, or carrying them, it loads
    with pytest.raises(StoreError, match="among this job"):
        gnn_from_model(doc)
    reference = predict(trained.bundle, structures[:5])
    np.testing.assert_array_equal(predict(gnn_from_model(doc, blobs), structures[:5]), reference)
    carried = doc.model_copy(
        update={"artifacts": {doc.blob["blob_id"]: blobs.encoded(doc.blob["blob_id"])}}
    )
    np.testing.assert_array_equal(predict(gnn_from_model(carried), structures[:5]), reference)
    # the old call form save_gnn(db, bundle, fields) is refused, pointing to register_gnn
    with pytest.raises(InputError, match="register_gnn"):
        save_gnn(db, trained.bundle, {"settings": {}})  # type: ignore[arg-type]


def test_load_refuses_corrupted_or_unknown_models(db, trained):
    doc = register_gnn(db, trained.bundle, {"settings": {}})
    path = db.blobs._path(doc.blob["blob_id"])  # the embedded blob store keeps files
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    with pytest.raises(BlobIntegrityError):
        load_gnn(db, doc.model_id)
    with pytest.raises(MissingModelError, match="gnn-doesnotexist"):
        load_gnn(db, "gnn-doesnotexist")


def test_bundle_bytes_are_deterministic_and_hold_no_code(trained):
    data = trained.bundle.to_bytes()
    assert data == trained.bundle.to_bytes()
    again = GNNBundle.from_bytes(data)
    for key, value in trained.bundle.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[key])


def test_dense_adjacency_sums_pymatgen_edge_weights():
    from pymatgen.core import Lattice, Structure

    from thermogap.gnn.graphs import GraphSettings, dense_adjacency_batched

    rng = np.random.default_rng(4)
    cells = [
        Structure(
            Lattice.from_parameters(5.1, 5.6, 6.3, 80, 97, 104),
            ["Ag", "S", "Br", "I", "Ag", "S"],
            rng.random((6, 3)),
        )
        for _ in range(3)
    ]
    settings = GraphSettings(cutoff_ang=5.5)
    adjacency = dense_adjacency_batched(
        np.stack([c.lattice.matrix for c in cells]),
        np.stack([c.frac_coords for c in cells]),
        settings,
    )
    for a, cell in zip(adjacency, cells, strict=True):
        centre, neighbour, _, dist = cell.get_neighbor_list(5.5)
        expected = np.zeros((6, 6))
        np.add.at(expected, (centre, neighbour), dist / 5.5)
        np.testing.assert_allclose(a, expected, rtol=1e-5, atol=1e-5)


def test_dense_and_sparse_inference_paths_agree(trained, monkeypatch):
    """The dense fast path must give what PyG's GraphConv gives on edge lists."""
    import thermogap.gnn.inference as inference

    from .synthetic import make_dataset

    mixed = make_dataset(5, seed=8)[0] + make_dataset(4, seed=9, supercell=(2, 2, 1))[0]
    mixed = [mixed[i] for i in (0, 5, 1, 6, 2, 7, 3, 8, 4)]  # interleave 10- and 20-atom cells
    dense = predict(trained.bundle, mixed, batch_size=4)
    monkeypatch.setattr(inference, "_DENSE_BUDGET", 0)  # force the edge-list path
    sparse = predict(trained.bundle, mixed, batch_size=4)
    np.testing.assert_allclose(dense, sparse, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        dense, _reference_predictions(trained.bundle, mixed), rtol=1e-5, atol=1e-5
    )


def test_predict_frames_equals_predict_on_structures(trained, synthetic_data):
    from pymatgen.core import Structure

    from thermogap.gnn.inference import predict_frames

    structures, _ = synthetic_data
    base = structures[0]
    rng = np.random.default_rng(5)
    positions = base.cart_coords[None] + rng.normal(0, 0.05, (6, len(base), 3))
    frames = [
        Structure(base.lattice, base.species, p, coords_are_cartesian=True) for p in positions
    ]
    numbers = np.array([site.specie.Z for site in base])
    np.testing.assert_allclose(
        predict_frames(trained.bundle, base.lattice.matrix, positions, numbers, batch_size=4),
        predict(trained.bundle, frames),
        rtol=1e-6,
    )


def test_predict_trajectories_matches_structure_by_structure(trained, synthetic_data):
    """Frames of several replicas (two cell sizes) in shared passes = one structure at a time."""
    from pymatgen.core import Structure

    from thermogap.gnn.inference import predict_trajectories

    structures, _ = synthetic_data
    rng = np.random.default_rng(11)
    bases = [structures[0], structures[1], structures[0] * (1, 1, 2)]
    trajectories, expected = [], []
    for n_frames, base in zip((5, 3, 4), bases, strict=True):
        positions = base.cart_coords[None] + rng.normal(0, 0.05, (n_frames, len(base), 3))
        numbers = np.array([site.specie.Z for site in base])
        trajectories.append((base.lattice.matrix, positions, numbers))
        frames = [
            Structure(base.lattice, base.species, p, coords_are_cartesian=True) for p in positions
        ]
        expected.append(predict(trained.bundle, frames))
    got = predict_trajectories(trained.bundle, trajectories, batch_size=3)
    assert [len(g) for g in got] == [5, 3, 4]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-6)
