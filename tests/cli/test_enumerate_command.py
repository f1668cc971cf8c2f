"""``thermogap enumerate``: JSON output against known counts, files, and clear errors."""

from __future__ import annotations

import json
import math

from pymatgen.io.cif import CifWriter

from thermogap.cli.main import main
from thermogap.structures.prototypes import antiperovskite

# 2-colourings of the 8 vertices of a cube under its full symmetry group (order 48), which
# is the group the Pm-3m space group induces on the halides of a 2x2x2 supercell
CUBE_COLOURINGS = [1, 1, 3, 3, 6, 3, 3, 1, 1]


def _run_json(capsys, *args: str) -> list[dict]:
    assert main(["enumerate", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_prototype_name_gives_every_n_with_multiplicities(capsys) -> None:
    rows = _run_json(capsys, "Ag3SBr", "--site", "Br", "--species", "Br", "I")
    assert [row["n_substituted"] for row in rows] == list(range(9))
    assert [row["n_inequivalent"] for row in rows] == CUBE_COLOURINGS
    for row in rows:
        assert row["sampled"] is False
        assert len(row["multiplicities"]) == row["n_inequivalent"]
        assert sum(row["multiplicities"]) == math.comb(8, row["n_substituted"])
        assert row["x"] == (8 - row["n_substituted"]) / 8


def test_cif_file_and_sampling_flags(tmp_path, capsys) -> None:
    path = tmp_path / "Ag3SI.cif"
    CifWriter(antiperovskite(4.98, x="I")).write_file(path)
    rows = _run_json(
        capsys,
        str(path),
        "--site",
        "I",
        "--species",
        "Br",
        "I",
        "--max-listed",
        "3",
        "--n-samples",
        "2",
        "--seed",
        "5",
        "--configurations",
    )
    assert [row["n_inequivalent"] for row in rows] == CUBE_COLOURINGS
    middle = rows[4]  # 6 classes > max_listed = 3: a sample of 2
    assert middle["sampled"] is True and middle["seed"] == 5
    assert "multiplicities" not in middle and len(middle["configurations"]) == 2
    assert all(len(c["substituted_sites"]) == 4 for c in middle["configurations"])


def test_bad_site_is_one_line_and_nonzero_exit(capsys) -> None:
    assert main(["enumerate", "Ag3SBr", "--site", "Cl", "--species", "Br", "I"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "site='Cl'" in err[0] and "present" in err[0]
