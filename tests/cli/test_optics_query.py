"""``thermogap query optics`` reads optics job outputs from the job store."""

from __future__ import annotations

import base64
import json

from click.testing import CliRunner

from thermogap.cli.main import cli
from thermogap.schemas.optics import OpticsResultDoc
from thermogap.store import ResultsDB

PNG = b"\x89PNG\r\n\x1a\nfake"


def _store_result(path):
    doc = OpticsResultDoc(
        formula="Si", n_atoms=64, sampling_method="md", temperatures_k=[200.0, 300.0],
        tauc_gap_ev=[1.10, 1.08], tauc_gap_stderr_ev=[0.01, 0.01], band_gap_ev=[1.1, 1.09],
        slope_ev_per_k=-2.0e-4, experiment_slope_ev_per_k=-2.4e-4, slope_range_k=(200.0, 300.0),
        figures_png_base64={"tauc": base64.b64encode(PNG).decode()},
    )  # fmt: skip
    db = ResultsDB.from_spec(path)
    db.jobstore().docs_store.update(
        [{"uuid": "abcdef12-0000", "index": 1, "name": "optics summary",
          "output": json.loads(doc.model_dump_json())}],
        key=["uuid", "index"],
    )  # fmt: skip
    db.close()


def test_query_optics_lists_gaps_and_writes_figures(tmp_path):
    store = str(tmp_path / "store")
    _store_result(store)
    runner = CliRunner()
    out = runner.invoke(cli, ["query", "optics", "--store", store, "--formula", "Si"])
    assert out.exit_code == 0, out.output
    assert "300 K: 1.080" in out.output and "Tauc -2.00, mesh gap n/a, exp. -2.40" in out.output
    figures = tmp_path / "figs"
    out = runner.invoke(
        cli, ["query", "optics", "--store", store, "--figures", str(figures), "--json"]
    )
    assert out.exit_code == 0, out.output
    assert (figures / "optics-abcdef12-tauc.png").read_bytes() == PNG
    empty = runner.invoke(cli, ["query", "optics", "--store", store, "--formula", "GaAs"])
    assert "no optics results" in empty.output
    bad = runner.invoke(cli, ["query", "optics", "--store", store, "--temperature", "-1"])
    assert bad.exit_code != 0
