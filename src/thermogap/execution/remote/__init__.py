"""Run thermogap flows with jobflow-remote: project configs, submission, waiting.

One concept per module: :mod:`~thermogap.execution.remote.project` (project configuration),
:mod:`~thermogap.execution.remote.folders` (the projects-folder swap),
:mod:`~thermogap.execution.remote.submit` (submission, the runner, waiting) and
:mod:`~thermogap.execution.remote.workers` (an end-to-end worker check); every public name is
also importable from this package.

jobflow-remote keeps a queue of jobs in MongoDB and a *runner* process moves each job
through its states (READY → CHECKED_OUT → UPLOADED → SUBMITTED → RUNNING →
RUN_FINISHED → DOWNLOADED → COMPLETED), submitting it to a *worker* (the local
machine with ``scheduler_type: shell``, or a cluster through SLURM/PBS via qtoolkit).
On the worker a job writes its jobflow output into a *file* job store in its run
directory; the runner copies that into the real job store when the job has finished.

This package writes a project configuration whose job store *is* a thermogap
:class:`~thermogap.store.ResultsDB` (same database, jobflow outputs in its
``outputs`` collection, large outputs in GridFS), and whose queue lives in the same
database in collections prefixed ``jfr_``. thermogap jobs take their inputs by reference and
return their documents (large bytes in the ``data`` store), so a worker needs no route to the
database and no thermogap setting: the runner resolves the inputs and uploads the outputs,
and ``thermogap build`` makes the derived collections afterwards.

jobflow-remote reads its project files from ``$JFREMOTE_PROJECTS_FOLDER`` (default
``~/.jfremote``) when it is first imported. :func:`projects_folder` points it at another
folder for the duration of a ``with`` block and restores the previous setting after.

Ready-made YAML templates (SLURM worker, local worker, job store) are in
``configs/jobflow-remote/`` of the source tree.

Examples
--------
On one machine, with ``thermogap db start --port 27017`` running::

    from thermogap.execution import remote

    project = remote.build_project_config(
        "thermogap", "mongodb://127.0.0.1:27017/thermogap", work_dir="/scratch/tg"
    )
    remote.write_project_config(project, "~/.jfremote")
    with remote.projects_folder("~/.jfremote"):
        flow = remote.worker_check_flow()
        remote.submit_flow(flow, project="thermogap")
        remote.run_until_done("thermogap", timeout_s=600, flow_uuid=flow.uuid)
"""

from thermogap.execution.remote.folders import projects_folder
from thermogap.execution.remote.project import (
    DATA_COLLECTION_SUFFIX,
    FAST_RUNNER_OPTIONS,
    QUEUE_COLLECTIONS,
    build_project_config,
    environment_activation,
    local_worker_config,
    write_project_config,
)
from thermogap.execution.remote.submit import (
    TERMINAL_STATES,
    SubmittedFlow,
    flow_job_states,
    initialize_queue,
    release_stale_locks,
    run_until_done,
    submit_flow,
    wait_for_flow,
)
from thermogap.execution.remote.workers import (
    read_probe,
    read_probe_array,
    worker_check_flow,
    write_probe,
    write_probe_array,
)

__all__ = [
    "DATA_COLLECTION_SUFFIX",
    "SubmittedFlow",
    "FAST_RUNNER_OPTIONS",
    "QUEUE_COLLECTIONS",
    "TERMINAL_STATES",
    "build_project_config",
    "environment_activation",
    "flow_job_states",
    "initialize_queue",
    "local_worker_config",
    "projects_folder",
    "release_stale_locks",
    "read_probe",
    "read_probe_array",
    "run_until_done",
    "submit_flow",
    "wait_for_flow",
    "worker_check_flow",
    "write_probe",
    "write_probe_array",
    "write_project_config",
]
