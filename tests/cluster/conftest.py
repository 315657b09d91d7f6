"""`mmei serve` run as a user runs it: its own process, its console read as it prints."""
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import pytest


@dataclass
class ServeProcess:
    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)  # its console so far, read by a thread
    reader: threading.Thread | None = None

    def output(self, timeout_s: float = 30) -> str:
        """Everything it printed; once it has exited, up to its last line."""
        if self.process.poll() is not None and self.reader is not None:
            self.reader.join(timeout_s)
        return "".join(self.lines)


@pytest.fixture
def mmei_serve():
    """start(args, env, cwd=None, timeout_s=300): `mmei serve ARGS` once it prints its
    `serving … at http…` line, or has exited. Killed at teardown if still running."""
    started: list[ServeProcess] = []

    def start(args: list[str], env: dict, cwd=None, timeout_s: float = 300) -> ServeProcess:
        process = subprocess.Popen([sys.executable, "-m", "mmei.cluster.cli", "serve", *args], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd)
        served = ServeProcess(process)

        def read() -> None:
            for line in process.stdout:
                served.lines.append(line)

        served.reader = threading.Thread(target=read, daemon=True)
        served.reader.start()
        started.append(served)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and process.poll() is None:
            if any(line.startswith("serving ") and " at http" in line for line in served.lines):
                return served
            time.sleep(0.05)
        raise AssertionError(f"mmei serve did not start (exit {process.poll()}):\n{served.output()[-3000:]}")

    yield start
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait(30)
