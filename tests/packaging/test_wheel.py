"""The built wheel works on its own: presets and levels inside it, the CLI from its entry point.

The wheel is built from a copy of the source (``pip wheel --no-deps``, no build isolation, so
no network) and installed with ``--no-deps`` into a fresh virtual environment whose only other
entry on ``sys.path`` is the site-packages of the running environment (for the dependencies,
read through a plain path entry: its ``.pth`` files, such as an editable install of
thermogap, are not processed). Everything then runs from an empty working directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(args, cwd, **kwargs):
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "THERMOGAP_CONFIG_DIR"}}
    env |= {"THERMOGAP_STORE": str(Path(cwd) / "store"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
        **kwargs,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", source / "src", ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    dist = tmp / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", dist, source], cwd=tmp)  # fmt: skip
    (wheel,) = dist.glob("thermogap-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(_run([venv / "bin" / "python", "-c", where], cwd=tmp).strip())
    (purelib / "_shared_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
          "--no-deps", "--no-index", wheel], cwd=tmp)  # fmt: skip
    work = tmp / "work"
    (work / "configs" / "unrelated").mkdir(parents=True)  # must not hide the built-ins
    return wheel, venv, work


def test_wheel_ships_presets_and_levels(installed):
    wheel, _, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("thermogap/data/")}
    source = {p.name for p in (ROOT / "src" / "thermogap" / "data").rglob("*.yaml")}
    assert source <= shipped
    assert {"quick.yaml", "paper.yaml", "pbesol.yaml", "hsesol.yaml"} <= shipped


def test_installed_package_runs_from_the_wheel_not_the_source(installed):
    _, venv, work = installed
    out = _run(
        [venv / "bin" / "python", "-c",
         "import thermogap, thermogap.configs as c, thermogap.levels as lv;"
         "print(thermogap.__file__); print(c.named_config_paths('presets')['quick']);"
         "print(lv.load_level('hsesol').name)"],
        cwd=work,
    )  # fmt: skip
    module, quick, level = out.split()
    assert Path(module).is_relative_to(venv) and Path(quick).is_relative_to(venv)
    assert level == "hsesol"


def test_cli_entry_point_lists_presets_and_plans_the_demo(installed):
    _, venv, work = installed
    thermogap = venv / "bin" / "thermogap"
    presets = _run([thermogap, "presets"], cwd=work)
    assert "quick  [flow: temperature]" in presets and "paper" in presets
    plan = _run([thermogap, "run", "quick", "--dry-run"], cwd=work)
    assert "dry run: nothing was run or stored" in plan and "study summary" in plan
    assert not (work / "store").exists()
    ran = _run([thermogap, "run", "labels-chgnet-gfn1-xtb", "--set", "limit=1"], cwd=work)
    assert "0 failed" in ran
