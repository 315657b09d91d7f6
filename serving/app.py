"""The application builder: one graph for `mmei serve`, `serve run`, `serve deploy` and RayService.

    serve run mmei.serving.app:build_app bundle=runs/train/bundle [config=FILE] [key=value ...]

`build_app` takes the builder args Serve passes (strings), loads the typed
ServeConfig, checks the bundle and catalog paths, and binds the deployments:

    topology graph:    Ingress(Ranker, TextEncoder, AudioEncoder, VisualEncoder, Fusion)
    topology compact:  Ingress(Ranker, Recognizer)
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from pathlib import Path
from typing import Any

from ray.serve import Application

from mmei.serving.config import ServeConfig, from_args
from mmei.serving.encoders import AudioEncoder, TextEncoder, VisualEncoder
from mmei.serving.fusion import Fusion
from mmei.serving.ingress import Ingress
from mmei.serving.ranker import Ranker
from mmei.serving.recognizer import Recognizer

APP_NAME = "mmei"


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """The mmei package's code, hashed once per process."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).resolve().parents[1].rglob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def version(*inputs: Any) -> str:
    """A deployment's version: the package's code plus everything its replicas load.

    Serve restarts a deployment's replicas on redeploy only when its version changes;
    with the same version and a new user_config it calls `reconfigure` on the live
    replicas instead. `serve.run` gives every deployment a random version unless it
    has one, so every redeploy restarted the whole graph, and requests in flight on
    the replaced ingress failed with 500s. Ray 2.60 removed `version` from
    `.options()`; `pinned` sets the attribute Serve still reads (`Deployment._version`),
    and tests/serving/test_ranker_swap.py fails if that stops working.
    """
    digest = hashlib.sha256(code_digest().encode())
    for item in inputs:
        path = Path(str(item)) if isinstance(item, (str, Path)) else None
        if path is not None and path.is_dir():  # a bundle: its files' names, sizes and times
            for entry in sorted(path.rglob("*")):
                if entry.is_file():
                    stat = entry.stat()
                    digest.update(f"{entry}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        elif path is not None and path.is_file():
            digest.update(path.read_bytes())
        else:
            digest.update(repr(item).encode())
    return digest.hexdigest()[:16]


def deployment_options(config: ServeConfig, name: str, count: int, gpus: float = 0.0,
                       ongoing: int | None = None) -> dict[str, Any]:
    """Serve options of one deployment: replicas (fixed, or autoscaled when
    `replicas.autoscaling` names it), in-flight and queue limits, resources."""
    replicas = config.replicas
    options: dict[str, Any] = {
        "logging_config": {"enable_access_log": config.access_logs},
        "max_ongoing_requests": ongoing or replicas.model_max_ongoing,
        # Past this many waiting, callers get BackPressureError at once and the ingress
        # answers 503 with Retry-After in our body. The ingress itself never sheds: Serve's
        # proxy would answer that with a plain-text 503 of its own; its waits are bounded
        # by the proxy's request timeout instead.
        "max_queued_requests": -1 if name == "ingress" else config.limits.max_queued_requests,
        "ray_actor_options": {"num_cpus": replicas.cpus_per_replica, "num_gpus": gpus},
        # A stopping replica waits for its requests this long, checking every half second
        # (Serve's 2 s loop made every stop 2 s longer than the drain needed).
        "graceful_shutdown_timeout_s": config.graceful_shutdown_timeout_s,
        "graceful_shutdown_wait_loop_s": 0.5,
    }
    scaling = replicas.autoscaling.get(name)
    if scaling is not None:
        options["autoscaling_config"] = {"min_replicas": scaling.min_replicas, "max_replicas": scaling.max_replicas,
                                         "target_ongoing_requests": scaling.target_ongoing_requests}
    else:
        options["num_replicas"] = count
    return options


def application(config: ServeConfig) -> Application:
    config.check_paths()
    config.check_auth(os.environ.get(config.api_key_env) or None)  # `serve run`, `serve deploy`, RayService too
    replicas = config.replicas

    def pinned(deployment, *inputs: Any):
        deployment._version = version(*inputs)  # replica counts stay out: scaling restarts nothing
        return deployment

    bundle = str(config.bundle)
    gpus = replicas.gpus_per_encoder
    batching = (replicas.max_batch_size, replicas.batch_wait_timeout_s, replicas.batching)

    def model_deployment(cls, name: str, count: int):
        options = deployment_options(config, name, count, gpus)
        return pinned(cls.options(**options), bundle, gpus, *batching, config.floor).bind(bundle, *batching,
                                                                                          config.floor)

    if config.topology == "compact":
        models = {"recognizer": model_deployment(Recognizer, "recognizer", replicas.recognizer)}
    else:
        models = {"text_encoder": model_deployment(TextEncoder, "text_encoder", replicas.text_encoder),
                  "audio_encoder": model_deployment(AudioEncoder, "audio_encoder", replicas.audio_encoder),
                  "visual_encoder": model_deployment(VisualEncoder, "visual_encoder", replicas.visual_encoder),
                  "fusion": model_deployment(Fusion, "fusion", replicas.fusion)}
    ranker = None  # mode analyze: recognition only, no catalog to rank
    if config.mode == "recommend":
        ranker_inputs = (bundle, str(config.catalog_path), config.ranker, config.floor)
        ranker = pinned(Ranker.options(**deployment_options(config, "ranker", replicas.ranker),
                                       user_config={"ranker_bundle": config.ranker_bundle or None}),
                        *ranker_inputs).bind(*ranker_inputs)
    # The ranker bundle reaches the Ranker only through its user_config, so swapping it
    # changes nothing else: Serve calls Ranker.reconfigure on the live replicas.
    ingress_config = dataclasses.replace(config, ranker_bundle="")
    ingress_options = deployment_options(config, "ingress", replicas.ingress, ongoing=replicas.ingress_max_ongoing)
    # The secrets the driver checked reach the replicas that enforce them, whatever their node's environment
    secrets = {config.api_key_env: os.environ.get(config.api_key_env)}
    if config.user_secret(os.environ):
        secrets[config.auth.user_token_env] = os.environ[config.auth.user_token_env]
    secrets = {name: value for name, value in secrets.items() if value}
    if secrets:
        ingress_options["ray_actor_options"]["runtime_env"] = {"env_vars": secrets}
    ingress = pinned(Ingress.options(**ingress_options), ingress_config)
    return ingress.bind(ranker, ingress_config, **models)


def build_app(args: dict[str, Any]) -> Application:
    """Serve's entry point for config files and RayService: args are the `args:` mapping."""
    return application(from_args(args))
