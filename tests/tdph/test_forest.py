"""Random forests with the paper's settings on a synthetic table whose driver is known."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Structure
from scipy import stats

from thermogap.errors import InputError
from thermogap.flows.tdph import example_structures
from thermogap.tdph.forest import (
    FOREST_SETTINGS,
    boxcox,
    fit_forest,
    global_features,
    inverse_boxcox,
    parity_png,
    site_features,
    tables_from_docs,
)


def test_boxcox_matches_scipy_and_inverts() -> None:
    y = np.array([0.01, 0.05, 0.2, 0.7, 1.3])
    np.testing.assert_allclose(boxcox(y, 0.074), stats.boxcox(y, lmbda=0.074))
    np.testing.assert_allclose(inverse_boxcox(boxcox(y, 0.074), 0.074), y)
    with pytest.raises(InputError):
        boxcox(np.array([0.0, 1.0]), 0.074)


@pytest.mark.parametrize("kind", ["global", "local"])
def test_forest_finds_the_driving_feature(kind: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(300, 6))
    names = [f"f{i}" for i in range(6)]
    # skewed positive target driven by f3 only (like R_onsite)
    y = 0.02 * np.exp(4 * x[:, 3]) * rng.lognormal(sigma=0.05, size=300)
    result = fit_forest(x, y, names, kind, n_estimators=50)
    assert result.importances[0][0] == "f3"
    assert result.importances[0][1] > 0.8
    assert result.r2_test > 0.9
    assert result.boxcox_lambda == FOREST_SETTINGS[kind]["boxcox"]
    assert result.model.max_depth == FOREST_SETTINGS[kind]["max_depth"]
    # with the target shuffled there is nothing to learn: the verdict flips
    noise = fit_forest(x, rng.permutation(y), names, kind, n_estimators=50)
    assert noise.r2_test < 0.3
    assert parity_png(result)[:4] == b"\x89PNG"


def test_features_of_real_cells() -> None:
    structures = [Structure.from_file(p) for p in example_structures(["SrTiO3", "NaCl"])]
    x, names = global_features(structures)
    assert x.shape == (2, 135) and len(names) == 135
    assert x[0, names.index("density")] == pytest.approx(structures[0].density, rel=1e-6)
    values, site_names = site_features(structures[0], 1)  # Ti in SrTiO3: TiO6 octahedron
    by_name = dict(zip(site_names, values, strict=True))
    assert by_name["coordination number"] == 6
    assert by_name["Avg(L) bond length"] == pytest.approx(3.905 / 2, rel=1e-3)
    assert by_name["site Number"] == 22
    doc = {
        "status": "ok",
        "structure": structures[1].as_dict(),
        "r_full": 0.1,
        "frequency_shift_norm": 0.05,
        "r_onsite": [{"site_index": 0, "r_onsite": 0.2}, {"site_index": 1, "r_onsite": 0.1}],
    }
    tables = tables_from_docs([doc, doc | {"frequency_shift_norm": 0.9}])
    assert tables["global"][0].shape == (1, 135)  # the 90 % shift is filtered out
    assert tables["local"][0].shape[0] == 2
