"""Issue 12: bad input and failed jobs end with one clear line and a non-zero exit code.

Every case goes through the real entry point :func:`thermogap.cli.main.main` (the function
the ``thermogap`` script calls), whose exit code used to be dropped.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from thermogap.cli.main import main
from thermogap.store import ResultsDB

HERE = Path(__file__).parent

PARTIAL_CIF = """data_partial
_cell_length_a 4.9
_cell_length_b 4.9
_cell_length_c 4.9
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Ag1 Ag 0.5 0.5 0.0 1.0
Ag2 Ag 0.5 0.0 0.5 1.0
Ag3 Ag 0.0 0.5 0.5 1.0
S1 S 0.5 0.5 0.5 1.0
Br1 Br 0.0 0.0 0.0 0.5
I1 I 0.0 0.0 0.0 0.5
"""


def _run(capsys, *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, [line for line in err.splitlines() if line.strip()], out


def _one_line_error(capsys, *argv: str) -> str:
    code, lines, _ = _run(capsys, *argv)
    assert code == 1, lines
    assert len(lines) == 1 and lines[0].startswith("thermogap: error:"), lines
    return lines[0]


# ---- bad inputs: rejected before any job exists, nothing written ------------------------------
@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (["supercell=abc"], "supercell"),
        (["supercell=[-2,2,2]"], "determinant -8"),
        (["supercell=[30,30,30]"], "135000 atoms; the limit is 2000"),
        (["compounds=5"], "compounds=5"),
        (["colour=blue"], "unknown setting 'colour'; allowed: compounds"),
    ],
)
def test_bad_parent_phonon_settings(capsys, tmp_path, settings, expected):
    store = tmp_path / "store"
    argv = ["run", "parent-phonons", "--store", str(store)]
    for pair in settings:
        argv += ["--set", pair]
    line = _one_line_error(capsys, *argv)
    assert expected in line
    assert not (store / "db").exists() or ResultsDB.from_spec(store).count("outputs") == 0


def test_ill_typed_dataset_setting(capsys, tmp_path):
    line = _one_line_error(
        capsys, "run", "dataset-quick", "--store", str(tmp_path / "s"), "--set", "n_per_batch=many"
    )
    assert "n_per_batch='many'" in line and "integer" in line


def test_ill_typed_nested_dataset_setting_of_the_temperature_flow(capsys, tmp_path):
    line = _one_line_error(
        capsys,
        "run",
        "quick",
        "--store",
        str(tmp_path / "s"),
        "--set",
        "dataset={n_per_batch: many}",
    )
    assert "setting dataset: setting n_per_batch='many' is invalid" in line


def test_partial_occupancy_cif_is_refused(capsys, tmp_path):
    cif = tmp_path / "disordered.cif"
    cif.write_text(PARTIAL_CIF)
    line = _one_line_error(
        capsys, "run", "parent-phonons", "--store", str(tmp_path / "s"),
        "--set", f"compounds=[{cif}]", "--set", "supercell=[1,1,1]",
    )  # fmt: skip
    assert "partial occupancies" in line and "disordered.cif" in line


def test_supercell_cap_is_adjustable(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("THERMOGAP_MAX_SUPERCELL_ATOMS", "30")
    line = _one_line_error(
        capsys,
        "run",
        "parent-phonons",
        "--store",
        str(tmp_path / "s"),
        "--set",
        "supercell=[2,2,2]",
    )
    assert "40 atoms; the limit is 30" in line


def test_unknown_query_operator(capsys, tmp_path):
    ResultsDB.from_spec(tmp_path / "s").upsert("band_gaps", [{"result_id": "a"}], key="result_id")
    line = _one_line_error(
        capsys, "query", "collection", "band_gaps", "--store", str(tmp_path / "s"),
        "--filter", '{"x": {"$foo": 1}}',
    )  # fmt: skip
    assert "$foo" in line


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mongodb://ann:s3cret@localhost:abc/db", "Port could not be cast"),
        ("mongodb://ann:s3cret@localhost:99999/db", "out of range"),
        ("http://ann:s3cret@example.org/db", "unknown store scheme"),
    ],
)
def test_malformed_uris_never_echo_the_password(capsys, uri, expected):
    line = _one_line_error(capsys, "status", "--store", uri)
    assert expected in line and "s3cret" not in line and "ann" not in line and "***@" in line


# ---- failed jobs: exit 1 and a run record marked failed ---------------------------------------
def _script(tmp_path: Path, builder: str) -> Path:
    script = tmp_path / f"{builder}.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(HERE)!r})
            from reliability_jobs import {builder} as _builder

            def make_flow(**settings):
                return _builder(**settings)
            """
        )
    )
    return script


def test_failed_job_exits_1_and_marks_the_run_failed(capsys, tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("RELIABILITY_LOG", str(log))
    store = tmp_path / "store"
    code, lines, _ = _run(
        capsys, "run", str(_script(tmp_path, "failing_flow")), "--store", str(store)
    )
    assert code == 1
    assert any("ArithmeticError" in line and "broken_step" in line for line in lines), lines
    assert "Traceback" not in "\n".join(lines)
    run = ResultsDB.from_spec(store).query_one("runs")
    assert run["status"] == "failed" and run["n_failed"] == 2  # the failed job and its child
    assert log.read_text().split() == ["good", "broken"]


def test_successful_run_exits_0_and_is_marked_completed(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RELIABILITY_LOG", str(tmp_path / "calls.log"))
    store = tmp_path / "store"
    code, lines, _ = _run(capsys, "run", str(_script(tmp_path, "blob_flow")), "--store", str(store))
    assert code == 0, lines
    run = ResultsDB.from_spec(store).query_one("runs")
    assert run["status"] == "completed" and run["n_failed"] == 0 and run["n_ran"] == 3


def test_main_returns_the_exit_code_a_command_raises(capsys, tmp_path):
    # `db verify` exits 1 on a broken store through click's Exit, not a ThermogapError
    db = ResultsDB.from_spec(tmp_path / "s")
    ref = db.blobs.put_bytes(b"abc")
    db.upsert("band_gaps", [{"result_id": "a", "blob": ref.model_dump()}], key="result_id")
    os.remove(db.blobs._path(ref.blob_id))  # type: ignore[attr-defined]
    code, _, out = _run(capsys, "db", "verify", "--store", str(tmp_path / "s"))
    assert code == 1 and "1 problems" in out
