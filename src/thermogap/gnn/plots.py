"""Figures of GNN results as PNG bytes (matplotlib's object API: no pyplot, no global state)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["importance_png", "learning_curves_png", "parity_png", "search_png"]

_SPLIT_COLOURS = {"train": "tab:blue", "validation": "tab:orange", "test": "tab:green"}


def _figure(ncols: int = 1, width: float = 4.0, height: float = 3.6) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()


def parity_png(
    parity: Mapping[str, tuple[np.ndarray, np.ndarray]], label: str = "band gap (eV)"
) -> bytes:
    """Parity plot (reference vs prediction) with one panel per split.

    Parameters
    ----------
    parity
        ``{split: (y_true, y_pred)}``, each ``shape=(n,)``.
    label
        Axis label with unit.
    """
    splits = [k for k in ("train", "validation", "test") if k in parity and len(parity[k][0])]
    fig, axes = _figure(max(1, len(splits)))
    for ax, split in zip(axes, splits, strict=False):
        y_true, y_pred = (np.asarray(a, dtype=float) for a in parity[split])
        low = float(min(y_true.min(), y_pred.min()))
        high = float(max(y_true.max(), y_pred.max()))
        ax.plot([low, high], [low, high], "k--", lw=1)
        ax.scatter(y_true, y_pred, s=8, alpha=0.6, color=_SPLIT_COLOURS.get(split, "k"))
        mae = float(np.abs(y_pred - y_true).mean())
        ax.set_title(f"{split} (MAE {mae:.3g})")
        ax.set_xlabel(f"reference {label}")
        ax.set_ylabel(f"GNN {label}")
    return _png(fig)


def learning_curves_png(table: Sequence[Mapping[str, Any]], unit: str = "eV") -> bytes:
    """Test MAE and R² vs training-set size, one line per (train, test) dataset pair.

    Parameters
    ----------
    table
        Rows of :func:`thermogap.gnn.dataset_study.summarise_rows`.
    unit
        Unit of the MAE.
    """
    fig, axes = _figure(2)
    pairs = sorted({(r["train_dataset"], r["test_dataset"]) for r in table})
    for train, test in pairs:
        rows = sorted(
            (r for r in table if (r["train_dataset"], r["test_dataset"]) == (train, test)),
            key=lambda r: r["train_size"],
        )
        sizes = np.array([r["train_size"] for r in rows], dtype=float)
        for ax, metric in zip(axes, ("mae", "r2"), strict=True):
            mean = np.array(
                [np.nan if r[f"{metric}_mean"] is None else r[f"{metric}_mean"] for r in rows]
            )
            std = np.array([0.0 if not r[f"{metric}_std"] else r[f"{metric}_std"] for r in rows])
            ax.plot(sizes, mean, marker="o", label=f"train {train} / test {test}")
            ax.fill_between(sizes, mean - std, mean + std, alpha=0.2)
    axes[0].set_ylabel(f"test MAE ({unit})")
    axes[1].set_ylabel("test R²")
    for ax in axes:
        ax.set_xlabel("training structures")
    axes[1].legend(fontsize=6)
    return _png(fig)


def importance_png(groups: Mapping[str, np.ndarray], threshold: float = 0.86) -> bytes:
    """Violin plot of edge-importance distributions per bond type."""
    labels = [k for k in groups if len(groups[k])]
    fig, axes = _figure(1, width=max(4.0, 0.6 * len(labels) + 1))
    ax = axes[0]
    if labels:
        ax.violinplot([np.asarray(groups[k], dtype=float) for k in labels], showmedians=True)
        ax.set_xticks(range(1, len(labels) + 1), labels, rotation=45)
    ax.axhline(threshold, color="r", ls="--", lw=1)
    ax.set_ylabel("edge importance (0-1)")
    return _png(fig)


def search_png(points: Sequence[Mapping[str, Any]]) -> bytes:
    """Plot the validation R² of every search point against each hyperparameter."""
    keys = ("architecture", "learning_rate", "hidden_channels", "dropout")
    fig, axes = _figure(4, width=3.2)
    r2 = np.array([np.nan if p["r2"] is None else p["r2"] for p in points], dtype=float)
    for ax, key in zip(axes, keys, strict=True):
        values = [str(p[key]) for p in points]
        categories = sorted(set(values))
        x = np.array([categories.index(v) for v in values])
        ax.scatter(x, r2, s=10)
        ax.set_xticks(range(len(categories)), categories, rotation=45, fontsize=7)
        ax.set_xlabel(key)
    axes[0].set_ylabel("validation R²")
    return _png(fig)
