"""What a submitted job carries: this project as a built wheel, and the files its command names.

    staging/py_modules/mmei/    the wheel's contents (py_modules)
    staging/workdir/files/      each local file the command names (working_dir)

The wheel is built from the checkout (`pip wheel --no-deps`) and shipped unpacked.
Ray's py_modules does accept a .whl, but installs it with `pip install WHEEL
--target`, dependencies included: that would pull torch, Ray and DeepSpeed onto every
node (the image already has them) and fails on an offline cluster. The unpacked wheel
is the same files, and needs no pip on the nodes. Installed from a wheel already (no
pyproject.toml beside the package), the installed package is shipped as it is.

Arguments naming an existing local file (`--config my.yaml`, `serve.catalog=items.csv`)
are copied into the job's working directory and rewritten to point there. A URL with a
password travels in the runtime env's variables, never in the entrypoint. Folders
(data, outputs) are left alone: on a real cluster they must be on storage every node
sees (a shared filesystem, or s3:// where the verb reads it).
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import mmei
from mmei.cluster.job_client import ClusterError
from mmei.cluster.ray_session import RAY_TRAIN_ENV

MAX_STAGED_BYTES = 50 * 2**20  # bigger files belong on shared storage, not in the job's upload
PACKAGE_ROOT = Path(mmei.__file__).resolve().parent


@dataclass(frozen=True)
class JobPackage:
    entrypoint: str
    runtime_env: dict
    staged_files: list[str]


def build_package(staging: Path) -> Path:
    """The mmei package as the built wheel lays it out, under staging/py_modules/mmei."""
    target = staging / "py_modules"
    target.mkdir(parents=True)
    if not (PACKAGE_ROOT / "pyproject.toml").is_file():  # installed from a wheel: ship it as installed
        shutil.copytree(PACKAGE_ROOT, target / "mmei", ignore=shutil.ignore_patterns("__pycache__"))
        return target / "mmei"
    wheels = staging / "wheel"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(PACKAGE_ROOT)], capture_output=True, text=True)
    if built.returncode != 0:
        raise ClusterError(f"building the mmei wheel failed: {built.stderr.strip()[-400:]}")
    (wheel,) = wheels.glob("mmei-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target, [name for name in archive.namelist() if name.startswith("mmei/")])
    return target / "mmei"


def stage_argument(argument: str, files: Path, staged: list[str]) -> str:
    """`argument`, with a local file it names copied into the job and rewritten."""
    prefix, _, value = argument.rpartition("=") if "=" in argument else ("", "", argument)
    path = Path(value).expanduser()
    if not value or not path.is_file():
        return argument
    if path.stat().st_size > MAX_STAGED_BYTES:
        raise ClusterError(f"{path} is {path.stat().st_size / 2**20:.0f} MiB; jobs carry files up to "
                           f"{MAX_STAGED_BYTES // 2**20} MiB: put it on storage the cluster sees and pass that path")
    files.mkdir(parents=True, exist_ok=True)
    name = f"{len(staged)}-{path.name}"
    shutil.copy2(path, files / name)
    staged.append(str(path))
    relative = f"files/{name}"
    return f"{prefix}={relative}" if prefix else relative


def secrets_to_env(arguments: list[str]) -> tuple[list[str], dict[str, str]]:
    """A URL with a password (`store_url=postgresql://u:PASS@host/db`, `--store URL`) moves to
    an env var of the job's runtime env, and the argument becomes `env:NAME`, which the
    store reads where it opens. The entrypoint, which `mmei submit` prints and Ray keeps
    in the job's metadata, then holds no password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    rewritten, secrets = [], {}
    for argument in arguments:
        prefix, _, value = argument.partition("=") if "=" in argument.split("://")[0] else ("", "", argument)
        try:
            secret = "://" in value and make_url(value).password is not None
        except (ArgumentError, ValueError):
            secret = False
        if not secret:
            rewritten.append(argument)
            continue
        name = f"MMEI_JOB_SECRET_{len(secrets)}"
        secrets[name] = value
        rewritten.append(f"{prefix}=env:{name}" if prefix else f"env:{name}")
    return rewritten, secrets


def package_job(command: list[str], staging: Path, env_vars: dict[str, str] | None = None) -> JobPackage:
    """The entrypoint and runtime_env that run `mmei <verb> ...` on the cluster."""
    staged: list[str] = []
    workdir = staging / "workdir"
    workdir.mkdir(parents=True)
    arguments, secrets = secrets_to_env([stage_argument(argument, workdir / "files", staged) for argument in command])
    module = build_package(staging)
    runtime_env = {"py_modules": [str(module)], "working_dir": str(workdir),
                   "env_vars": {"HF_HUB_OFFLINE": "1", **RAY_TRAIN_ENV, **secrets, **(env_vars or {})}}
    entrypoint = shlex.join(["python", "-m", "mmei.cluster.cli", *arguments])
    return JobPackage(entrypoint=entrypoint, runtime_env=runtime_env, staged_files=staged)
