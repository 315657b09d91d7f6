"""`mmei submit` and `mmei jobs`: the Ray Jobs API, not a scheduler of our own.

    mmei submit [--address URL] [--wait] -- mmei train --data /shared/features --output /shared/runs/a
    mmei jobs list|status|logs|stop [JOB_ID] [--address URL]

A submitted verb runs exactly as it would locally: its `ray.init()` joins the cluster
the job runs on. The job id is printed first; `--wait` streams the logs and exits 0
only if the job SUCCEEDED. Ctrl-C while waiting leaves the job running (stop it with
`mmei jobs stop ID`), as the Ray Jobs API does.
"""
from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

from mmei.cluster.job_client import ClusterError, connect, jobs_address
from mmei.cluster.job_package import package_job

FINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def submit(command: list[str], address: str | None = None, wait: bool = False,
           echo: Callable[[str], None] = print) -> int:
    """Package and submit `mmei <verb> ...`; with `wait`, stream logs and return its exit status."""
    if command[:1] == ["mmei"]:
        command = command[1:]
    if not command:
        raise ClusterError("nothing to submit: give the command after --, e.g. mmei submit -- mmei train ...")
    client = connect(address)  # fail fast, before building anything
    with tempfile.TemporaryDirectory(prefix="mmei-job-") as staging:
        package = package_job(command, Path(staging))
        job_id = f"mmei-{command[0]}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        submit_when_agent_ready(client, echo, entrypoint=package.entrypoint, runtime_env=package.runtime_env,
                                submission_id=job_id, metadata={"mmei_verb": command[0]})
    echo(job_id)
    echo(f"submitted to {jobs_address(address)}: {package.entrypoint}")
    for path in package.staged_files:
        echo(f"  carried {path}")
    if not wait:
        echo(f"follow it with: mmei jobs logs {job_id} --follow")
        return 0
    return follow(client, job_id, echo)


def submit_when_agent_ready(client, echo: Callable[[str], None], timeout_s: float = 90.0, **job) -> None:
    """A cluster that has just started answers "No available agent" until its job agents
    are up (a few seconds to a minute): wait for them rather than fail the submit."""
    deadline, said = time.monotonic() + timeout_s, False
    while True:
        try:
            client.submit_job(**job)
            return
        except RuntimeError as error:
            if "No available agent" not in str(error) or time.monotonic() > deadline:
                raise
            if not said:
                echo(f"the cluster's job agent is not up yet; retrying for up to {timeout_s:.0f}s ...")
                said = True
            time.sleep(2)


def follow(client, job_id: str, echo: Callable[[str], None] = print) -> int:
    """Stream a job's logs until it ends; 0 if it succeeded, 1 otherwise."""
    async def tail() -> None:
        async for lines in client.tail_job_logs(job_id):
            echo(lines.rstrip("\n"))

    try:
        asyncio.run(tail())
    except KeyboardInterrupt:
        echo(f"stopped following; the job keeps running (mmei jobs stop {job_id})")
        raise
    status = wait_for_end(client, job_id)
    info = client.get_job_info(job_id)
    echo(f"job {job_id}: {status}" + (f" ({info.message})" if info.message and status != "SUCCEEDED" else ""))
    return 0 if status == "SUCCEEDED" else 1


def wait_for_end(client, job_id: str, timeout_s: float = 60.0) -> str:
    """The final status: the log stream can close a moment before the status is final."""
    deadline = time.monotonic() + timeout_s
    status = str(client.get_job_status(job_id).value)
    while status not in FINAL and time.monotonic() < deadline:
        time.sleep(0.5)
        status = str(client.get_job_status(job_id).value)
    return status


def known_job(client, job_id: str):
    try:
        return client.get_job_info(job_id)
    except RuntimeError as error:
        if "404" in str(error) or "does not exist" in str(error):
            raise ClusterError(f"no job {job_id!r} on this cluster (see mmei jobs list)") from None
        raise


def list_jobs(address: str | None = None, echo: Callable[[str], None] = print) -> int:
    client = connect(address)
    jobs = sorted(client.list_jobs(), key=lambda job: job.start_time or 0)
    echo(f"{'job id':<44} {'status':<10} {'started':<20} entrypoint")
    for job in jobs:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.start_time / 1000)) if job.start_time else ""
        entrypoint = job.entrypoint.replace("python -m mmei.cluster.cli", "mmei")
        echo(f"{job.submission_id or job.job_id or '':<44} {job.status.value:<10} {started:<20} {entrypoint[:80]}")
    return 0


def job_status(job_id: str, address: str | None = None, echo: Callable[[str], None] = print) -> int:
    info = known_job(connect(address), job_id)
    echo(f"{job_id}: {info.status.value}" + (f" ({info.message})" if info.message else ""))
    return 0


def job_logs(job_id: str, address: str | None = None, follow_logs: bool = False,
             echo: Callable[[str], None] = print) -> int:
    client = connect(address)
    known_job(client, job_id)
    if follow_logs:
        return follow(client, job_id, echo)
    echo(client.get_job_logs(job_id).rstrip("\n"))
    return 0


def stop_job(job_id: str, address: str | None = None, echo: Callable[[str], None] = print) -> int:
    client = connect(address)
    known_job(client, job_id)
    stopped = client.stop_job(job_id)
    echo(f"{job_id}: {'stop requested' if stopped else 'already ended'}; now {wait_for_end(client, job_id)}")
    return 0
