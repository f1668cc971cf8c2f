"""Batched inference: property predictions for many structures (e.g. MD snapshots).

Structures are grouped by size.  Groups of small cells (the usual case: MD snapshots of one
supercell) go through a dense path — all pair separations of a batch in one array, summed
into adjacency matrices, GraphConv as batched matrix products — which is several times
faster than scattering over edge lists and exactly the same network.  Large cells use the
sparse edge-list path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from thermogap.errors import InputError
from thermogap.gnn.bundle import GNNBundle, load_gnn
from thermogap.gnn.features import node_features
from thermogap.gnn.graphs import GraphBatch, batch_graphs, dense_adjacency_batched, structure_arrays

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from thermogap.gnn.architectures import GraphConvRegressor

__all__ = ["load_gnn", "predict", "predict_frames", "predict_normalised"]

#: Largest (structures x translations x atom pairs) evaluated at once on the dense path.
_DENSE_BUDGET = 3_000_000
#: Translations assumed when sizing dense batches (3 x 3 x 3 for cells >= the cutoff).
_TYPICAL_TRANSLATIONS = 27


def predict_normalised(model: GraphConvRegressor, batch: GraphBatch) -> np.ndarray:
    """Raw (normalised) model output for a graph batch, ``shape=(n_graphs,)``, eval mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            out = model(batch.x, batch.edge_index, batch.edge_weight, batch.batch)
    finally:
        model.train(was_training)
    return out.double().numpy()


def _predict_dense(
    bundle: GNNBundle, arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> np.ndarray:
    return _predict_dense_arrays(
        bundle,
        np.stack([a[0] for a in arrays]),
        np.stack([a[1] for a in arrays]),
        np.stack([a[2] for a in arrays]),
    )


def _predict_dense_arrays(
    bundle: GNNBundle, lattices: np.ndarray, frac: np.ndarray, numbers: np.ndarray
) -> np.ndarray:
    adjacency = dense_adjacency_batched(lattices, frac, bundle.graph_settings)
    x = node_features(numbers.reshape(-1), bundle.graph_settings.feature_ranges).reshape(
        *numbers.shape, -1
    )
    with torch.inference_mode():
        out = bundle.model.forward_dense(torch.from_numpy(x), torch.from_numpy(adjacency))
    return out.double().numpy()


def predict(bundle: GNNBundle, structures: Sequence[Structure], batch_size: int = 64) -> np.ndarray:
    """Predict the bundle's target for many structures.

    Graphs are built and evaluated ``batch_size`` structures at a time (vectorised within a
    batch), so memory stays bounded for long trajectories.

    Parameters
    ----------
    bundle
        A trained model (:func:`load_gnn` or training output).
    structures
        Ordered periodic structures, any sizes.
    batch_size
        Largest number of structures per forward pass (smaller for large cells).

    Returns
    -------
    numpy.ndarray
        ``shape=(len(structures),)``, float64, in ``bundle.target_unit`` (eV for band gaps).
    """
    if batch_size < 1:
        raise InputError(f"{batch_size=} must be a positive integer")
    out = np.empty(len(structures))
    if len(structures) == 0:
        return out
    model = bundle.model
    was_training = model.training
    model.eval()
    try:
        arrays = [structure_arrays(s) for s in structures]
        sizes = np.array([len(a[2]) for a in arrays])
        for n_atoms in np.unique(sizes):
            members = np.flatnonzero(sizes == n_atoms)
            per_structure = _TYPICAL_TRANSLATIONS * int(n_atoms) ** 2
            if per_structure <= _DENSE_BUDGET:
                step = max(1, min(batch_size, _DENSE_BUDGET // per_structure))
                for start in range(0, len(members), step):
                    chunk = members[start : start + step]
                    out[chunk] = _predict_dense(bundle, [arrays[k] for k in chunk])
            else:
                for start in range(0, len(members), batch_size):
                    chunk = members[start : start + batch_size]
                    graphs = batch_graphs([structures[k] for k in chunk], bundle.graph_settings)
                    out[chunk] = predict_normalised(model, graphs)
    finally:
        model.train(was_training)
    return bundle.scaler.denormalise(out)


def predict_frames(
    bundle: GNNBundle,
    lattice: np.ndarray,
    positions_ang: np.ndarray,
    atomic_numbers: np.ndarray,
    batch_size: int = 64,
) -> np.ndarray:
    """Predict for the frames of a trajectory given as arrays (no pymatgen objects).

    Parameters
    ----------
    bundle
        A trained model.
    lattice
        ``shape=(3, 3)`` (fixed cell) or ``shape=(n_frames, 3, 3)``, Å, vectors as rows.
    positions_ang
        ``shape=(n_frames, n_atoms, 3)`` Cartesian positions, Å.
    atomic_numbers
        ``shape=(n_atoms,)``.
    batch_size
        Largest number of frames per forward pass.

    Returns
    -------
    numpy.ndarray
        ``shape=(n_frames,)`` in ``bundle.target_unit`` (eV for band gaps).
    """
    positions = np.asarray(positions_ang, dtype=float)
    numbers = np.asarray(atomic_numbers, dtype=int)
    if positions.ndim != 3 or positions.shape[1:] != (len(numbers), 3):
        raise InputError(
            f"positions_ang shape {positions.shape} does not match {len(numbers)} atoms: "
            "expected (n_frames, n_atoms, 3)"
        )
    lattices = np.asarray(lattice, dtype=float)
    if lattices.shape == (3, 3):
        lattices = np.broadcast_to(lattices, (len(positions), 3, 3))
    if lattices.shape != (len(positions), 3, 3):
        raise InputError(
            f"lattice shape {lattices.shape}; expected (3, 3) or ({len(positions)}, 3, 3)"
        )
    if batch_size < 1:
        raise InputError(f"{batch_size=} must be a positive integer")
    # r = f L  =>  f = r L^-1, solved frame by frame
    frac = np.linalg.solve(lattices.transpose(0, 2, 1), positions.transpose(0, 2, 1))
    frac = frac.transpose(0, 2, 1)
    out = np.empty(len(positions))
    per_frame = _TYPICAL_TRANSLATIONS * len(numbers) ** 2
    step = max(1, min(batch_size, _DENSE_BUDGET // per_frame))
    model = bundle.model
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(positions), step):
            sl = slice(start, start + step)
            n = len(out[sl])
            out[sl] = _predict_dense_arrays(
                bundle, lattices[sl], frac[sl], np.broadcast_to(numbers, (n, len(numbers)))
            )
    finally:
        model.train(was_training)
    return bundle.scaler.denormalise(out)


def predict_trajectories(
    bundle: GNNBundle,
    trajectories: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    batch_size: int = 256,
) -> list[np.ndarray]:
    """Predict for the frames of many trajectories at once (one model, shared forward passes).

    Frames of trajectories with the same number of atoms are evaluated together, so the
    snapshots of every replica of a study go through the model in as few batched passes as
    memory allows, instead of one pass sequence per trajectory.

    Parameters
    ----------
    bundle
        A trained model.
    trajectories
        One ``(lattice, positions_ang, atomic_numbers)`` per trajectory, with shapes as in
        :func:`predict_frames`: ``(3, 3)`` or ``(n_frames, 3, 3)``, ``(n_frames, n_atoms, 3)``,
        ``(n_atoms,)``.
    batch_size
        Largest number of frames per forward pass.

    Returns
    -------
    list of numpy.ndarray
        One ``shape=(n_frames,)`` array per trajectory, in ``bundle.target_unit``.
    """
    if batch_size < 1:
        raise InputError(f"{batch_size=} must be a positive integer")
    lattices, fracs, numbers = [], [], []
    for index, (lattice, positions_ang, atomic_numbers) in enumerate(trajectories):
        positions = np.asarray(positions_ang, dtype=float)
        z = np.asarray(atomic_numbers, dtype=int)
        if positions.ndim != 3 or positions.shape[1:] != (len(z), 3):
            raise InputError(
                f"trajectory {index}: positions_ang shape {positions.shape} does not match "
                f"{len(z)} atoms: expected (n_frames, n_atoms, 3)"
            )
        cell = np.asarray(lattice, dtype=float)
        if cell.shape == (3, 3):
            cell = np.broadcast_to(cell, (len(positions), 3, 3))
        if cell.shape != (len(positions), 3, 3):
            raise InputError(
                f"trajectory {index}: lattice shape {cell.shape}; expected (3, 3) or "
                f"({len(positions)}, 3, 3)"
            )
        frac = np.linalg.solve(cell.transpose(0, 2, 1), positions.transpose(0, 2, 1))
        lattices.append(cell)
        fracs.append(frac.transpose(0, 2, 1))
        numbers.append(np.broadcast_to(z, (len(positions), len(z))))
    out = [np.empty(len(f)) for f in fracs]
    model = bundle.model
    was_training = model.training
    model.eval()
    try:
        for n_atoms in sorted({f.shape[1] for f in fracs}):
            members = [k for k, f in enumerate(fracs) if f.shape[1] == n_atoms]
            cells = np.concatenate([lattices[k] for k in members])
            frac_all = np.concatenate([fracs[k] for k in members])
            z_all = np.concatenate([numbers[k] for k in members])
            values = np.empty(len(frac_all))
            step = max(1, min(batch_size, _DENSE_BUDGET // (_TYPICAL_TRANSLATIONS * n_atoms**2)))
            for start in range(0, len(frac_all), step):
                sl = slice(start, start + step)
                values[sl] = _predict_dense_arrays(bundle, cells[sl], frac_all[sl], z_all[sl])
            bounds = np.cumsum([0, *(len(fracs[k]) for k in members)])
            for k, lo, hi in zip(members, bounds[:-1], bounds[1:], strict=True):
                out[k] = values[lo:hi]
    finally:
        model.train(was_training)
    return [bundle.scaler.denormalise(v) for v in out]
