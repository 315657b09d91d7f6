"""The serving config: what `mmei serve`, `serve run` and a RayService deploy.

Loaded from YAML (`--config FILE`, or the application's `config` arg) with
`key=value` overrides, checked like the training config: unknown keys and wrong
types are errors naming the key.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from mmei.platform.affect_ranker import RankerWeights
from mmei.platform.config import ConfigError, load_typed
from mmei.platform.errors import UserInputError
from mmei.platform.experiments import Variant, check_variants

DEFAULT_CATALOG = Path(__file__).resolve().parent / "catalog" / "synthetic-catalog.csv"
DEPLOYMENTS = ("text_encoder", "audio_encoder", "visual_encoder", "fusion", "recognizer", "ranker", "ingress")
TOPOLOGIES = ("graph", "compact")
MODES = ("recommend", "analyze")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class Limits:
    """Request limits: past these a request gets a 4xx or a 503/504, never a slow or
    crashed server. Media limits are read from headers, before anything is decoded."""

    max_body_bytes: int = 8 * 1024 * 1024  # larger bodies get 413, declared or streamed
    max_audio_seconds: float = 10.0  # longer audio gets 422
    max_audio_sample_rate: int = 96000  # higher rates get 422 (a 30 KB FLAC at 384 kHz decodes to 100+ MB)
    max_audio_channels: int = 2  # more channels get 422
    max_frames: int = 8  # more frames get 422
    max_image_pixels: int = 4_000_000  # width x height per frame; more gets 422 (a 249 KB PNG can hold 256 Mpx)
    max_text_chars: int = 2000  # longer text gets 422
    max_k: int = 50  # k above this gets 422
    request_timeout_s: float = 10.0  # one deadline per request, across every hop; past it the client gets 504
    max_queued_requests: int = 64  # per model deployment; past it 503 with Retry-After, never retried inside
    retry_after_s: int = 1  # the Retry-After of a 503
    # per client (its API key, else its address), per Ingress replica: a token bucket; past it 429
    # with Retry-After (rate_limit.py). 0 turns it off. Far above one honest client and `bench serve`.
    client_rate_per_s: float = 200.0  # tokens back per second per client; 0 turns the limit off
    client_burst: int = 400  # requests one client may send at once before its rate applies


@dataclass
class Auth:
    """Who may call what. The key lives in the env var `api_key_env` names, never in config."""

    allow_open: bool = False  # serve a non-loopback host with no API key (refused unless true)
    # with a key set, /v1/recommend and /v1/analyze need X-API-Key too; false opens them to
    # anyone who reaches the port (behind a gateway that authenticates end users itself)
    protect_recognition: bool = True
    # an env var holding a secret: then /v1/recommend and /v1/analyze need X-User-Token, the hex
    # HMAC-SHA256 of the request's user_id under it (platform/user_token.py); empty: user_id is trusted
    user_token_env: str = ""


@dataclass
class StoreOptions:
    """How the serving store connects and keeps itself small."""

    timeout_s: float = 2.0  # per attempt: connect, statement and lock wait; retried within the request deadline
    pool_size: int = 5  # PostgreSQL connections kept per replica
    max_overflow: int = 10  # extra connections under load
    pool_recycle_s: int = 1800  # reconnect older connections (idle timeouts of proxies and servers)
    retention_days: float = 90.0  # recommendations older than this, with no feedback, are pruned; 0 keeps all
    prune_every_h: float = 6.0  # each Ingress replica prunes this often, besides once at start; 0: only at start


@dataclass
class Autoscaling:
    """Serve's autoscaler for one deployment: replicas between min and max, aiming at
    `target_ongoing_requests` in flight per replica."""

    min_replicas: int = 1
    max_replicas: int = 4
    target_ongoing_requests: float = 8.0


@dataclass
class Replicas:
    """Replicas and logical CPUs per deployment. Fractional CPUs let the whole graph
    share a 2-core machine; on a cluster raise replicas (and set GPUs per replica)."""

    text_encoder: int = 1  # TextEncoder replicas
    audio_encoder: int = 1  # AudioEncoder replicas
    visual_encoder: int = 1  # VisualEncoder replicas
    fusion: int = 1  # Fusion replicas
    recognizer: int = 1  # Recognizer replicas (topology: compact)
    ranker: int = 1  # Ranker replicas
    ingress: int = 1  # FastAPI ingress replicas
    cpus_per_replica: float = 0.1  # logical CPUs per replica
    gpus_per_encoder: float = 0.0  # GPUs per encoder and fusion replica (0: CPU)
    # GPU replicas gather concurrent requests into one forward pass (@serve.batch); CPU
    # replicas run each request at once (batching only added its wait window on 2 cores).
    batching: str = "auto"  # auto: GPU replicas batch, CPU ones don't | always | never
    max_batch_size: int = 16  # requests per batch on a GPU replica
    batch_wait_timeout_s: float = 0.005  # longest wait for a batch to fill on a GPU replica
    # In-flight requests per replica before the router queues. Serve's default (5) made
    # the proxy and handles spin in backoff at 16 concurrent users on this machine.
    ingress_max_ongoing: int = 64
    model_max_ongoing: int = 16  # the same, for the model deployments
    # Per deployment (text_encoder, audio_encoder, visual_encoder, fusion, recognizer, ranker, ingress):
    # autoscaling instead of the fixed count above, e.g. autoscaling: {ingress: {max_replicas: 8}}
    autoscaling: dict[str, Autoscaling] = field(default_factory=dict)


@dataclass
class ServeConfig:
    bundle: str = ""  # a model bundle folder (`mmei train`, `mmei tune` best/bundle)
    catalog: str = ""  # Parquet or CSV; empty: the shipped SYNTHETIC catalog
    ranker_bundle: str = ""  # a `mmei ranker train` bundle, for variants with ranker: learned
    store_url: str = "sqlite:///mmei-serve.db"  # any SQLAlchemy URL; PostgreSQL in production
    host: str = "127.0.0.1"  # never 0.0.0.0 by default
    # Host header names the ingress answers to (others get 400: DNS rebinding); "*.example.com"
    # matches subdomains. Empty: the loopback names on a loopback host, any name otherwise.
    allowed_hosts: list[str] = field(default_factory=list)
    port: int = 8000  # HTTP port of the Serve proxy
    # EveryNode: a proxy on every node, no single point of failure (clusters, RayService);
    # HeadOnly: one proxy, for several Ray nodes on one host (they would fight over the port)
    proxy_location: str = "EveryNode"
    api_key_env: str = "MMEI_API_KEY"  # when this env var is set, every /v1 route but /v1/items needs X-API-Key
    access_logs: bool = False  # per-request logs cost 20-30% throughput on small machines
    # graph: encoders, fusion and ranker as separate deployments (a cluster: encoders scale apart,
    # on their own GPUs) | compact: one Recognizer (encoders + fusion) and the Ranker (one node: fewer hops)
    topology: str = "graph"
    # recommend: every route | analyze: recognition only (/v1/analyze), no catalog and no
    # Ranker; for a bundle whose labels no catalog targets yet (`mmei serve` picks it when
    # the shipped catalog does not fit the bundle, and says so)
    mode: str = "recommend"
    # On SIGTERM or Ctrl-C, `mmei serve` lets requests in flight finish for up to this long
    # (new ones get 503) before it stops; Serve's own per-replica graceful shutdown gets the
    # same bound. Above limits.request_timeout_s, so every request can end on its own.
    graceful_shutdown_timeout_s: float = 15.0
    floor: bool = False  # benchmark only: each model replica answers with its first answer (bench serve's floor)
    limits: Limits = field(default_factory=Limits)
    auth: Auth = field(default_factory=Auth)
    store: StoreOptions = field(default_factory=StoreOptions)
    replicas: Replicas = field(default_factory=Replicas)
    ranker: RankerWeights = field(default_factory=RankerWeights)
    variants: list[Variant] = field(default_factory=lambda: [Variant()])  # A/B arms: name, fraction, strategy, ranker, epsilon (exploration, default 0) (default: one control arm)
    ab_salt: str = "mmei-ab"  # salt of the user → variant hash; change it to reshuffle assignments

    def __post_init__(self) -> None:
        check_variants(self.variants)
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.topology not in TOPOLOGIES:
            raise ValueError(f"topology must be one of {TOPOLOGIES}, got {self.topology!r}")
        if self.proxy_location not in ("EveryNode", "HeadOnly"):
            raise ValueError(f"proxy_location must be EveryNode or HeadOnly, got {self.proxy_location!r}")
        if self.graceful_shutdown_timeout_s < 0:
            raise ValueError(f"graceful_shutdown_timeout_s must be >= 0, got {self.graceful_shutdown_timeout_s}")
        unknown = set(self.replicas.autoscaling) - set(DEPLOYMENTS)
        if unknown:
            raise ValueError(f"replicas.autoscaling: unknown deployment(s) {sorted(unknown)}; known: {DEPLOYMENTS}")
        # Replicas do not run in the caller's folder: relative paths are made absolute here.
        if self.bundle:
            self.bundle = str(Path(self.bundle).expanduser().resolve())
        if self.catalog:
            self.catalog = str(Path(self.catalog).expanduser().resolve())
        if self.ranker_bundle:
            self.ranker_bundle = str(Path(self.ranker_bundle).expanduser().resolve())

        prefix = "sqlite:///"
        if self.store_url.startswith(prefix) and not self.store_url.startswith(prefix + "/") \
                and self.store_url != prefix + ":memory:":
            self.store_url = prefix + str(Path(self.store_url[len(prefix):]).resolve())

    @property
    def catalog_path(self) -> Path:
        return Path(self.catalog) if self.catalog else DEFAULT_CATALOG

    def trusted_hosts(self) -> list[str]:
        if self.allowed_hosts:
            return [name.lower().strip("[]") for name in self.allowed_hosts]
        return list(LOOPBACK_HOSTS) if self.host in LOOPBACK_HOSTS else ["*"]

    def check_auth(self, api_key: str | None) -> None:
        """Refuse to expose an open API: a non-loopback host needs a key, or allow_open on purpose."""
        if self.host not in LOOPBACK_HOSTS and not api_key and not self.auth.allow_open:
            raise ConfigError(f"host {self.host} is reachable from other machines and {self.api_key_env} is not set: "
                              f"set an API key in {self.api_key_env}, or auth.allow_open=true to serve without one")

    def client_headers(self, environ: Mapping[str, str]) -> dict[str, str]:
        """What our own clients (quickstart, bench, gpu-check) send: the key, when one is set."""
        key = environ.get(self.api_key_env)
        return {"X-API-Key": key} if key else {}

    def user_secret(self, environ: Mapping[str, str]) -> str | None:
        """The signing secret for user tokens, or None when they are off; named but unset is an error."""
        name = self.auth.user_token_env
        if not name:
            return None
        if not environ.get(name):
            raise ConfigError(f"auth.user_token_env names {name}, which is not set: set the secret there, "
                              f"or leave auth.user_token_env empty to trust user_id as sent")
        return environ[name]

    def catalog_problem(self) -> str | None:
        """Why the catalog cannot serve this bundle (a missing file, a bad row, an emotion
        the bundle does not recognise), found here in a second rather than in a replica."""
        from mmei.platform.bundle import bundle_config
        from mmei.platform.catalog import load_catalog

        if not self.catalog_path.is_file():
            return f"catalog {self.catalog_path} does not exist"
        labels = bundle_config(self.bundle).labels
        try:
            load_catalog(self.catalog_path, labels)
        except UserInputError as error:
            return f"{error} (the labels of bundle {self.bundle}); give a catalog for them, or mode=analyze"
        return None

    def check_paths(self) -> None:
        """Fail before deploying, not in a replica: the bundle and catalog must exist."""
        if not self.bundle:
            raise ConfigError("serving needs a model bundle: --bundle DIR (or bundle=DIR)")
        if not (Path(self.bundle) / "bundle.json").is_file():
            raise ConfigError(f"bundle {self.bundle} is not a model bundle (no bundle.json)")
        if self.mode == "analyze":
            return
        problem = self.catalog_problem()
        if problem:
            raise ConfigError(problem)
        if any(v.ranker == "learned" for v in self.variants) and not self.ranker_bundle:
            raise ConfigError("a variant uses ranker: learned, so ranker_bundle must name a `mmei train-ranker` bundle")
        if self.ranker_bundle and not (Path(self.ranker_bundle) / "ranker.json").is_file():
            raise ConfigError(f"ranker_bundle {self.ranker_bundle} is not a ranker bundle (no ranker.json)")


def load_serve_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> ServeConfig:
    return load_typed(ServeConfig, path, overrides)


def from_args(args: dict[str, Any]) -> ServeConfig:
    """Application-builder args (`serve run ... config=FILE bundle=DIR port=8001`, or a Serve
    config's `args:`, where values may be numbers, mappings and lists: JSON is YAML)."""
    args = dict(args)
    path = args.pop("config", None)
    return load_serve_config(path, [f"{key}={value if isinstance(value, str) else json.dumps(value)}"
                                    for key, value in args.items()])
