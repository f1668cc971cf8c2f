"""Throughput of batched GNN band-gap inference, graph construction included.

Target (issue 6): at least 1,000 forty-atom structures per second on 2 CPU cores with the
seed paper's model (benitez2026: h = 64, cutoff 5.5 Å).

Run:  PYTHONPATH=src python benchmarks/bench_gnn_inference.py [--n 2000] [--threads 2]

Prints structures/s for the whole ``predict`` call (pymatgen structures in, eV out), for
graph construction alone on the path ``predict`` uses (coordinates out of pymatgen, node
features, dense adjacency), and for the sparse edge-list builder used in training.  The
weights are random: throughput does not depend on them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from pymatgen.core import Structure

from thermogap.gnn.architectures import build_model
from thermogap.gnn.bundle import GNNBundle, TargetScaler
from thermogap.gnn.features import node_features
from thermogap.gnn.graphs import (
    GraphSettings,
    batch_graphs,
    dense_adjacency_batched,
    structure_arrays,
)
from thermogap.gnn.inference import predict
from thermogap.structures.prototypes import antiperovskite


def md_like_snapshots(n: int, seed: int = 0) -> list[Structure]:
    """``n`` 40-atom Ag3SBr0.5I0.5 2x2x2 supercells with thermal-like displacements."""
    rng = np.random.default_rng(seed)
    base = antiperovskite(4.94, x="Br")
    base.make_supercell((2, 2, 2))
    halides = [k for k, site in enumerate(base) if site.specie.symbol == "Br"]
    for k in halides[::2]:
        base.replace(k, "I")
    frac = base.frac_coords
    out = []
    for _ in range(n):
        strain = np.eye(3) + rng.normal(0, 0.005, (3, 3))
        lattice = base.lattice.matrix @ strain
        disp = rng.normal(0, 0.12, frac.shape) @ np.linalg.inv(lattice)
        out.append(Structure(lattice, base.species, frac + disp))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of structures")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed repetitions (best is reported)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    structures = md_like_snapshots(args.n)
    torch.manual_seed(0)
    bundle = GNNBundle(
        model=build_model("benitez2026").eval(),
        architecture="benitez2026",
        hidden_channels=64,
        dropout=0.4,
        graph_settings=GraphSettings(cutoff_ang=5.5),
        target="band_gap",
        target_unit="eV",
        scaler=TargetScaler(0.5, 2.5),
    )
    predict(bundle, structures[:64])  # warm-up
    graphs = batch_graphs(structures[:256], bundle.graph_settings)
    edges_per_structure = graphs.edge_index.shape[1] / graphs.num_graphs
    print(
        f"structures: {args.n} x {len(structures[0])} atoms, {edges_per_structure:.0f} edges each; "
        f"torch threads: {torch.get_num_threads()}"
    )
    for batch_size in (32, 64, 256):
        best_total = best_graph = best_edges = np.inf
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for start in range(0, args.n, batch_size):
                arrays = [structure_arrays(s) for s in structures[start : start + batch_size]]
                numbers = np.stack([a[2] for a in arrays])
                node_features(numbers.reshape(-1))
                dense_adjacency_batched(
                    np.stack([a[0] for a in arrays]),
                    np.stack([a[1] for a in arrays]),
                    bundle.graph_settings,
                )
            best_graph = min(best_graph, time.perf_counter() - t0)
            t0 = time.perf_counter()
            for start in range(0, args.n, batch_size):
                batch_graphs(structures[start : start + batch_size], bundle.graph_settings)
            best_edges = min(best_edges, time.perf_counter() - t0)
            t0 = time.perf_counter()
            values = predict(bundle, structures, batch_size=batch_size)
            best_total = min(best_total, time.perf_counter() - t0)
        assert values.shape == (args.n,) and np.isfinite(values).all()
        print(
            f"batch_size={batch_size:4d}: {args.n / best_total:7.0f} structures/s end-to-end | "
            f"graphs alone {args.n / best_graph:7.0f} /s | "
            f"sparse edge lists {args.n / best_edges:7.0f} /s"
        )


if __name__ == "__main__":
    main()
