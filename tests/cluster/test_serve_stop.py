"""`mmei serve` stopped as an orchestrator stops it: SIGTERM, with a request in flight.

The server runs as a user runs it, in its own process with its own local Ray cluster.
A request is held inside the TextEncoder by a file barrier (serving/fault_injection.py),
so it is provably in flight when the signal lands, whatever the machine's speed.
"""
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest

from mmei.serving.fault_injection import HOLD_TEXT



@pytest.fixture
def bundle(tmp_path):
    import torch

    from mmei.platform.bundle import save_bundle
    from mmei.platform.config import load_config
    from mmei.platform.models.build import build_model

    torch.manual_seed(0)
    config = load_config("tiny")
    save_bundle(build_model(config, pretrained=True).eval(), config, tmp_path / "bundle", extra={"trained": False})
    return tmp_path / "bundle"


def wait_for(predicate, timeout_s: float, what: str, lines: list[str]):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; output so far:\n{''.join(lines)[-3000:]}")


def ray_session_processes(session: str) -> list[str]:
    """Live processes whose command line names this Ray session's folder (raylet, GCS, workers...)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if session in command:
            found.append(f"{pid}: {command[:160]}")
    return found


def test_sigterm_drains_a_request_in_flight_then_exits_0_leaving_no_ray_process(bundle, tmp_path, port_picker,
                                                                               mmei_serve):
    port, store = port_picker(), tmp_path / "serve.db"
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MMEI_FAULT_INJECTION": "1", "MMEI_FAULT_BARRIER_DIR": str(barrier)}
    env.pop("RAY_ADDRESS", None)
    server = mmei_serve(["--bundle", str(bundle), "--port", str(port), f"store_url=sqlite:///{store}",
                         "replicas.cpus_per_replica=0.05"], env=env, timeout_s=240)
    process, lines = server.process, server.lines
    session = next(part for line in lines for part in line.split("/") if part.startswith("session_"))
    url = f"http://127.0.0.1:{port}"

    held: dict = {}
    request = {"user_id": "held-user", "text": HOLD_TEXT, "k": 3}
    client = threading.Thread(target=lambda: held.update(
        response=httpx.post(f"{url}/v1/recommend", json=request, timeout=60)), daemon=True)
    client.start()
    wait_for(lambda: (barrier / "arrived").exists(), 60, "the request to reach the TextEncoder", lines)

    process.send_signal(signal.SIGTERM)
    wait_for(lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 503, 30, "/readyz to turn 503", lines)
    refused = httpx.post(f"{url}/v1/recommend", json={"user_id": "late", "text": "hello", "k": 1}, timeout=30)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert "shutting down" in refused.json()["error"]
    assert client.is_alive()  # still held: the drain waits for it

    (barrier / "release").touch()
    client.join(60)
    assert held["response"].status_code == 200, held["response"].text
    request_id = held["response"].json()["request_id"]
    assert process.wait(90) == 0, server.output()
    output = server.output()
    assert "SIGTERM received" not in output and "Traceback" not in output, output
    assert "1 in-flight requests finished, 0 cut, 1 new ones refused with 503" in output, output
    stored = sqlite3.connect(store).execute("SELECT user_id FROM recommendations WHERE request_id = ?",
                                            (request_id,)).fetchall()
    assert stored == [("held-user",)]  # the answered request's row is committed
    time.sleep(1)  # processes the raylet killed may take a moment to be reaped
    assert ray_session_processes(session) == []


def test_a_second_signal_raises_forced_stop_with_the_shell_exit_code(tmp_path):
    """The handler on its own, without a cluster: the second signal cuts the wind-down short."""
    script = (
        "import os, signal, sys, time\n"
        "from mmei.platform.stop_signals import ForcedStop, StopRequested, stop_signals\n"
        "with stop_signals():\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGINT); time.sleep(5)\n"
        "    except StopRequested as first:\n"
        "        print('winding down after', first.name, flush=True)\n"
        "        try:\n"
        "            os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)\n"
        "        except ForcedStop as second:\n"
        "            print('forced by', second.name, second.exit_code, flush=True); sys.exit(second.exit_code)\n"
        "print('not reached')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 143, result.stderr
    assert result.stdout.splitlines() == ["winding down after SIGINT", "forced by SIGTERM 143"]
