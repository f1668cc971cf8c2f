"""``thermogap demo`` and ``thermogap run``: build a flow from a preset or script and run it."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import click
import yaml
from jobflow import Flow

from thermogap.cli.common import echo_json, json_option, open_db, store_option
from thermogap.errors import ConfigError, InputError
from thermogap.execution import RunSummary, run_flow
from thermogap.flows.presets import build_preset_flow, is_workflow_file, load_preset


def _parse_overrides(pairs: tuple[str, ...]) -> dict[str, Any]:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--set {pair!r} must look like KEY=VALUE (VALUE in YAML syntax)")
        try:
            overrides[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise InputError(f"--set {pair!r}: VALUE is not valid YAML") from None
    return overrides


def _flow_from_script(path: Path, overrides: dict[str, Any]) -> tuple[Flow, list[str]]:
    if not path.is_file():
        raise ConfigError(f"workflow script {str(path)!r} does not exist")
    namespace = runpy.run_path(str(path), run_name="thermogap_workflow")
    make_flow = namespace.get("make_flow")
    if not callable(make_flow):
        raise ConfigError(f"workflow script {str(path)!r} must define make_flow(**settings)")
    return make_flow(**overrides), list(namespace.get("LEVELS", []))


def _report(summary: RunSummary, levels: list[str], as_json: bool, label: str) -> None:
    for error in summary.errors:
        click.echo(f"thermogap: job failed: {error}", err=True)
    payload = summary.model_dump() | {"levels_of_theory": levels, "workflow": label}
    if as_json:
        echo_json(payload)
        return
    click.echo(
        f"{label}: {summary.n_jobs} jobs ({summary.n_ran} ran, {summary.n_reused} reused, "
        f"{summary.n_failed} failed) in {summary.wall_time_s:.1f} s; results in {summary.store}"
    )
    if levels:
        click.echo(f"levels of theory: {', '.join(levels)}")


def execute(target: str, store: str | None, overrides: dict[str, Any], as_json: bool) -> int:
    """Build the flow named by ``target`` (preset or script), run it, report; return exit code."""
    preset = None if is_workflow_file(target) else load_preset(target)
    db = open_db(store)  # opening writes nothing; the flow is validated before anything runs
    if preset is None:
        flow, levels = _flow_from_script(Path(target), overrides)
    else:
        flow, levels = build_preset_flow(preset, overrides, db), preset.levels
    summary = run_flow(flow, db)
    db.close()
    _report(summary, levels, as_json, target)
    return 1 if summary.n_failed else 0


@click.command("run")
@click.argument("target", metavar="WORKFLOW_OR_PRESET")
@store_option
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help="Override a setting.")
@json_option
def run_command(target: str, store: str | None, pairs: tuple[str, ...], as_json: bool) -> None:
    """Run a preset (configs/presets/NAME.yaml) or a workflow script (workflows/*.py)."""
    code = execute(target, store, _parse_overrides(pairs), as_json)
    if code:
        raise click.exceptions.Exit(code)


@click.command("demo")
@store_option
@click.option("--preset", default="quick", show_default=True, help="Preset to run.")
@json_option
def demo_command(store: str | None, preset: str, as_json: bool) -> None:
    """Run the main job end to end on the embedded engine (the quick preset)."""
    code = execute(preset, store, {}, as_json)
    if code:
        raise click.exceptions.Exit(code)
