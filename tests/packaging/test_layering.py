"""The package layers import downwards only: checked on the import statements of the sources."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "thermogap"

# (package that must stay below, package it must never import)
FORBIDDEN = [
    ("phonons", "thermogap.sampling"),
    ("schemas", "thermogap.store"),
    ("schemas", "thermogap.jobs"),
    ("schemas", "thermogap.flows"),
]


def imported_modules(source: str, module: str) -> set[str]:
    """Return every module named by an import statement in ``source`` (function-local too).

    ``module`` is the dotted name of the file, used to resolve relative imports.
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def violations(package: str, forbidden: str) -> list[str]:
    """Return ``file: module`` for each import of ``forbidden`` inside ``thermogap.<package>``."""
    found = []
    for path in sorted((SRC / package).rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        module = ".".join(rel.parts)
        for name in imported_modules(path.read_text(encoding="utf-8"), module):
            if name == forbidden or name.startswith(forbidden + "."):
                found.append(f"{path.relative_to(SRC)}: {name}")
    return found


@pytest.mark.parametrize(("package", "forbidden"), FORBIDDEN)
def test_lower_layer_never_imports_higher(package: str, forbidden: str) -> None:
    assert (SRC / package).is_dir()
    assert violations(package, forbidden) == []


def test_checker_sees_plain_relative_and_local_imports() -> None:
    source = (
        "import thermogap.sampling.batch\n"
        "from ..sampling import amplitudes\n"
        "def f():\n"
        "    from thermogap.store.blobs import BlobRef\n"
    )
    names = imported_modules(source, "thermogap.phonons.x")
    assert "thermogap.sampling.batch" in names
    assert "thermogap.sampling.amplitudes" in names
    assert "thermogap.store.blobs" in names


def test_mode_variances_has_one_home() -> None:
    from thermogap.phonons.thermal import mode_variances
    from thermogap.sampling import amplitudes

    assert amplitudes.mode_variances is mode_variances


_DB_METHODS = {"query", "query_one", "upsert", "count", "distinct", "collection", "_raw"}
# edited concurrently by the batched-MD work; switch them to the constants when that lands
_PENDING = {"md/langevin.py", "jobs/md.py"}


def literal_collection_names(source: str, collections: set[str]) -> list[str]:
    """Return the collection names passed as string literals to a database method."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _DB_METHODS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in collections
        ):
            found.append(node.args[0].value)
    return found


def test_collection_names_come_from_one_module() -> None:
    from thermogap.store import collections as names
    from thermogap.store.database import COLLECTIONS

    assert COLLECTIONS is names.COLLECTIONS
    assert set(COLLECTIONS) >= {"band_gaps", "phonons", "labels", "models", "configurations"}
    assert literal_collection_names('db.query("labels", {})', set(COLLECTIONS)) == ["labels"]
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in _PENDING or rel == "store/collections.py":
            continue
        hits = literal_collection_names(path.read_text(encoding="utf-8"), set(COLLECTIONS))
        if hits:
            offenders[rel] = hits
    assert offenders == {}


def test_importing_a_lower_layer_does_not_load_the_higher_one() -> None:
    """Also transitively: a fresh interpreter imports the lower package and lists what loaded."""
    import subprocess
    import sys

    script = (
        "import sys, importlib\n"
        "importlib.import_module(sys.argv[1])\n"
        "print(sorted(m for m in sys.modules if m.startswith(sys.argv[2])))\n"
    )
    for lower, higher in (
        ("thermogap.phonons", "thermogap.sampling"),
        ("thermogap.schemas.band_gaps", "thermogap.store"),
        ("thermogap.schemas.gnn", "thermogap.store"),
        ("thermogap.schemas.mlip", "thermogap.store"),
    ):
        out = subprocess.run(
            [sys.executable, "-c", script, lower, higher],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == "[]", (lower, out.stdout)
