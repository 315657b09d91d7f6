"""The package layout: `mmei.platform` never shadows the standard library's `platform`."""
from __future__ import annotations

import ast
import json
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


FRESH_IMPORTS = """
import importlib, json, sys, traceback
errors = {}
for module in sys.argv[1:]:
    for name in [n for n in sys.modules if n == "mmei" or n.startswith("mmei.")]:
        del sys.modules[name]  # each module starts from no mmei module at all, as in a new interpreter
    try:
        importlib.import_module(module)
    except BaseException:
        errors[module] = traceback.format_exc()
print(json.dumps(errors))
"""


@pytest.fixture(scope="module")
def import_errors() -> dict[str, str]:
    """Each module imported first, in one interpreter: mmei's modules are dropped from
    sys.modules before each, torch's and Ray's stay loaded. One process instead of one
    per module (161 s → a few seconds here); cycles inside mmei show the same way."""
    result = subprocess.run([sys.executable, "-c", FRESH_IMPORTS, *MODULES], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports_on_its_own(module, import_errors):
    """Importing each public module first catches import cycles (Ray Train's habit)."""
    assert module not in import_errors, import_errors.get(module)
