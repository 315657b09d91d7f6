"""The application builder: one graph for `mmei serve`, `serve run`, `serve deploy` and RayService.

    serve run mmei.serving.app:build_app bundle=runs/train/bundle [config=FILE] [key=value ...]

`build_app` takes the builder args Serve passes (strings), loads the typed
ServeConfig, checks the bundle and catalog paths, and binds the deployments:

    Ingress(TextEncoder, AudioEncoder, VisualEncoder, Fusion, Ranker)
"""
from __future__ import annotations

from typing import Any

from ray.serve import Application

from mmei.serving.config import ServeConfig, from_args
from mmei.serving.encoders import AudioEncoder, TextEncoder, VisualEncoder
from mmei.serving.fusion import Fusion
from mmei.serving.ingress import Ingress
from mmei.serving.ranker import Ranker

APP_NAME = "mmei"


def application(config: ServeConfig) -> Application:
    config.check_paths()
    replicas = config.replicas
    logging = {"enable_access_log": config.access_logs}

    def options(count: int, gpus: float = 0.0, ongoing: int | None = None) -> dict[str, Any]:
        return {"num_replicas": count, "logging_config": logging,
                "max_ongoing_requests": ongoing or replicas.model_max_ongoing,
                "ray_actor_options": {"num_cpus": replicas.cpus_per_replica, "num_gpus": gpus}}

    bundle = str(config.bundle)
    encoders = [
        TextEncoder.options(**options(replicas.text_encoder, replicas.gpus_per_encoder)).bind(bundle),
        AudioEncoder.options(**options(replicas.audio_encoder, replicas.gpus_per_encoder)).bind(bundle),
        VisualEncoder.options(**options(replicas.visual_encoder, replicas.gpus_per_encoder)).bind(bundle),
    ]
    fusion = Fusion.options(**options(replicas.fusion)).bind(bundle)
    ranker = Ranker.options(**options(replicas.ranker)).bind(bundle, str(config.catalog_path), config.ranker)
    return Ingress.options(**options(replicas.ingress, ongoing=replicas.ingress_max_ongoing)).bind(
        *encoders, fusion, ranker, config)


def build_app(args: dict[str, Any]) -> Application:
    """Serve's entry point for config files and RayService: args are the `args:` mapping."""
    return application(from_args(args))
