"""A jobflow-remote runner in a process of its own, for the kill test.

``python runner_process.py FOLDER PROJECT TIMEOUT_S FLOW_UUID`` drops the locks a killed
predecessor left, prints which jobs of the flow it finds finished (it leaves them alone),
then runs the project's runner until no job can advance (or the timeout).
"""

import sys

from thermogap.execution import remote


def main() -> None:
    folder, project, timeout_s, flow_uuid = sys.argv[1:5]
    with remote.projects_folder(folder):
        jobs, flows = remote.release_stale_locks(project)
        print(f"runner started; released {jobs} job and {flows} flow locks", flush=True)
        states = remote.flow_job_states(flow_uuid, project)
        done = sorted(uuid for uuid, state in states.items() if state == "COMPLETED")
        print(f"skipping {len(done)} finished jobs: {' '.join(done)}", flush=True)
        remote.run_until_done(project, timeout_s=float(timeout_s))
        print("runner done", flush=True)


if __name__ == "__main__":
    main()
