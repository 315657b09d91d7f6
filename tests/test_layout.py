"""The package layout: `mmei.platform` never shadows the standard library's `platform`."""
from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

CHECK_STDLIB = (
    "import mmei.platform.config, platform, sysconfig, pathlib; "
    "assert pathlib.Path(platform.__file__).parent == pathlib.Path(sysconfig.get_paths()['stdlib']), platform.__file__; "
    "assert platform.system()"
)


def run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("where", ["repo_root", "elsewhere"])
def test_import_platform_is_still_the_standard_library(where, tmp_path):
    result = run(CHECK_STDLIB, REPO_ROOT if where == "repo_root" else tmp_path)
    assert result.returncode == 0, result.stderr


def test_torch_and_ray_import_from_repo_root():
    result = run("import torch, ray; print(torch.__version__, ray.__version__)", REPO_ROOT)
    assert result.returncode == 0, result.stderr


def test_pytest_runs_from_repo_root():
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/platform/test_labels.py"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_subpackage_folders_have_no_init():
    for folder in ("platform", "pipelines", "serving", "tuning", "cluster"):
        assert not (REPO_ROOT / folder / "__init__.py").exists(), folder


def test_ray_task_imports_mmei(ray_cluster):
    @ray_cluster.remote
    def inside_worker() -> tuple[str, str]:
        import platform

        from mmei.platform.labels import DEFAULT_EMOTIONS

        return platform.system(), DEFAULT_EMOTIONS[0]

    assert ray_cluster.get(inside_worker.remote(), timeout=120) == (__import__("platform").system(), "anger")


def test_wheel_maps_folders_under_mmei(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path), str(REPO_ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("mmei-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "mmei/__init__.py" in names
    assert "mmei/platform/config.py" in names and "mmei/platform/configs/tiny.yaml" in names
    assert "mmei/pipelines/sources/synthetic.py" in names and "mmei/cluster/cli.py" in names
    assert not any(name.startswith(("platform/", "tests/")) for name in names)
    assert "mmei/platform/__init__.py" not in names


FLOOR = {"platform": 1, "pipelines": 2, "serving": 2, "tuning": 3, "cluster": 4}


def imported_wings(path: Path) -> list[str]:
    wings = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
        names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        wings += [name.split(".")[1] for name in names if name.startswith("mmei.") and name.split(".")[1] in FLOOR]
    return wings


def test_imports_respect_the_floors():
    """Lower floors never import higher ones; pipelines and serving never import each other."""
    bad = []
    for wing, floor in FLOOR.items():
        for path in sorted((REPO_ROOT / wing).rglob("*.py")):
            bad += [f"{path.relative_to(REPO_ROOT)} imports {target}" for target in imported_wings(path)
                    if target != wing and FLOOR[target] >= floor]
    assert bad == []


MODULES = sorted(
    "mmei." + ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
    for wing in FLOOR for path in (REPO_ROOT / wing).rglob("*.py")
)


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports_on_its_own(module):
    """Importing each public module alone catches import cycles (Ray Train's habit)."""
    result = run(f"import {module}", REPO_ROOT)
    assert result.returncode == 0, result.stderr
