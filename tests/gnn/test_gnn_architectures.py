"""Architectures: the registry, the seed paper's layer sequence, physical invariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thermogap.errors import InputError, UnknownEntryError
from thermogap.gnn.architectures import ARCHITECTURES, SEARCH_FAMILY, ArchitectureSpec, build_model
from thermogap.gnn.bundle import GNNBundle, TargetScaler
from thermogap.gnn.graphs import GraphSettings, batch_graphs
from thermogap.gnn.inference import predict
from thermogap.structures.prototypes import antiperovskite


def _manual_forward(model, x, edge_index, w, batch, n_graphs, pooling):
    """GraphConv x'_i = W1 x_i + W2 sum_j e_ji x_j written out with plain torch ops."""
    src, dst = edge_index
    h = x
    for conv, norm in zip(model.convs, model.norms, strict=True):
        agg = torch.zeros(h.shape[0], h.shape[1]).index_add_(0, dst, w[:, None] * h[src])
        h = agg @ conv.lin_rel.weight.T + conv.lin_rel.bias + h @ conv.lin_root.weight.T
        h = (h - norm.running_mean) / torch.sqrt(
            norm.running_var + norm.eps
        ) * norm.weight + norm.bias
        h = torch.clamp(h, min=0)
    pooled = torch.stack(
        [
            h[batch == g].max(0).values if pooling == "max" else h[batch == g].mean(0)
            for g in range(n_graphs)
        ]
    )
    out = (
        torch.clamp(pooled @ model.lin1.weight.T + model.lin1.bias, min=0) @ model.lin2.weight.T
        + model.lin2.bias
    )
    return out.squeeze(-1)


def _cells():
    rng = np.random.default_rng(3)
    out = []
    for x in ("Br", "I"):
        s = antiperovskite(4.9, x=x)
        s.make_supercell((2, 1, 1))
        s.perturb(0.1, min_distance=0.02)
        out.append(s)
    out[0].translate_sites([0], rng.normal(0, 0.05, 3), frac_coords=False)
    return out


def test_registry_has_paper_model_and_six_variants():
    assert set(ARCHITECTURES.names()) == {"benitez2026", *SEARCH_FAMILY} and len(SEARCH_FAMILY) == 6
    with pytest.raises(UnknownEntryError, match="benitez2026"):
        build_model("gcn9000")
    n_convs = sorted(len(build_model(name, 8, 0.0).convs) for name in SEARCH_FAMILY)
    assert n_convs == [2, 3, 3, 3, 3, 4]
    with pytest.raises(InputError):
        ArchitectureSpec(2, "sum", "sigmoid")


def test_benitez2026_layers_follow_the_seed_paper():
    model = build_model("benitez2026")
    assert model.hidden_channels == 64 and model.dropout == 0.4
    assert [c.lin_root.in_channels for c in model.convs] == [4, 64]
    assert [c.lin_root.out_channels for c in model.convs] == [64, 64]
    assert (model.lin1.in_features, model.lin1.out_features) == (64, 16)
    assert (model.lin2.in_features, model.lin2.out_features) == (16, 1)
    assert model.spec == ArchitectureSpec(2, "max", "sigmoid")


@pytest.mark.parametrize("name", ["benitez2026", "conv3_mean_relu", "conv4_max_sigmoid"])
def test_forward_matches_manual_graphconv_network(name):
    torch.manual_seed(0)
    model = build_model(name, hidden_channels=8, dropout=0.4)
    for norm in model.norms:  # non-trivial BatchNorm statistics
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
    model.eval()
    g = batch_graphs(_cells(), GraphSettings())
    with torch.no_grad():
        out = model(g.x, g.edge_index, g.edge_weight, g.batch)
        ref = _manual_forward(
            model, g.x, g.edge_index, g.edge_weight, g.batch, 2, model.spec.pooling
        )
    ref = torch.sigmoid(ref) if model.spec.output_activation == "sigmoid" else torch.relu(ref)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


def test_prediction_is_invariant_to_atom_order_and_cell_choice():
    torch.manual_seed(1)
    bundle = GNNBundle(
        model=build_model("conv3_mean_sigmoid", 8, 0.0).eval(),
        architecture="conv3_mean_sigmoid",
        hidden_channels=8,
        dropout=0.0,
        graph_settings=GraphSettings(),
        target="band_gap",
        target_unit="eV",
        scaler=TargetScaler(0.5, 2.5),
    )
    cell = _cells()[0]
    permuted = cell.copy()
    permuted = permuted.__class__.from_sites(
        [cell[i] for i in np.random.default_rng(0).permutation(len(cell))]
    )
    supercell = cell.copy()
    supercell.make_supercell((1, 2, 1))  # same crystal, twice the cell: same local environments
    values = predict(bundle, [cell, permuted, supercell])
    np.testing.assert_allclose(values, values[0], rtol=1e-5)
