"""Crystal graphs: periodic radius-cutoff neighbour lists and PyTorch Geometric batches.

Nodes are the atoms of the cell (features from :mod:`thermogap.gnn.features`).  An edge joins
every ordered pair of atoms (i, j) whose separation — taking periodic images into account — is
below the cutoff (default 5.5 Å, seed paper 000 Methods); the pair is present in both
directions, and an atom is joined to its own periodic images (self-edges, one per image).
The edge weight is the distance min–max normalised with a fixed range (default
[0, cutoff]), used as GraphConv's edge weight.

The neighbour search is vectorised over atom pairs, lattice translations and structures: for a
batch of ``B`` cells with ``N`` atoms each, all ``B x S x N x N`` separations for the ``S``
lattice translations that can reach within the cutoff are formed in one numpy expression (in
memory-bounded chunks).  The number of translations along each lattice vector follows from
the interplanar spacings, so any (triclinic) cell shape works.

Conventions: ``edge_index[0]`` is the source atom ``j`` and ``edge_index[1]`` the target atom
``i``; the edge vector is ``r_j + T - r_i`` for the lattice translation ``T``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from thermogap.errors import InputError
from thermogap.gnn.features import DEFAULT_FEATURE_RANGES, FeatureRanges, node_features

if TYPE_CHECKING:
    from pymatgen.core import Structure
    from torch_geometric.data import Data

__all__ = [
    "DEFAULT_CUTOFF_ANG",
    "ENVELOPES",
    "CutoffShellWarning",
    "cutoff_envelope",
    "shells_near_cutoff",
    "warn_if_shells_near_cutoff",
    "dense_adjacency_batched",
    "GraphBatch",
    "GraphSettings",
    "PeriodicEdges",
    "batch_graphs",
    "periodic_radius_edges",
    "periodic_radius_edges_batched",
    "structure_arrays",
    "structure_to_data",
    "structures_to_data",
]

DEFAULT_CUTOFF_ANG = 5.5
#: Separations below this (Å) are an atom and itself (no translation), not an edge.
_SELF_TOLERANCE_ANG = 1e-8
#: Largest number of pair separations formed at once (bounds memory to ~100 MB).
_MAX_BLOCK_PAIRS = 4_000_000

#: Smooth cutoff envelopes of the edge weights.
ENVELOPES = ("none", "cosine")


@dataclass(frozen=True)
class GraphSettings:
    """How structures become graphs; stored with every trained model.

    Parameters
    ----------
    cutoff_ang
        Radius cutoff in Å; pairs closer than this are joined by an edge.
    feature_ranges
        Fixed min–max ranges of the four node features.
    distance_range_ang
        ``(min, max)`` in Å used to normalise the edge distance to [0, 1]; ``None`` means
        ``(0, cutoff_ang)``.
    envelope
        ``"none"`` (default, the paper's benitez2026 graphs: the edge weight jumps from
        about 1 to 0 at the cutoff) or ``"cosine"``: the weight is multiplied by
        ``(1 + cos(π d / cutoff)) / 2``, so an atom crossing the cutoff changes the
        prediction continuously.
    """

    cutoff_ang: float = DEFAULT_CUTOFF_ANG
    feature_ranges: FeatureRanges = field(default_factory=lambda: DEFAULT_FEATURE_RANGES)
    distance_range_ang: tuple[float, float] | None = None
    envelope: str = "none"

    def __post_init__(self) -> None:
        if self.envelope not in ENVELOPES:
            raise InputError(
                f"envelope={self.envelope!r} is unknown; allowed: {', '.join(ENVELOPES)}"
            )
        if not (math.isfinite(self.cutoff_ang) and self.cutoff_ang > 0):
            raise InputError(f"cutoff_ang={self.cutoff_ang!r} must be a positive length in Å")
        if (
            self.distance_range_ang is None
        ):  # store the resolved range: equal settings compare equal
            object.__setattr__(self, "distance_range_ang", (0.0, float(self.cutoff_ang)))
        else:
            object.__setattr__(
                self, "distance_range_ang", tuple(float(v) for v in self.distance_range_ang)
            )
        low, high = self.distance_bounds
        if not high > low:
            raise InputError(
                f"distance_range_ang={self.distance_range_ang!r} must satisfy min < max"
            )

    @property
    def distance_bounds(self) -> tuple[float, float]:
        """``(min, max)`` in Å of the edge-distance normalisation."""
        low, high = self.distance_range_ang  # type: ignore[misc]
        return float(low), float(high)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly representation."""
        return {
            "cutoff_ang": float(self.cutoff_ang),
            "feature_ranges": self.feature_ranges.to_dict(),
            "distance_range_ang": list(self.distance_bounds),
            "envelope": self.envelope,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphSettings:
        """Inverse of :meth:`to_dict`."""
        distance = data.get("distance_range_ang")
        return cls(
            cutoff_ang=float(data.get("cutoff_ang", DEFAULT_CUTOFF_ANG)),
            feature_ranges=FeatureRanges.from_dict(data["feature_ranges"])
            if data.get("feature_ranges")
            else DEFAULT_FEATURE_RANGES,
            distance_range_ang=None
            if distance is None
            else (float(distance[0]), float(distance[1])),
            envelope=str(data.get("envelope", "none")),
        )


@dataclass(frozen=True)
class PeriodicEdges:
    """Directed edges of one or more periodic structures.

    Attributes
    ----------
    graph
        ``shape=(n_edges,)``, index of the structure each edge belongs to.
    source, target
        ``shape=(n_edges,)``, atom indices *within* their structure (``j`` and ``i``).
    distances_ang
        ``shape=(n_edges,)``, ``|r_j + T - r_i|`` in Å.
    image_offsets
        ``shape=(n_edges, 3)``, integer lattice translation ``T`` in fractional units.
    """

    graph: np.ndarray
    source: np.ndarray
    target: np.ndarray
    distances_ang: np.ndarray
    image_offsets: np.ndarray


def _translations(lattices: np.ndarray, cutoff_ang: float) -> np.ndarray:
    """Integer lattice translations that may bring any two wrapped atoms within the cutoff.

    With fractional coordinates wrapped into [0, 1) a separation has fractional components in
    (-1, 1); a translation ``n`` along vector ``k`` then moves it by at least
    ``(|n| - 1) * h_k`` perpendicular to the other two vectors, where ``h_k`` is the
    interplanar spacing, so ``|n| <= floor(cutoff / h_k) + 1`` is enough.
    """
    volumes = np.abs(np.linalg.det(lattices))  # (B,)
    cross = np.stack(
        [
            np.cross(lattices[:, 1], lattices[:, 2]),
            np.cross(lattices[:, 2], lattices[:, 0]),
            np.cross(lattices[:, 0], lattices[:, 1]),
        ],
        axis=1,
    )  # (B, 3, 3)
    spacings = volumes[:, None] / np.linalg.norm(cross, axis=2)  # (B, 3)
    n_max = (np.floor(cutoff_ang / spacings) + 1).astype(int).max(axis=0)
    ranges = [np.arange(-n, n + 1) for n in n_max]
    grid = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, 3)
    return grid


def _check_cells(lattices: np.ndarray, frac_coords: np.ndarray) -> None:
    if lattices.ndim != 3 or lattices.shape[1:] != (3, 3):
        raise InputError(f"lattices must have shape (B, 3, 3), got {lattices.shape}")
    if (
        frac_coords.ndim != 3
        or frac_coords.shape[0] != lattices.shape[0]
        or frac_coords.shape[2] != 3
    ):
        raise InputError(
            f"frac_coords must have shape (B, N, 3) with B={lattices.shape[0]}, "
            f"got {frac_coords.shape}"
        )
    volumes = np.abs(np.linalg.det(lattices))
    if not np.all(volumes > 1e-6):
        raise InputError(
            f"degenerate cell(s) with volume {volumes.min():.3g} Å^3; lattices must be 3D"
        )
    if not (np.isfinite(lattices).all() and np.isfinite(frac_coords).all()):
        raise InputError("lattices or coordinates contain NaN/inf")


def periodic_radius_edges_batched(
    lattices: np.ndarray, frac_coords: np.ndarray, cutoff_ang: float = DEFAULT_CUTOFF_ANG
) -> PeriodicEdges:
    """All directed edges shorter than the cutoff in a batch of equally sized periodic cells.

    Parameters
    ----------
    lattices
        ``shape=(B, 3, 3)``, lattice vectors as rows, Å.
    frac_coords
        ``shape=(B, N, 3)``, fractional coordinates (any values; wrapped internally).
    cutoff_ang
        Radius cutoff, Å (strict: ``d < cutoff``).

    Returns
    -------
    PeriodicEdges
        Sorted by structure, then target atom, then source atom, then translation.
    """
    lattices = np.asarray(lattices, dtype=float)
    frac_coords = np.asarray(frac_coords, dtype=float)
    _check_cells(lattices, frac_coords)
    if not cutoff_ang > 0:
        raise InputError(f"{cutoff_ang=} must be positive (Å)")
    n_cells, n_atoms, _ = frac_coords.shape
    wrapped = frac_coords - np.floor(frac_coords)
    cart = np.einsum("bni,bij->bnj", wrapped, lattices)
    translations = _translations(lattices, cutoff_ang)  # (S, 3)
    shift_cart = np.einsum("si,bij->bsj", translations.astype(float), lattices)  # (B, S, 3)
    cutoff2 = cutoff_ang * cutoff_ang
    # Candidates are screened in float32 (half the memory traffic) with a small margin, then
    # the distances of the few survivors are recomputed in float64 and cut exactly.
    screen2 = np.float32(cutoff2 * (1.0 + 1e-4) + 1e-4)
    n_shifts = len(translations)
    cart32 = cart.astype(np.float32)
    shift32 = (2.0 * shift_cart).astype(np.float32).transpose(0, 2, 1)  # (B, 3, S)
    shift_norm2 = np.einsum("bsj,bsj->bs", shift_cart, shift_cart).astype(np.float32)  # (B, S)
    pairs_per_cell = n_shifts * n_atoms * n_atoms
    cells_per_block = max(1, _MAX_BLOCK_PAIRS // max(pairs_per_cell, 1))
    rows_per_block = (
        n_atoms if cells_per_block > 1 else max(1, _MAX_BLOCK_PAIRS // max(n_shifts * n_atoms, 1))
    )
    parts: list[tuple[np.ndarray, ...]] = []
    for b0 in range(0, n_cells, cells_per_block):
        cb = cart32[b0 : b0 + cells_per_block]  # (Bc, N, 3)
        for i0 in range(0, n_atoms, rows_per_block):
            ci = cb[:, i0 : i0 + rows_per_block]  # (Bc, Ni, 3) targets
            # |r_j - r_i + T|^2 = |r_j - r_i|^2 + 2 (r_j - r_i).T + |T|^2, without forming the
            # (Bc, S, Ni, N, 3) separation array: one batched matrix product does the pairs.
            delta = (cb[:, None, :, :] - ci[:, :, None, :]).reshape(len(cb), -1, 3)  # (Bc, Ni*N, 3)
            d2 = np.matmul(delta, shift32[b0 : b0 + cells_per_block])  # (Bc, Ni*N, S)
            d2 += np.einsum("bpk,bpk->bp", delta, delta)[:, :, None]
            d2 += shift_norm2[b0 : b0 + cells_per_block, None, :]
            b, pair, s = np.nonzero(d2 < screen2)
            i, j = np.divmod(pair, n_atoms)
            b = b + b0
            i = i + i0
            sep = cart[b, j] - cart[b, i] + shift_cart[b, s]
            dist2 = np.einsum("ek,ek->e", sep, sep)
            keep = (dist2 < cutoff2) & (dist2 > _SELF_TOLERANCE_ANG**2)
            parts.append((b[keep], s[keep], i[keep], j[keep], np.sqrt(dist2[keep])))
    if parts:
        graph, shift, target, source, dist = (np.concatenate(x) for x in zip(*parts, strict=True))
    else:  # pragma: no cover - zero cells
        graph = shift = target = source = np.zeros(0, dtype=int)
        dist = np.zeros(0)
    # np.nonzero already yields (structure, target, source, translation) order
    return PeriodicEdges(
        graph=graph,
        source=source,
        target=target,
        distances_ang=dist,
        image_offsets=translations[shift],
    )


def dense_adjacency_batched(
    lattices: np.ndarray,
    frac_coords: np.ndarray,
    settings: GraphSettings,
) -> np.ndarray:
    """Edge weights of equally sized periodic cells summed into dense adjacency matrices.

    ``A[b, i, j] = sum_T w(|r_j + T - r_i|)`` over all lattice translations ``T`` with the
    distance below the cutoff (``T = 0`` excluded for ``i = j``), where ``w`` is the
    normalised distance.  For GraphConv with sum aggregation, ``A @ X`` is exactly the
    aggregated message of every target atom ``i``, so inference on many small cells can use
    batched dense products instead of scattering over edges.  Separations are evaluated in
    float32 (pairs within ~1e-5 Å of the cutoff may be classified differently from
    :func:`periodic_radius_edges_batched`, which decides in float64).

    Parameters
    ----------
    lattices
        ``shape=(B, 3, 3)``, Å.
    frac_coords
        ``shape=(B, N, 3)``.
    settings
        Cutoff and distance normalisation.

    Returns
    -------
    numpy.ndarray
        ``shape=(B, N, N)``, float32.
    """
    lattices = np.asarray(lattices, dtype=float)
    frac_coords = np.asarray(frac_coords, dtype=float)
    _check_cells(lattices, frac_coords)
    n_cells, n_atoms, _ = frac_coords.shape
    cutoff = settings.cutoff_ang
    low, high = settings.distance_bounds
    wrapped = frac_coords - np.floor(frac_coords)
    cart = np.einsum("bni,bij->bnj", wrapped, lattices)
    translations = _translations(lattices, cutoff)
    origin = int(np.flatnonzero((translations == 0).all(axis=1))[0])
    shift_cart = np.einsum("si,bij->bsj", translations.astype(float), lattices)  # (B, S, 3)
    # pair separations r_j - r_i, flattened as p = i * N + j, shape (B, N*N, 3)
    delta = (cart[:, None, :, :] - cart[:, :, None, :]).reshape(n_cells, -1, 3).astype(np.float32)
    d2 = np.matmul((2.0 * shift_cart).astype(np.float32), delta.transpose(0, 2, 1))  # (B, S, N*N)
    d2 += np.einsum("bpk,bpk->bp", delta, delta)[:, None, :]
    d2 += np.einsum("bsj,bsj->bs", shift_cart, shift_cart).astype(np.float32)[:, :, None]
    d2[:, origin, :: n_atoms + 1] = np.inf  # an atom and itself without translation
    inside = d2 < np.float32(cutoff * cutoff)
    dist = np.sqrt(d2, where=inside, out=np.zeros_like(d2))
    if settings.envelope != "none":
        factor = cutoff_envelope(dist, cutoff, settings.envelope).astype(np.float32) * inside
        dist_sum = ((dist - np.float32(low)) * factor).sum(axis=1)
    else:
        dist_sum = dist.sum(axis=1)
        if low != 0.0:
            dist_sum -= low * inside.sum(axis=1)
    return (dist_sum / np.float32(high - low)).reshape(n_cells, n_atoms, n_atoms).astype(np.float32)


def periodic_radius_edges(
    lattice: np.ndarray, frac_coords: np.ndarray, cutoff_ang: float = DEFAULT_CUTOFF_ANG
) -> PeriodicEdges:
    """All directed edges shorter than the cutoff in one periodic cell.

    Parameters
    ----------
    lattice
        ``shape=(3, 3)``, lattice vectors as rows, Å.
    frac_coords
        ``shape=(n_atoms, 3)``, fractional coordinates.
    cutoff_ang
        Radius cutoff, Å.

    Returns
    -------
    PeriodicEdges
        ``graph`` is all zeros.
    """
    return periodic_radius_edges_batched(
        np.asarray(lattice, dtype=float)[None],
        np.asarray(frac_coords, dtype=float)[None],
        cutoff_ang,
    )


def structure_arrays(structure: Structure) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lattice (3, 3) Å, frac_coords (n_atoms, 3), atomic_numbers (n_atoms,))`` of a structure.

    Raises
    ------
    InputError
        If the structure is disordered (partial occupancies cannot be graph nodes).
    """
    lattice = np.asarray(structure.lattice.matrix, dtype=float)
    frac = np.asarray(structure.frac_coords, dtype=float)
    try:
        numbers = np.fromiter(
            (site.specie.Z for site in structure), dtype=int, count=len(structure)
        )
    except AttributeError as exc:  # Site.specie raises for partial occupancies
        raise InputError(
            f"structure {structure.composition.reduced_formula} is disordered; order it first"
        ) from exc
    return lattice, frac, numbers


def cutoff_envelope(dist_ang: np.ndarray, cutoff_ang: float, envelope: str) -> np.ndarray:
    """Smooth cutoff factor of each edge: 1 for ``"none"``, (1 + cos(π d / r_c)) / 2 else."""
    dist = np.asarray(dist_ang, dtype=float)
    if envelope == "none":
        return np.ones_like(dist)
    return 0.5 * (np.cos(np.pi * np.clip(dist / cutoff_ang, 0.0, 1.0)) + 1.0)


def _normalised_distance(dist: np.ndarray, settings: GraphSettings) -> np.ndarray:
    low, high = settings.distance_bounds
    weight = (dist - low) / (high - low)
    if settings.envelope != "none":
        weight = weight * cutoff_envelope(dist, settings.cutoff_ang, settings.envelope)
    return weight.astype(np.float32)


def shells_near_cutoff(
    structure: Structure, cutoff_ang: float = DEFAULT_CUTOFF_ANG, tolerance_ang: float = 0.1
) -> list[tuple[str, str, float]]:
    """Neighbour shells of ``structure`` within ``tolerance_ang`` of the graph cutoff.

    A shell that sits on the cutoff makes the graph (and the GNN's prediction) jump when
    thermal motion moves it across.  Give an undisplaced (ideal or relaxed) structure: in a
    displaced one every distance is its own "shell".

    Returns
    -------
    list of (str, str, float)
        ``(species_i, species_j, distance_ang)`` of each distinct shell (distances rounded to
        1e-3 Å), sorted by distance.
    """
    found = set()
    for i, neighbours in enumerate(structure.get_all_neighbors(cutoff_ang + tolerance_ang)):
        for n in neighbours:
            if abs(n.nn_distance - cutoff_ang) < tolerance_ang:
                pair = sorted((structure[i].specie.symbol, n.specie.symbol))
                found.add((pair[0], pair[1], round(float(n.nn_distance), 3)))
    return sorted(found, key=lambda shell: (shell[2], shell[0], shell[1]))


def warn_if_shells_near_cutoff(
    structure: Structure, settings: GraphSettings | None = None, tolerance_ang: float = 0.1
) -> list[tuple[str, str, float]]:
    """Warn (``CutoffShellWarning``) when a neighbour shell lies within tolerance of the cutoff.

    Returns the shells found (empty: no warning).
    """
    import warnings

    settings = settings or GraphSettings()
    shells = shells_near_cutoff(structure, settings.cutoff_ang, tolerance_ang)
    if shells:
        listed = ", ".join(f"{a}-{b} {d:.3f} Å" for a, b, d in shells)
        warnings.warn(
            f"{structure.composition.reduced_formula}: neighbour shells within {tolerance_ang} Å "
            f"of the {settings.cutoff_ang} Å graph cutoff ({listed}); thermal motion moves them "
            "across it and the GNN's gap jumps. Use another cutoff or envelope='cosine'.",
            CutoffShellWarning,
            stacklevel=2,
        )
    return shells


class CutoffShellWarning(UserWarning):
    """A neighbour shell lies on the graph cutoff."""


def structure_to_data(
    structure: Structure, settings: GraphSettings | None = None, y: float | None = None
) -> Data:
    """Graph of one structure as a PyTorch Geometric ``Data`` object.

    Parameters
    ----------
    structure
        Ordered periodic structure.
    settings
        Cutoff and normalisation ranges (defaults: 5.5 Å, fixed ranges).
    y
        Optional (already normalised) target stored as ``data.y`` ``shape=(1,)``.

    Returns
    -------
    torch_geometric.data.Data
        ``x`` ``shape=(n_atoms, 4)`` float32, ``edge_index`` ``shape=(2, n_edges)`` int64,
        ``edge_weight`` ``shape=(n_edges,)`` float32 (normalised distance),
        ``atomic_numbers`` ``shape=(n_atoms,)`` int64.
    """
    return structures_to_data([structure], settings, None if y is None else [y])[0]


def structures_to_data(
    structures: Sequence[Structure],
    settings: GraphSettings | None = None,
    targets: Sequence[float] | np.ndarray | None = None,
) -> list[Data]:
    """Graphs of many structures as ``Data`` objects (for training loaders).

    Parameters
    ----------
    structures
        Ordered periodic structures.
    settings
        Graph settings.
    targets
        Optional per-structure (normalised) targets, ``len(structures)``.
    """
    from torch_geometric.data import Data

    settings = settings or GraphSettings()
    if targets is not None and len(targets) != len(structures):
        raise InputError(f"{len(targets)} targets for {len(structures)} structures")
    batch = batch_graphs(structures, settings)
    node_ptr = batch.node_ptr.numpy()
    edge_ptr = batch.edge_ptr.numpy()
    out = []
    for k in range(len(structures)):
        n0, n1, e0, e1 = node_ptr[k], node_ptr[k + 1], edge_ptr[k], edge_ptr[k + 1]
        data = Data(
            x=batch.x[n0:n1],
            edge_index=batch.edge_index[:, e0:e1] - n0,
            edge_weight=batch.edge_weight[e0:e1],
            atomic_numbers=batch.atomic_numbers[n0:n1],
        )
        if targets is not None:
            data.y = torch.tensor([float(targets[k])], dtype=torch.float32)
        out.append(data)
    return out


@dataclass
class GraphBatch:
    """Disjoint union of many crystal graphs, ready for a model's forward pass.

    Attributes
    ----------
    x
        ``shape=(n_nodes, 4)`` float32 normalised node features.
    edge_index
        ``shape=(2, n_edges)`` int64, global node indices (source, target).
    edge_weight
        ``shape=(n_edges,)`` float32 normalised distances.
    batch
        ``shape=(n_nodes,)`` int64 graph index of every node.
    atomic_numbers
        ``shape=(n_nodes,)`` int64.
    node_ptr, edge_ptr
        ``shape=(n_graphs + 1,)`` offsets of each graph's nodes and edges.
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    edge_weight: torch.Tensor
    batch: torch.Tensor
    atomic_numbers: torch.Tensor
    node_ptr: torch.Tensor
    edge_ptr: torch.Tensor

    @property
    def num_graphs(self) -> int:
        """Number of graphs in the batch."""
        return int(self.node_ptr.numel() - 1)


def batch_graphs(
    structures: Sequence[Structure], settings: GraphSettings | None = None
) -> GraphBatch:
    """Build the graphs of many structures directly as one batch (no per-graph objects).

    Structures with the same number of atoms (e.g. MD snapshots) are processed together by
    :func:`periodic_radius_edges_batched`; the output keeps the input order.

    Parameters
    ----------
    structures
        Ordered periodic structures (any mix of sizes and cell shapes).
    settings
        Graph settings.

    Returns
    -------
    GraphBatch
    """
    settings = settings or GraphSettings()
    if len(structures) == 0:
        raise InputError("no structures given; need at least one to build graphs")
    arrays = [structure_arrays(s) for s in structures]
    sizes = np.array([len(a[2]) for a in arrays])
    if (sizes == 0).any():
        raise InputError("a structure has no atoms")
    node_ptr = np.concatenate([[0], np.cumsum(sizes)])
    numbers = np.concatenate([a[2] for a in arrays])
    x = node_features(numbers, settings.feature_ranges)

    edge_parts: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for n_atoms in np.unique(sizes):
        members = np.flatnonzero(sizes == n_atoms)
        lattices = np.stack([arrays[m][0] for m in members])
        frac = np.stack([arrays[m][1] for m in members])
        edges = periodic_radius_edges_batched(lattices, frac, settings.cutoff_ang)
        split = np.searchsorted(edges.graph, np.arange(len(members) + 1))
        for k, m in enumerate(members):
            sl = slice(split[k], split[k + 1])
            edge_parts[int(m)] = (edges.source[sl], edges.target[sl], edges.distances_ang[sl])

    counts = np.array([len(edge_parts[k][0]) for k in range(len(structures))])
    offsets = np.repeat(node_ptr[:-1], counts)
    source = np.concatenate([edge_parts[k][0] for k in range(len(structures))]) + offsets
    target = np.concatenate([edge_parts[k][1] for k in range(len(structures))]) + offsets
    dist = np.concatenate([edge_parts[k][2] for k in range(len(structures))])
    return GraphBatch(
        x=torch.from_numpy(x),
        edge_index=torch.from_numpy(np.stack([source, target]).astype(np.int64)),
        edge_weight=torch.from_numpy(_normalised_distance(dist, settings)),
        batch=torch.from_numpy(np.repeat(np.arange(len(structures)), sizes).astype(np.int64)),
        atomic_numbers=torch.from_numpy(numbers.astype(np.int64)),
        node_ptr=torch.from_numpy(node_ptr.astype(np.int64)),
        edge_ptr=torch.from_numpy(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)),
    )
