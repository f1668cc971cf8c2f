"""Random forests that find what drives strong renormalisation (seed 003, Methods B).

* global model: R_full of a compound from 135 composition + structure features
  (matminer Magpie ``ElementProperty`` statistics, 132, and ``DensityFeatures``, 3);
* local model: R_onsite of a site from site features (Magpie properties of the site's
  element, their mean difference to the neighbours, coordination number, average bond
  length and angle with CrystalNN neighbours), target Box-Cox transformed with λ = 0.074.

Paper settings: 200 trees; max_depth 18 / 15; max_features 0.5 / 0.7; 90/10 split.
Everything runs offline (matminer ships its element tables).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pymatgen.core import Element, Structure

from thermogap.errors import InputError
from thermogap.structures.identity import as_structure

__all__ = [
    "FOREST_SETTINGS",
    "SITE_PROPERTIES",
    "ForestResult",
    "boxcox",
    "fit_forest",
    "forest_report",
    "global_features",
    "inverse_boxcox",
    "parity_png",
    "site_features",
    "tables_from_docs",
]

#: Paper hyper-parameters of the two models.
FOREST_SETTINGS: dict[str, dict[str, Any]] = {
    "global": {"n_estimators": 200, "max_depth": 18, "max_features": 0.5, "boxcox": None},
    "local": {"n_estimators": 200, "max_depth": 15, "max_features": 0.7, "boxcox": 0.074},
}

#: Magpie element properties used for the site features.
SITE_PROPERTIES = (
    "Number",
    "MendeleevNumber",
    "AtomicWeight",
    "MeltingT",
    "Column",
    "Row",
    "CovalentRadius",
    "Electronegativity",
    "NsValence",
    "NpValence",
    "NdValence",
    "NfValence",
    "NValence",
    "NsUnfilled",
    "NpUnfilled",
    "NdUnfilled",
    "NfUnfilled",
    "NUnfilled",
    "GSvolume_pa",
    "GSbandgap",
    "GSmagmom",
    "SpaceGroupNumber",
)


def boxcox(y: np.ndarray, lam: float) -> np.ndarray:
    """Box-Cox transform ``(y^λ − 1)/λ`` (``log y`` at λ = 0); ``y`` must be > 0."""
    y = np.asarray(y, dtype=float)
    if np.any(y <= 0):
        raise InputError(f"Box-Cox needs positive targets; smallest is {y.min()}")
    return np.log(y) if lam == 0 else (y**lam - 1) / lam


def inverse_boxcox(z: np.ndarray, lam: float) -> np.ndarray:
    """Inverse of :func:`boxcox`."""
    z = np.asarray(z, dtype=float)
    return np.exp(z) if lam == 0 else np.power(np.maximum(lam * z + 1, 1e-300), 1 / lam)


def global_features(structures: Sequence[Structure]) -> tuple[np.ndarray, list[str]]:
    """Composition (Magpie statistics) and density features, shape=(n, 135)."""
    from matminer.featurizers.composition import ElementProperty
    from matminer.featurizers.structure import DensityFeatures

    magpie = ElementProperty.from_preset("magpie")
    density = DensityFeatures()
    rows = [[*magpie.featurize(s.composition), *density.featurize(s)] for s in structures]
    names = [*magpie.feature_labels(), *density.feature_labels()]
    return np.asarray(rows, dtype=float), names


def site_features(structure: Structure, site_index: int) -> tuple[np.ndarray, list[str]]:
    """Features of one site: its element, differences to neighbours, CN, bond length/angle."""
    from matminer.featurizers.site import AverageBondAngle, AverageBondLength
    from matminer.utils.data import MagpieData
    from pymatgen.analysis.local_env import CrystalNN

    magpie = MagpieData()
    nn = CrystalNN()
    element = Element(structure[site_index].specie.symbol)
    with warnings.catch_warnings():  # CrystalNN warns about missing oxidation states
        warnings.simplefilter("ignore")
        neighbours = nn.get_nn_info(structure, site_index)
    own = [float(magpie.get_elemental_property(element, p)) for p in SITE_PROPERTIES]
    others = [
        [
            float(magpie.get_elemental_property(Element(n["site"].specie.symbol), p))
            for p in SITE_PROPERTIES
        ]
        for n in neighbours
    ]
    diff = (
        np.mean(np.abs(np.asarray(others) - own), axis=0)
        if others
        else np.zeros(len(SITE_PROPERTIES))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        length = AverageBondLength(nn).featurize(structure, site_index)[0]
        angle = (
            AverageBondAngle(nn).featurize(structure, site_index)[0] if len(neighbours) > 1 else 0
        )
    values = [*own, *diff, float(len(neighbours)), float(length), float(angle)]
    names = [
        *(f"site {p}" for p in SITE_PROPERTIES),
        *(f"mean |Δ {p}| to neighbours" for p in SITE_PROPERTIES),
        "coordination number",
        "Avg(L) bond length",
        "Avg(θ) bond angle",
    ]
    return np.asarray(values, dtype=float), names


@dataclass
class ForestResult:
    """A fitted random forest and its held-out performance.

    Attributes
    ----------
    model : sklearn.ensemble.RandomForestRegressor
    feature_names : list of str
    importances : list of (str, float)
        Impurity importances, largest first.
    y_test, y_pred : numpy.ndarray
        Held-out targets and predictions, in the target's own units (Box-Cox undone).
    r2_test : float
    mae_test : float
    boxcox_lambda : float or None
    """

    model: Any
    feature_names: list[str]
    importances: list[tuple[str, float]]
    y_test: np.ndarray = field(repr=False)
    y_pred: np.ndarray = field(repr=False)
    r2_test: float
    mae_test: float
    boxcox_lambda: float | None


def fit_forest(
    features: np.ndarray,
    target: np.ndarray,
    feature_names: Sequence[str],
    kind: Literal["global", "local"] = "global",
    *,
    test_fraction: float = 0.1,
    seed: int = 0,
    **overrides: Any,
) -> ForestResult:
    """Fit the paper's global or local random forest (settings in :data:`FOREST_SETTINGS`).

    ``overrides`` replace any of ``n_estimators``, ``max_depth``, ``max_features``,
    ``boxcox`` (λ, or None for no transform).
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.metrics import mean_absolute_error, r2_score
    from sklearn.model_selection import train_test_split

    if kind not in FOREST_SETTINGS:
        raise InputError(f"{kind=} is not known; allowed: {', '.join(FOREST_SETTINGS)}")
    settings = FOREST_SETTINGS[kind] | overrides
    x = np.asarray(features, dtype=float)
    y = np.asarray(target, dtype=float)
    if x.ndim != 2 or len(x) != len(y) or x.shape[1] != len(feature_names):
        raise InputError(
            f"features {x.shape}, target {y.shape} and {len(feature_names)} names do not fit"
        )
    if len(y) < 10:
        raise InputError(f"{len(y)} samples are too few for a 90/10 split; need >= 10")
    lam = settings.pop("boxcox")
    x_train, x_test, y_train, y_test = train_test_split(
        np.nan_to_num(x), y, test_size=test_fraction, random_state=seed
    )
    model = RandomForestRegressor(random_state=seed, n_jobs=1, **settings)
    model.fit(x_train, boxcox(y_train, lam) if lam is not None else y_train)
    pred = model.predict(x_test)
    if lam is not None:
        pred = inverse_boxcox(pred, lam)
    order = np.argsort(model.feature_importances_)[::-1]
    return ForestResult(
        model=model,
        feature_names=list(feature_names),
        importances=[(feature_names[i], float(model.feature_importances_[i])) for i in order],
        y_test=y_test,
        y_pred=pred,
        r2_test=float(r2_score(y_test, pred)) if len(y_test) > 1 else float("nan"),
        mae_test=float(mean_absolute_error(y_test, pred)),
        boxcox_lambda=lam,
    )


def parity_png(result: ForestResult, title: str = "", dpi: int = 110) -> bytes:
    """Parity plot of held-out predictions, with the ten largest importances beside it."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.5, 3.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    lo = float(min(result.y_test.min(), result.y_pred.min()))
    hi = float(max(result.y_test.max(), result.y_pred.max()))
    ax1.plot([lo, hi], [lo, hi], color="0.6", lw=0.8)
    ax1.scatter(result.y_test, result.y_pred, s=12)
    ax1.set_xlabel("target (test)")
    ax1.set_ylabel("prediction")
    ax1.set_title(title or f"R² = {result.r2_test:.2f}, MAE = {result.mae_test:.3g}")
    top = result.importances[:10][::-1]
    ax2.barh([n for n, _ in top], [v for _, v in top])
    ax2.set_xlabel("importance")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def tables_from_docs(
    docs: Iterable[Mapping[str, Any]], max_shift_norm: float | None = 0.4
) -> dict[str, Any]:
    """Global and local training tables from finished tdph documents (with ``structure``).

    Compounds whose frequency-shift norm exceeds ``max_shift_norm`` are dropped (the
    paper's 40 % outlier filter). Returns ``{"global": (X, y, names), "local": (X, y,
    names)}`` with R_full and R_onsite as targets.
    """
    kept = [
        d
        for d in docs
        if d.get("status", "ok") == "ok"
        and d.get("structure")
        and (max_shift_norm is None or (d.get("frequency_shift_norm") or 0) <= max_shift_norm)
    ]
    if not kept:
        raise InputError("no finished tdph documents with structures to learn from")
    structures = [as_structure(d["structure"]) for d in kept]
    xg, names_g = global_features(structures)
    yg = np.array([d["r_full"] for d in kept], dtype=float)
    rows: list[np.ndarray] = []
    targets: list[float] = []
    names_l: list[str] = []
    for doc, s in zip(kept, structures, strict=True):
        for site in doc.get("r_onsite") or []:
            values, names_l = site_features(s, int(site["site_index"]))
            rows.append(values)
            targets.append(float(site["r_onsite"]))
    return {
        "global": (xg, yg, names_g),
        "local": (np.asarray(rows), np.asarray(targets), names_l),
    }


def forest_report(
    docs: Iterable[Mapping[str, Any]], out_dir: str | Any, seed: int = 0
) -> dict[str, Any]:
    """Fit both paper models on stored tdph documents; write parity PNGs and importances.

    Writes ``forest_global.png``, ``forest_local.png`` and ``forest.json`` (R², MAE, top
    importances) into ``out_dir`` and returns the JSON content. A model with fewer than 10
    samples is skipped (reported as such).
    """
    import json
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = tables_from_docs(docs)
    report: dict[str, Any] = {}
    for kind in ("global", "local"):
        x, y, names = tables[kind]
        if len(y) < 10:
            report[kind] = {"skipped": f"{len(y)} samples; at least 10 are needed"}
            continue
        result = fit_forest(x, y, names, kind, seed=seed)
        (out / f"forest_{kind}.png").write_bytes(parity_png(result, title=f"{kind} model"))
        report[kind] = {
            "n_samples": len(y),
            "r2_test": result.r2_test,
            "mae_test": result.mae_test,
            "top_importances": result.importances[:10],
        }
    (out / "forest.json").write_text(json.dumps(report, indent=2))
    return report
