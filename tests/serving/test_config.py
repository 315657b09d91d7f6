"""Serving config: typed loading, path checks, and the checked-in Serve config file."""
import importlib

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from mmei.platform.config import ConfigError
from mmei.serving.config import from_args, load_serve_config
from mmei.serving.deploy_config import IMPORT_PATH, write_deploy_config

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_builder_args_are_typed_and_checked():
    config = from_args({"bundle": "/b", "port": "8123", "replicas.text_encoder": "2", "limits.max_frames": "4"})
    assert config.port == 8123 and config.replicas.text_encoder == 2 and config.limits.max_frames == 4
    with pytest.raises(ConfigError, match="unknown config key.*colour"):
        from_args({"colour": "red"})
    with pytest.raises(ConfigError, match="port must be int"):
        from_args({"port": "eighty"})
    with pytest.raises(ConfigError, match="sum to 1"):
        load_serve_config(None, ["variants=[{name: a, fraction: 0.5}]"])


def test_relative_paths_become_absolute_and_missing_ones_are_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_serve_config(None, ["bundle=runs/b", "store_url=sqlite:///serve.db"])
    assert config.bundle == str(tmp_path / "runs" / "b") and config.store_url == f"sqlite:///{tmp_path}/serve.db"
    with pytest.raises(ConfigError, match="not a model bundle"):
        config.check_paths()
    with pytest.raises(ConfigError, match="needs a model bundle"):
        load_serve_config().check_paths()


def test_the_checked_in_serve_config_is_current_and_valid(tmp_path):
    checked_in = REPO / "serving" / "serve.yaml"
    config = load_serve_config(None, ["bundle=/models/mmei/bundle", "store_url=sqlite:////var/lib/mmei/serve.db"])
    assert write_deploy_config(config, tmp_path / "serve.yaml").read_text() == checked_in.read_text()
    parsed = ServeDeploySchema.model_validate(yaml.safe_load(checked_in.read_text()))
    (app,) = parsed.applications
    module, name = app.import_path.split(":")
    assert app.import_path == IMPORT_PATH and callable(getattr(importlib.import_module(module), name))
    assert parsed.http_options.host == "127.0.0.1"


def test_an_open_api_on_a_reachable_host_is_refused_unless_on_purpose(serve_bundle, monkeypatch, capsys):
    from mmei.cluster.cli import main

    monkeypatch.delenv("MMEI_API_KEY", raising=False)
    assert main(["serve", "--bundle", str(serve_bundle), "host=0.0.0.0"]) == 2
    assert "MMEI_API_KEY is not set" in capsys.readouterr().err  # refused before Ray starts
    open_on_purpose = load_serve_config(None, ["host=0.0.0.0", "auth.allow_open=true"])
    open_on_purpose.check_auth(None)  # no error: the operator said so
    load_serve_config(None, ["host=0.0.0.0"]).check_auth("a-key")
    load_serve_config(None, ["host=127.0.0.1"]).check_auth(None)  # loopback: only this machine


def test_autoscaling_and_limits_reach_the_deployments():
    from mmei.serving.app import deployment_options

    config = load_serve_config(None, ["replicas.autoscaling={ingress: {min_replicas: 2, max_replicas: 6}}",
                                      "limits.max_queued_requests=7"])
    ingress = deployment_options(config, "ingress", 1)
    assert ingress["autoscaling_config"] == {"min_replicas": 2, "max_replicas": 6, "target_ongoing_requests": 8.0}
    assert "num_replicas" not in ingress and ingress["max_queued_requests"] == -1
    fusion = deployment_options(config, "fusion", 3)
    assert fusion["num_replicas"] == 3 and fusion["max_queued_requests"] == 7
    with pytest.raises(ConfigError, match="unknown deployment"):
        load_serve_config(None, ["replicas.autoscaling={encoder: {}}"])


def test_the_key_the_driver_checked_reaches_the_ingress_and_an_open_app_is_never_built(serve_bundle, monkeypatch):
    """`serve run`/`serve deploy`/RayService build the app through application(): it runs
    the same check as `mmei serve`, and hands the key to the replicas that enforce it (a
    cluster started without the key in its environment would otherwise serve open)."""
    from mmei.platform.config import ConfigError
    from mmei.serving.app import application

    monkeypatch.setenv("MMEI_DRIVER_KEY", "driver-secret")
    app = application(load_serve_config(None, [f"bundle={serve_bundle}", "api_key_env=MMEI_DRIVER_KEY"]))
    options = app._bound_deployment.ray_actor_options
    assert options["runtime_env"]["env_vars"] == {"MMEI_DRIVER_KEY": "driver-secret"}
    monkeypatch.setenv("MMEI_DRIVER_KEY", "")  # empty is no key
    with pytest.raises(ConfigError, match="MMEI_DRIVER_KEY is not set"):
        application(load_serve_config(None, [f"bundle={serve_bundle}", "api_key_env=MMEI_DRIVER_KEY",
                                             "host=0.0.0.0"]))


def test_trusted_hosts_follow_the_bind_address_unless_named():
    from mmei.serving.config import load_serve_config

    assert "localhost" in load_serve_config(None, []).trusted_hosts()
    assert load_serve_config(None, ["host=0.0.0.0", "auth.allow_open=true"]).trusted_hosts() == ["*"]
    named = load_serve_config(None, ["host=0.0.0.0", "allowed_hosts=[mmei.example.com, '*.internal']"])
    assert named.trusted_hosts() == ["mmei.example.com", "*.internal"]
