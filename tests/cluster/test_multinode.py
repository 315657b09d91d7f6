"""`mmei submit` and `mmei jobs` against a real two-node Ray cluster on 127.0.0.1.

The head and a worker node are started with `ray start --block` (their own ports,
token auth on with a token made here) and stopped by their process ids. These tests
run before any other Ray test in the session (tests/conftest.py orders them): with a
second cluster up, Ray Train's placement-group cleaner cannot tell the two apart.
"""
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


pytestmark = pytest.mark.multinode
CLI = [sys.executable, "-m", "mmei.cluster.cli"]
RAY = str(Path(sys.executable).with_name("ray"))
SERVE = str(Path(sys.executable).with_name("serve"))
TINY = ["train.epochs=1", "train.batch_size=8"]


class TwoNodeCluster:
    def __init__(self, root: Path, free_port):
        self.root = root
        self.free_port = free_port
        self.token = secrets.token_hex(16)
        (root / "token").write_text(self.token)
        self.dashboard_port = free_port()
        self.address = f"http://127.0.0.1:{self.dashboard_port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
        self.env = {**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(root / "token"),
                    "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}", "RAY_USAGE_STATS_ENABLED": "0"}
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        free_port = self.free_port
        gcs = free_port()
        self.gcs_address = f"127.0.0.1:{gcs}"
        common = ["--node-ip-address=127.0.0.1", "--num-cpus=3", "--block"]
        # Every port its own, the head's dashboard agent too: another Ray on the machine (a
        # user's, or one a killed run left behind) holding the default 52365 left the head
        # without an agent, and each job was refused ("No available agent to submit job").
        self.launch("head", [RAY, "start", "--head", f"--port={gcs}", "--dashboard-host=127.0.0.1",
                             f"--dashboard-port={self.dashboard_port}", f"--ray-client-server-port={free_port()}",
                             f"--dashboard-agent-listen-port={free_port()}", f"--temp-dir={self.root / 'ray'}",
                             *common])
        self.wait_for(lambda: self.alive_nodes() >= 1, "the head")
        self.launch("worker", [RAY, "start", f"--address=127.0.0.1:{gcs}",
                               f"--dashboard-agent-listen-port={free_port()}", *common])
        self.wait_for(lambda: self.alive_nodes() == 2, "the worker node")

    def launch(self, name: str, command: list[str]) -> None:
        log = open(self.root / f"{name}.log", "w")
        self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                               start_new_session=True))

    def wait_for(self, ready, what: str, timeout_s: float = 90) -> None:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if any(process.poll() is not None for process in self.processes):
                logs = "".join((self.root / f"{name}.log").read_text()[-2000:] for name in ("head", "worker")
                               if (self.root / f"{name}.log").exists())
                raise RuntimeError(f"a ray start process exited while waiting for {what}:\n{logs}")
            try:
                if ready():
                    return
            except OSError:
                pass
            time.sleep(1)
        raise TimeoutError(f"{what} did not come up within {timeout_s:.0f}s")

    def alive_nodes(self) -> int:
        request = urllib.request.Request(f"{self.address}/api/v0/nodes?limit=10",
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            nodes = json.load(response)["data"]["result"]["result"]
        return sum(node["state"] == "ALIVE" for node in nodes)

    def stop(self) -> None:
        running = [process for process in reversed(self.processes) if process.poll() is None]
        for process in running:  # worker first, then the head
            os.killpg(process.pid, signal.SIGTERM)  # `ray start --block` stops what it started
        deadline = time.monotonic() + 10  # one bound for both (CI saw a 30 s stop)
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the temp folder, its sockets and logs go with it
                process.wait()

    def cli(self, *args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env or self.env)


@pytest.fixture(scope="module")
def cluster(port_picker):
    # A short root: Ray's Unix sockets live under the temp dir, and a path over ~107
    # bytes (pytest's tmp_path is close) made the head take a minute and then fail.
    root = Path(tempfile.mkdtemp(prefix="mmei-2n-", dir="/tmp"))
    cluster = TwoNodeCluster(root, port_picker)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster_features(cluster, corpus_dir, tmp_path_factory):
    """The test corpus prepared by a job on the cluster (Ray Data across both nodes)."""
    out = tmp_path_factory.mktemp("cluster-features") / "features"
    done = cluster.cli("submit", "--jobs-url", cluster.address, "--wait", "--",
                       "mmei", "data", "prepare", "--input", str(corpus_dir), "--output", str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def trained(cluster, cluster_features, tmp_path_factory):
    out = tmp_path_factory.mktemp("cluster-train") / "run"
    done = cluster.cli("submit", "--jobs-url", cluster.address, "--wait", "--", "mmei", "train",
                       "--data", str(cluster_features), "--output", str(out), *TINY, "train.placement_strategy=SPREAD")
    return out, done


def job_id_of(submitted: subprocess.CompletedProcess) -> str:
    return submitted.stdout.splitlines()[0].strip()


def test_a_training_job_runs_its_workers_on_both_nodes_and_writes_a_bundle(trained):
    out, done = trained
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert job_id_of(done).startswith("mmei-train-")
    assert "SUCCEEDED" in done.stdout.splitlines()[-1]
    assert (out / "bundle" / "bundle.json").is_file()
    nodes = json.loads((out / "run.json").read_text())["worker_nodes"]
    assert len(nodes) == 2 and len(set(nodes)) == 2  # one rank on each node


def test_a_job_imports_mmei_from_the_shipped_package_not_the_nodes_install(cluster, tmp_path):
    """The runtime_env `mmei submit` builds: its unpacked wheel comes first on the job's path."""
    from ray.job_submission import JobSubmissionClient

    from mmei.cluster.job_package import package_job

    package = package_job(["--help"], tmp_path)
    client = JobSubmissionClient(cluster.address, headers={"Authorization": f"Bearer {cluster.token}"})
    job = client.submit_job(entrypoint="python -c 'import mmei; print(\"MMEI_FROM\", mmei.__file__)'",
                            runtime_env=package.runtime_env)
    deadline = time.time() + 120
    while str(client.get_job_status(job).value) not in {"SUCCEEDED", "FAILED", "STOPPED"} and time.time() < deadline:
        time.sleep(1)
    (line,) = [line for line in client.get_job_logs(job).splitlines() if line.startswith("MMEI_FROM")]
    assert "runtime_resources" in line and "py_modules_files" in line, line
    assert not line.split()[1].startswith(str(Path(__file__).resolve().parents[2]))


def test_a_sweep_job_succeeds(cluster, cluster_features, tmp_path):
    out = tmp_path / "sweep"
    done = cluster.cli("submit", "--jobs-url", cluster.address, "--wait", "--", "mmei", "tune",
                       "--data", str(cluster_features), "--output", str(out), "--trials", "1",
                       "--scheduler", "none", *TINY)  # one trial: sweeps' own logic is tested on one node
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert (out / "best" / "bundle" / "bundle.json").is_file()
    assert len((out / "results.csv").read_text().strip().splitlines()) == 2  # header and the trial


def test_the_generated_serve_config_deploys_and_recommends_on_127_0_0_1(cluster, trained, tmp_path):
    out, done = trained
    assert done.returncode == 0
    port = cluster.free_port()
    config = tmp_path / "serve.yaml"
    written = cluster.cli("serve", "--bundle", str(out / "bundle"), "--write-config", str(config),
                          f"port={port}", f"store_url=sqlite:///{tmp_path / 'serve.db'}",
                          "proxy_location=HeadOnly")  # two nodes on one host: one proxy, or they fight over the port
    assert written.returncode == 0, written.stderr
    deployed = subprocess.run([SERVE, "deploy", str(config), "--address", cluster.address],
                              capture_output=True, text=True, timeout=120, env=cluster.env)
    assert deployed.returncode == 0, deployed.stderr[-2000:]
    url = f"http://127.0.0.1:{port}"
    cluster.wait_for(lambda: urllib.request.urlopen(f"{url}/readyz", timeout=5).status == 200, "Serve readiness", 180)
    body = json.dumps({"user_id": "u1", "text": "I finally finished it, feeling great", "k": 3}).encode()
    request = urllib.request.Request(f"{url}/v1/recommend", data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.load(response)
    assert len(answer["items"]) == 3 and answer["recognition"]["emotion"]["label"]


def test_serve_on_a_cluster_started_without_the_key_still_requires_it(cluster, trained, tmp_path, mmei_serve):
    """The key is set only where `mmei serve --address` runs, not on the cluster's nodes:
    the replicas still get it (the deployment's runtime env) and refuse requests without it.
    Then SIGTERM drains and deletes only the app, leaving the cluster up."""
    out, done = trained
    assert done.returncode == 0
    subprocess.run([SERVE, "shutdown", "-y", "--address", cluster.address], capture_output=True, timeout=120,
                   env=cluster.env)  # the serve-deploy test's app and its port
    port, key = cluster.free_port(), secrets.token_hex(8)
    server = mmei_serve(["--address", cluster.gcs_address, "--bundle", str(out / "bundle"), "--port", str(port),
                         f"store_url=sqlite:///{tmp_path / 'serve.db'}", "proxy_location=HeadOnly"],
                        env={**cluster.env, "MMEI_API_KEY": key}, timeout_s=240)
    url = f"http://127.0.0.1:{port}"

    def status(path: str, headers: dict, body: dict | None = None) -> int:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{url}{path}", data=data, headers={"content-type": "application/json",
                                                                            **headers})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    assert status("/v1/admin/stats", {}) == 401
    assert status("/v1/admin/stats", {"X-API-Key": "wrong"}) == 401
    assert status("/v1/admin/stats", {"X-API-Key": key}) == 200
    assert status("/v1/analyze", {}, {"user_id": "u", "text": "hi"}) == 401  # recognition too, by default
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=120) == 0, server.output()
    assert "0 cut" in server.output() and cluster.alive_nodes() == 2  # the cluster is not ours to stop


def test_a_bad_entrypoint_fails_and_its_logs_say_why(cluster, tmp_path):
    submitted = cluster.cli("submit", "--jobs-url", cluster.address, "--", "mmei", "train",
                            "--data", str(tmp_path / "no-such-features"), "--output", str(tmp_path / "run"))
    assert submitted.returncode == 0, submitted.stderr
    job_id = job_id_of(submitted)
    deadline = time.time() + 120
    status = ""
    while time.time() < deadline and "FAILED" not in status and "SUCCEEDED" not in status:
        status = cluster.cli("jobs", "status", job_id, "--jobs-url", cluster.address).stdout
        time.sleep(1)
    assert "FAILED" in status
    logs = cluster.cli("jobs", "logs", job_id, "--jobs-url", cluster.address)
    assert logs.returncode == 0 and "no-such-features" in logs.stdout and "mmei: error:" in logs.stdout
    listed = cluster.cli("jobs", "list", "--jobs-url", cluster.address).stdout
    assert job_id in listed and "FAILED" in listed


def test_submitting_without_the_token_is_refused_with_a_hint(cluster, tmp_path):
    env = {key: value for key, value in cluster.env.items() if not key.startswith("RAY_AUTH")}
    env["HOME"] = str(tmp_path)  # no ~/.ray/auth_token either
    refused = cluster.cli("submit", "--jobs-url", cluster.address, "--", "mmei", "data", "synth-catalog",
                          "--output", str(tmp_path / "c.csv"), env=env, timeout=60)
    assert refused.returncode == 2
    assert "requires a Ray auth token" in refused.stderr and "RAY_AUTH_TOKEN" in refused.stderr
    assert "Traceback" not in refused.stderr
    wrong = cluster.cli("submit", "--jobs-url", cluster.address, "--", "mmei", "data", "synth-catalog",
                        "--output", str(tmp_path / "c.csv"), env={**env, "RAY_AUTH_TOKEN": "0" * 32}, timeout=60)
    assert wrong.returncode == 2 and "refused the auth token" in wrong.stderr, wrong.stderr[-500:]


def test_submitting_where_nothing_listens_fails_fast_with_a_clear_message(cluster, tmp_path):
    started = time.monotonic()
    refused = cluster.cli("submit", "--jobs-url", f"http://127.0.0.1:{cluster.free_port()}", "--", "mmei", "data",
                          "synth-catalog", "--output", str(tmp_path / "c.csv"), timeout=60)
    assert refused.returncode == 2 and "no Ray cluster answers at http://127.0.0.1:" in refused.stderr
    assert time.monotonic() - started < 20
