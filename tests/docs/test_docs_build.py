"""The documentation site builds with warnings as errors, and it covers what the issue asks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_builds_strict(tmp_path):
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    site = tmp_path / "site"
    # the API reference was generated from the docstrings (a numpy Parameters section rendered)
    api = (site / "api" / "results" / "index.html").read_text()
    assert "band_gaps_frame" in api and "Parameters" in api
    for page in ("install", "commands", "physics", "cluster", "database", "exports"):
        assert (site / page / "index.html").is_file(), page


def test_nav_names_every_page_and_the_tutorials():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text().replace("!!python", "#"))

    def pages(nav):
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            if isinstance(value, list):
                yield from pages(value)
            else:
                yield value

    listed = set(pages(config["nav"]))
    on_disk = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    assert on_disk <= listed, f"pages missing from the nav: {sorted(on_disk - listed)}"
    assert {"tutorials/temperature.md", "tutorials/dataset.md", "tdph.md", "optics.md"} <= listed
