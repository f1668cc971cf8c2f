"""What ``thermogap run --dry-run`` prints and how ``thermogap run --submit`` queues a flow."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import click
from jobflow import Flow

from thermogap.cli.common import echo_json


def describe_flow(flow: Flow) -> dict[str, Any]:
    """Return the job graph of ``flow``: jobs in execution order, their parents, counts by name.

    Jobs that a running job adds to the flow (dynamic jobs) are not known before it runs and
    are not counted.
    """
    names: dict[str, str] = {}
    jobs = []
    for job, parents in flow.iterflow():
        names.setdefault(job.uuid, job.name)
        jobs.append({"name": job.name, "uuid": job.uuid, "parents": list(parents)})
    for job in jobs:
        job["parent_names"] = [names.get(uid, uid[:8]) for uid in job["parents"]]
    counts = Counter(job["name"] for job in jobs)
    return {
        "flow": flow.name,
        "flow_uuid": flow.uuid,
        "n_jobs": len(jobs),
        "counts": dict(sorted(counts.items())),
        "jobs": jobs,
    }


def print_dry_run(flow: Flow, label: str, settings: dict[str, Any], as_json: bool) -> None:
    """Print the job graph and the job counts of ``flow`` without running anything."""
    plan = describe_flow(flow)
    if as_json:
        echo_json(plan | {"workflow": label, "settings": settings})
        return
    click.echo(f"{label}: {plan['n_jobs']} jobs (dry run: nothing was run or stored)")
    for k, job in enumerate(plan["jobs"], start=1):
        after = f"  <- {', '.join(job['parent_names'])}" if job["parent_names"] else ""
        click.echo(f"  {k:>4}. {job['name']} [{job['uuid'][:8]}]{after}")
    click.echo("jobs by name:")
    for name, count in plan["counts"].items():
        click.echo(f"  {count:>5}  {name}")
    click.echo("(jobs that running jobs add to the flow are not counted)")


def submit(
    flow: Flow, project: str, worker: str | None, folder: str | None, label: str, as_json: bool
) -> None:
    """Queue ``flow`` in the jobflow-remote project ``project``; print what was queued."""
    from contextlib import nullcontext

    from thermogap.execution import remote

    context = remote.projects_folder(Path(folder)) if folder else nullcontext()
    with context:
        db_ids = remote.submit_flow(flow, project=project, worker=worker)
    report = {
        "workflow": label,
        "project": project,
        "flow_uuid": flow.uuid,
        "n_jobs": len(db_ids),
        "db_ids": db_ids,
        "n_reused": db_ids.reuse.n_reused,
        "reused": [r.model_dump() for r in db_ids.reuse.reused],
    }
    if as_json:
        echo_json(report)
        return
    click.echo(
        f"{label}: submitted {len(db_ids)} jobs of flow {flow.uuid} to jobflow-remote "
        f"project {project!r}; {db_ids.reuse.message()}"
    )
    click.echo(f"follow it with: jf -p {project} job list -fid {flow.uuid}")
