"""`thermogap query tdph` on the job store's outputs, and the trend figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from thermogap.cli.query import command as query_command
from thermogap.errors import InputError
from thermogap.schemas.tdph import OnsiteRatioDoc, TdphDoc
from thermogap.store import ResultsDB
from thermogap.tdph.figures import mean_by_element, mean_by_spacegroup, trends_png
from thermogap.tdph.results import tdph_criteria


def _doc(
    cid: str, formula: str, sg: int, r_sites: dict[str, float], shift: float, status: str = "ok"
) -> TdphDoc:
    return TdphDoc(
        compound_id=cid,
        formula=formula,
        spacegroup_number=sg,
        temperature_k=300.0,
        status=status,
        failure_reason=None if status == "ok" else "CalculationError: boom",
        r_full=0.1,
        frequency_shift_norm=shift,
        r_onsite=[
            OnsiteRatioDoc(
                site_index=i,
                element=el,
                wyckoff="a",
                multiplicity=1,
                trace_orig=1.0,
                trace_new=1.0 + r,
                r_onsite=r,
            )
            for i, (el, r) in enumerate(r_sites.items())
        ],
        r_onsite_max=max(r_sites.values()) if r_sites else None,
        band_labels=["G", "X"],
        band_distances=[0.0, 0.5],
        band_segment_ends=[[0, 1]],
        bands_harmonic_thz=[[0.0, 1.0], [2.0, 3.0]],
        bands_renormalised_thz=[[0.0, 1.2], [2.1, 3.3]],
    )


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    docs = [
        _doc("SrTiO3", "SrTiO3", 221, {"Sr": 0.05, "Ti": 0.4, "O": 0.3}, 0.2),
        _doc("NaCl", "NaCl", 225, {"Na": 0.02, "Cl": 0.01}, 0.03),
        _doc("CsPbBr3", "CsPbBr3", 221, {"Cs": 0.6, "Pb": 0.1, "Br": 0.2}, 0.4),
        _doc("Bad", "", 0, {}, 0.0, status="failed"),
    ]
    path = str(tmp_path / "db")
    db = ResultsDB.from_spec(path)
    records = [
        {
            "uuid": f"u{i}",
            "index": 1,
            "name": "tdph renormalise",
            "output": json.loads(d.model_dump_json()),
        }
        for i, d in enumerate(docs)
    ]
    records.append(
        {
            "uuid": "other",
            "index": 1,
            "name": "band gap",
            "output": {"band_gap_ev": 1.0, "r_onsite_max": 5.0},
        }
    )
    db.jobstore().docs_store.update(records, key=["uuid", "index"])
    db.close()
    return path


def test_query_by_r_onsite(db_path: str, tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(
        query_command, ["tdph", "--store", db_path, "--min-r-onsite", "0.35", "--json"]
    )
    assert out.exit_code == 0, out.output
    found = json.loads(out.output)
    assert [d["compound_id"] for d in found] == ["CsPbBr3", "SrTiO3"]  # strongest first
    out = runner.invoke(
        query_command, ["tdph", "--store", db_path, "--max-r-onsite", "0.1", "--json"]
    )
    assert [d["compound_id"] for d in json.loads(out.output)] == ["NaCl"]
    out = runner.invoke(query_command, ["tdph", "--store", db_path, "--failed", "--json"])
    assert [d["failure_reason"] for d in json.loads(out.output)] == ["CalculationError: boom"]
    plots = tmp_path / "plots"
    out = runner.invoke(query_command, ["tdph", "--store", db_path, "--plots", str(plots)])
    assert out.exit_code == 0, out.output
    assert (plots / "tdph_trends.png").read_bytes()[:4] == b"\x89PNG"
    assert len(list(plots.glob("tdph_*_300K.png"))) == 3


def test_trend_tables_and_criteria() -> None:
    docs = [
        _doc("A", "A", 221, {"Cs": 0.6, "O": 0.2}, 0.4),
        _doc("B", "B", 221, {"O": 0.4}, 0.2),
        _doc("C", "C", 225, {"Na": 0.1}, 0.05),
    ]
    assert mean_by_element(docs) == pytest.approx({"Cs": 0.6, "Na": 0.1, "O": 0.3})
    assert mean_by_spacegroup(docs) == pytest.approx({221: 0.3, 225: 0.05})
    assert trends_png(docs)[:4] == b"\x89PNG"
    with pytest.raises(InputError):
        tdph_criteria(min_r_onsite=-1.0)


def test_forest_option_fits_on_stored_docs(tmp_path: Path) -> None:
    from pymatgen.core import Structure

    from thermogap.flows.tdph import TDPH_EXAMPLES, example_structures

    rng = np.random.default_rng(0)
    docs = []
    for i in range(12):  # shipped cells, slightly strained, with made-up metrics
        name = TDPH_EXAMPLES[i % len(TDPH_EXAMPLES)]
        s = Structure.from_file(example_structures([name])[0])
        s.scale_lattice(s.volume * (1 + 0.02 * i))
        d = _doc(
            f"{name}-{i}",
            s.composition.reduced_formula,
            221,
            {site.specie.symbol: float(rng.uniform(0.01, 0.5)) for site in s},
            0.1,
        )
        d.structure = s.as_dict()
        docs.append(d)
    path = str(tmp_path / "db")
    db = ResultsDB.from_spec(path)
    db.jobstore().docs_store.update(
        [
            {"uuid": f"f{i}", "index": 1, "output": json.loads(d.model_dump_json())}
            for i, d in enumerate(docs)
        ],
        key=["uuid", "index"],
    )
    db.close()
    out = CliRunner().invoke(
        query_command, ["tdph", "--store", path, "--forest", str(tmp_path / "rf"), "--json"]
    )
    assert out.exit_code == 0, out.output
    report = json.loads((tmp_path / "rf" / "forest.json").read_text())
    assert report["global"]["n_samples"] == 12
    assert (tmp_path / "rf" / "forest_global.png").read_bytes()[:4] == b"\x89PNG"
    assert "structure" not in json.loads(out.stdout)[0]


def test_rerun_copies_are_listed_once() -> None:
    from thermogap.tdph.results import unique_results

    out = {"compound_id": "A", "temperature_k": 300.0, "calculator": "chgnet", "r_full": 0.1}
    records = [
        {"completed_at": "2026-01-01", "output": out},
        {"completed_at": "2026-01-02", "output": out | {"r_full": 0.2}},
        {"completed_at": "2026-01-01", "output": out | {"temperature_k": 600.0}},
    ]
    unique = unique_results(records)
    assert [r["output"]["r_full"] for r in unique] == [0.2, 0.1]
