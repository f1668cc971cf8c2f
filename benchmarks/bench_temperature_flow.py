"""Wall time of each stage of the finite-temperature flow (default: the quick preset).

Runs the preset into a fresh temporary store (or reads an existing one with --store and
--no-run), then sums the wall time every job recorded (tg_job metadata) by stage.

Usage: python benchmarks/bench_temperature_flow.py [--preset quick] [--store DIR] [--no-run]
       [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections import defaultdict

import yaml

from thermogap.execution import run_flow
from thermogap.flows.presets import build_preset_flow, load_preset
from thermogap.store import ResultsDB

# job-name prefixes -> stage of the method (first match wins)
STAGES = [
    ("harmonic phonons", "1 parent phonons"),
    ("displaced configurations", "2 training configurations"),
    ("configuration", "2 training configurations"),
    ("label", "3 labels"),
    ("select configurations to label", "3 labels"),
    ("labelled_config_ids", "3 labels"),
    ("mace training", "4 MLIP training"),
    ("gnn", "5 GNN training"),
    ("enumerate", "6 disorder enumeration"),
    ("relax and rank", "6 relax and rank"),
    ("select", "6 relax and rank"),
    ("0 K phonons", "7 0 K phonons"),
    ("md ", "7 MD"),
    ("0 K gap", "7 GNN gaps"),
    ("snapshot gaps", "7 GNN gaps"),
    ("finite-T phonons", "7 finite-T phonons"),
    ("electron-phonon", "7 electron-phonon"),
    ("band gap", "8 results"),
    ("study summary", "8 results"),
]


def stage_of(name: str) -> str:
    for prefix, stage in STAGES:
        if name.startswith(prefix):
            return stage
    return "other: " + re.sub(r"\s+\S*\d\S*", "", name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--store", default=None)
    parser.add_argument("--no-run", action="store_true")
    parser.add_argument("--set", dest="pairs", action="append", default=[])
    args = parser.parse_args()
    store = args.store or tempfile.mkdtemp(prefix="thermogap-bench-")
    db = ResultsDB.from_spec(store)
    if not args.no_run:
        overrides = {k: yaml.safe_load(v) for k, _, v in (p.partition("=") for p in args.pairs)}
        flow = build_preset_flow(load_preset(args.preset), overrides, db)
        start = time.perf_counter()
        summary = run_flow(flow, db)
        print(
            f"{args.preset}: {summary.n_jobs} jobs ({summary.n_ran} ran, {summary.n_reused} "
            f"reused, {summary.n_failed} failed), wall time {time.perf_counter() - start:.1f} s"
        )
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for doc in db.query("outputs", properties=["name", "metadata"]):
        info = (doc.get("metadata") or {}).get("thermogap", {})
        if "wall_time_s" in info and not info.get("reused"):
            stage = stage_of(doc["name"])
            totals[stage] += info["wall_time_s"]
            counts[stage] += 1
    print(f"{'stage':<32}{'jobs':>6}{'wall time / s':>16}")
    for stage in sorted(totals):
        print(f"{stage:<32}{counts[stage]:>6}{totals[stage]:>16.1f}")
    print(f"{'total (jobs)':<32}{sum(counts.values()):>6}{sum(totals.values()):>16.1f}")


if __name__ == "__main__":
    main()
