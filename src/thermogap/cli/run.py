"""``thermogap demo`` and ``thermogap run``: build a flow from a preset or script and run it."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import click
import yaml
from jobflow import Flow
from pydantic import BaseModel

from thermogap.cli.common import echo_json, json_option, open_db, store_option
from thermogap.errors import ConfigError, InputError
from thermogap.execution import RunSummary, run_flow
from thermogap.execution.progress import flow_progress
from thermogap.flows.presets import (
    apply_overrides,
    build_preset_flow,
    is_workflow_file,
    load_preset,
)

plots_option = click.option(
    "--plots",
    "plots_dir",
    default="thermogap-plots",
    show_default=True,
    metavar="DIR",
    help="Where to write the PNG figures of the run.",
)


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
    return make_flow(**apply_overrides({}, overrides)), list(namespace.get("LEVELS", []))


def _flow_output(summary: RunSummary) -> Any:
    output = summary.outputs.get("flow")
    return output.model_dump() if isinstance(output, BaseModel) else output


def _save_plots(summary: RunSummary, db: Any, plots_dir: Path) -> list[str]:
    """Write the PNG figures a flow's output refers to into ``plots_dir``."""
    output = _flow_output(summary)
    plots = output.get("plots") if isinstance(output, dict) else None
    if not plots:
        return []
    plots_dir.mkdir(parents=True, exist_ok=True)
    return [str(db.blobs.get_file(ref, plots_dir / f"{name}.png")) for name, ref in plots.items()]


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
    output = _flow_output(summary)
    for row in output.get("table", []) if isinstance(output, dict) else []:
        click.echo(
            f"  x={row['x']:.3f}  T={row['temperature_k']:6.1f} K  "
            f"Eg={row['band_gap_ev']:.3f} ± {row['stderr_ev']:.3f} eV  "
            f"ΔEg={row['delta_gap_ev']:+.3f} eV"
            + (
                f"  reference ΔEg={row['reference_delta_gap_ev']:+.3f} eV"
                f"  GNN error {row['gnn_reference_mae_ev']:.3f} eV"
                if row.get("reference_delta_gap_ev") is not None
                else ""
            )
        )
    check = output.get("self_check") if isinstance(output, dict) else None
    if check:
        click.echo(check["line"])


def _store_exists(db: Any) -> bool:
    return db.config.backend != "monty" or (db.config.path is not None and db.config.path.is_dir())


def execute(
    target: str,
    store: str | None,
    overrides: dict[str, Any],
    as_json: bool,
    plots_dir: str = "thermogap-plots",
    mode: dict[str, Any] | None = None,
) -> int:
    """Build the flow named by ``target`` (preset or script), run it, report; return exit code.

    ``mode`` chooses something other than a local run: ``{"dry_run": True}`` prints the job
    graph only; ``{"submit": PROJECT, "worker": ..., "projects_folder": ...}`` queues the flow
    in a jobflow-remote project.
    """
    mode = mode or {}
    preset = None if is_workflow_file(target) else load_preset(target)
    db: Any = open_db(store)  # opening writes nothing; the flow is validated before anything runs
    if mode.get("dry_run") and not _store_exists(db):
        db = None  # a dry run never creates a store; model ids are checked when one exists
    if preset is None:
        flow, levels = _flow_from_script(Path(target), overrides)
        run_info: dict[str, Any] = {"workflow": target, "settings": apply_overrides({}, overrides)}
    else:
        flow, levels = build_preset_flow(preset, overrides, db), preset.levels
        settings = apply_overrides(preset.settings, overrides)
        run_info = {
            "preset": preset.name,
            "settings": settings,
            "overrides": apply_overrides({}, overrides),
        }
    if mode.get("dry_run") or mode.get("submit"):
        from thermogap.cli.plan import print_dry_run, submit

        if db is not None:
            db.close()
        if mode.get("dry_run"):  # with --submit too: look, do not queue
            print_dry_run(flow, target, run_info["settings"], as_json)
        else:
            submit(flow, mode["submit"], mode.get("worker"), mode.get("projects_folder"),
                   target, as_json)  # fmt: skip
        return 0
    with flow_progress([job.uuid for job, _ in flow.iterflow()], False if as_json else None):
        summary = run_flow(flow, db, run_info=run_info | {"levels_of_theory": levels})
    saved = _save_plots(summary, db, Path(plots_dir))
    db.close()
    _report(summary, levels, as_json, target)
    if saved and not as_json:
        click.echo(f"figures: {', '.join(saved)}")
    return 1 if summary.n_failed else 0


@click.command("run")
@click.argument("target", metavar="WORKFLOW_OR_PRESET")
@store_option
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help="Override a setting.")
@plots_option
@click.option("--dry-run", is_flag=True, help="Print the job graph and counts; run nothing.")
@click.option(
    "--submit",
    "project",
    default=None,
    metavar="PROJECT",
    help="Queue the flow in this jobflow-remote project instead of running it.",
)
@click.option("--worker", default=None, help="jobflow-remote worker (with --submit).")
@click.option(
    "--projects-folder",
    default=None,
    metavar="DIR",
    help="jobflow-remote projects folder (default $JFREMOTE_PROJECTS_FOLDER).",
)
@json_option
def run_command(
    target: str,
    store: str | None,
    pairs: tuple[str, ...],
    plots_dir: str,
    dry_run: bool,
    project: str | None,
    worker: str | None,
    projects_folder: str | None,
    as_json: bool,
) -> None:
    """Run a preset ('thermogap presets' lists them) or a workflow script (workflows/*.py).

    --set KEY=VALUE overrides a setting (VALUE in YAML syntax); a dotted KEY such as
    md.total_time_ps edits one nested setting and keeps the others.
    """
    mode = {"dry_run": dry_run, "submit": project, "worker": worker,
            "projects_folder": projects_folder}  # fmt: skip
    code = execute(target, store, _parse_overrides(pairs), as_json, plots_dir, mode)
    if code:
        raise click.exceptions.Exit(code)


@click.command("demo")
@store_option
@click.option("--preset", default="quick", show_default=True, help="Preset to run.")
@plots_option
@json_option
def demo_command(store: str | None, preset: str, plots_dir: str, as_json: bool) -> None:
    """Run the main job end to end on the embedded engine (the quick preset)."""
    code = execute(preset, store, {}, as_json, plots_dir)
    if code:
        raise click.exceptions.Exit(code)
