"""The `mmei` command: what each verb does. Its grammar is cluster/cli_parser.py.

    mmei data synth --output DIR [--samples N] [--seed S] [--config tiny] [key=value ...]
    mmei data import --format mmsa|mintrec|meld|folder|table --input PATH --output DIR [--text-column C] ...
    mmei data prepare --input DIR --output DIR [--config tiny] [--seed S] [--keep-order] [--address ADDR] [key=value ...]
    mmei data synth-catalog --output FILE [--items N] [--seed S]
    mmei data simulate-interactions --output DIR [--users U] [--days D] [--seed S] [--policy random|ab|explore]
    mmei train --data FEATURES --output DIR [--config tiny] [--resume] [--address ADDR] [key=value ...]
    mmei eval --bundle DIR --data FEATURES --output DIR [--split test]
    mmei eval --compare --data FEATURES --output DIR [--seeds 3] [--models ...] [--config tiny] [key=value ...]
    mmei tune --data FEATURES --output DIR [--trials N] [--model TYPE] [--search random|optuna|hyperopt] ...
    mmei tune --output DIR --resume
    mmei ranker train|eval --store URL|--logs DIR --output DIR [--seed S] [--seeds 3] [--emotion-blind]
    mmei ranker ope --store URL|--logs DIR --output DIR --bundle DIR|--strategy S [--reward positive|engagement]
                    [--clip W] [--days D]
    mmei serve --bundle DIR [--serve-config FILE] [--port 8000] [--address ADDR] [--write-config FILE] [key=value ...]
    mmei ab report --store URL --output DIR [--since T] [--control NAME] [--mde 0.05] [--serve-config YAML]
                   [--cuped-before T]
    mmei quickstart [--output DIR] [--samples N] [--port 8000] [--exit] [--compare-seeds 2] [--models M ...]
    mmei submit [--jobs-url URL] [--wait] -- mmei <verb> <args>
    mmei jobs list|status|logs|stop [JOB_ID] [--jobs-url URL] [--follow]
    mmei bench data|train|serve|text|audio|visual|ope ...
    mmei -v VERB ...   the same, with Ray's and DeepSpeed's own logs on the console

Errors in what the user gave (a config key, a file, a flag a mode ignores) print one
line naming it and exit with status 2; they never print a traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from mmei.cluster.cli_parser import MODEL_TYPES, build_parser
from mmei.platform.config import load_config
from mmei.platform.errors import UserInputError
from mmei.platform.stop_signals import ForcedStop, as_stop

USER_ERRORS = (UserInputError, FileExistsError, FileNotFoundError)


def cmd_data_synth(args: argparse.Namespace) -> int:
    from mmei.pipelines.sources.synthetic import write_corpus

    overrides = list(args.overrides)
    if args.samples is not None:
        overrides.append(f"corpus.samples={args.samples}")
    if args.seed is not None:
        overrides.append(f"corpus.seed={args.seed}")
    config = load_config(args.config, overrides)
    print(f"writing a SYNTHETIC corpus of {config.corpus.samples} samples (seed {config.corpus.seed}) to {args.output}")
    summary = write_corpus(Path(args.output), config.corpus, config.labels, config.features)
    missing = ", ".join(f"{m} {rate:.1%}" for m, rate in summary["missing_rate"].items())
    print(f"done: {summary['rows']} SYNTHETIC rows, splits {summary['splits']}, missing {missing}; "
          f"story and counts in {args.output}/_SYNTHETIC.md and _summary.json")
    return 0


def table_options(args: argparse.Namespace) -> dict | None:
    """The table format's column options; other formats refuse them."""
    from mmei.pipelines.sources.table import parse_label_columns

    flags = {"text_column": "--text-column", "label_columns": "--label-column", "split_column": "--split-column",
             "id_column": "--id-column", "audio_column": "--audio-column", "image_column": "--image-column"}
    given = {key: getattr(args, flag[2:].replace("-", "_")) for key, flag in flags.items()}
    if args.format != "table":
        used = [flags[key] for key, value in given.items() if value]
        if used:
            raise UserInputError(f"{', '.join(used)} only apply to --format table")
        return None
    options = {key: value for key, value in given.items() if value}
    if args.label_column:
        options["label_columns"] = parse_label_columns(args.label_column)
    return options


def cmd_data_import(args: argparse.Namespace) -> int:
    from mmei.pipelines.sources.importers import import_dataset
    from mmei.pipelines.sources.shards import REJECTED_FILE

    report = import_dataset(args.format, Path(args.input), Path(args.output), table_options(args),
                            allow_outside_root=args.allow_outside_root)
    print(f"imported {report['rows']} {args.format} samples to {args.output}: splits {report['splits']}, "
          f"present {report['present']}, labelled {report['labelled']}")
    if report["files_rejected"]:
        refused = sum(report["files_rejected"].values())
        print(f"{report['files_in']} files in = {report['rows']} samples + {refused} rejected "
              f"{report['files_rejected']}, each kept aside with its reason in {Path(args.output) / REJECTED_FILE}")
    if report["text_tokens"]:
        lengths = report["text_tokens"]
        print(f"text length in tokens: p50 {lengths['p50']}, p95 {lengths['p95']}, p99 {lengths['p99']}, "
              f"max {lengths['max']}")
    if report["prepare_overrides"]:
        print(f"prepare with: mmei data prepare --input {args.output} --output FEATURES "
              f"{' '.join(report['prepare_overrides'])}")
    return 0


def cmd_data_prepare(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.prepare import check_inputs, run_preparation

    config = load_config(args.config, list(args.overrides))
    inputs = check_inputs(Path(args.input), Path(args.output))  # fail fast, before starting Ray
    with ray_session(args.address, quiet=not args.verbose, announce=print):
        run_preparation(inputs, Path(args.output), config, batch_size=args.batch_size, seed=args.seed,
                        keep_order=args.keep_order, show_progress=True)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.feature_dataset import read_manifest
    from mmei.pipelines.train import run_training

    config = load_config(args.config, list(args.overrides))
    read_manifest(args.data)  # a wrong --data fails before a Ray cluster starts
    with ray_session(args.address, quiet=not args.verbose, announce=print):
        run_training(config, Path(args.data), Path(args.output), resume=args.resume, show_progress=True)
    return 0


def refuse(args: argparse.Namespace, names: dict[str, str], mode: str) -> None:
    """Options a mode ignores are refused, never silently dropped."""
    given = [flag for dest, flag in names.items() if getattr(args, dest) not in (None, False, [])]
    if given:
        raise UserInputError(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply {mode}")


def cmd_eval(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.evaluate import full_evaluation
    from mmei.pipelines.report import write_eval_report

    if args.compare:
        from mmei.pipelines.compare import run_compare

        refuse(args, {"bundle": "--bundle", "split": "--split"}, "with --compare (it trains its own bundles and "
                                                                  "evaluates them on test)")
        config = load_config(args.config or "tiny", list(args.overrides))
        with ray_session(args.address, quiet=not args.verbose, announce=print):
            run_compare(config, Path(args.data), Path(args.output), args.seeds or 3, args.models,
                        Path(args.tuned) if args.tuned else None, show_progress=True,
                        parallel_runs=args.parallel_runs or 1)
        print(f"table: {Path(args.output) / 'compare.md'}")
        return 0
    refuse(args, {"seeds": "--seeds", "models": "--models", "config": "--config", "tuned": "--tuned",
                  "parallel_runs": "--parallel-runs",
                  "overrides": "key=value overrides"}, "without --compare (a bundle carries its own config)")
    if not args.bundle:
        raise UserInputError("mmei eval needs --bundle (or --compare)")
    split = args.split or "test"
    with ray_session(args.address, quiet=not args.verbose, announce=print):
        result = full_evaluation(Path(args.bundle), Path(args.data), split)
    report = write_eval_report(result, Path(args.output))
    m = result["metrics"]
    print(f"{result['model_type']} on {result['rows']} {split} rows: macro-F1 mean {m['macro_f1_mean']:.4f}, "
          f"joint loss {m['loss']:.4f}; report {report}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.tuning.sweep import resume_sweep, run_sweep

    if args.resume:
        refuse(args, {"data": "--data", "trials": "--trials", "overrides": "key=value overrides"},
                 "with --resume (the sweep keeps its own)")
        with ray_session(args.address, quiet=not args.verbose, announce=print):
            resume_sweep(Path(args.output))
        return 0
    if not args.data:
        raise UserInputError("mmei tune needs --data (or --resume to continue the sweep in --output)")
    config = load_config(args.config, [f"model.type={args.model}", *args.overrides])
    with ray_session(args.address, quiet=not args.verbose, announce=print):
        run_sweep(config, Path(args.data), Path(args.output), args.trials or 8,
                  Path(args.space) if args.space else None, args.search, args.scheduler, args.head,
                  args.max_concurrent)
    return 0


def cmd_data_synth_catalog(args: argparse.Namespace) -> int:
    from mmei.pipelines.sources.synthetic_catalog import write_catalog

    path = write_catalog(Path(args.output), args.items, args.seed, load_config(args.config).labels)
    print(f"wrote {args.items} SYNTHETIC catalog items to {path}")
    return 0


def cmd_data_simulate(args: argparse.Namespace) -> int:
    from mmei.pipelines.sources.interactions import write_interactions

    items, labels = catalog_and_labels(args)
    if not 0 <= args.epsilon <= 1:
        raise UserInputError(f"--epsilon must be in [0, 1], got {args.epsilon}")
    summary = write_interactions(Path(args.output), items, labels, args.users, args.days, args.seed,
                                 policy=args.policy, epsilon=args.epsilon)
    print(f"wrote {summary['requests']} SYNTHETIC requests and {summary['feedback_events']} feedback events "
          f"to {summary['store_url']}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.serving.config import load_serve_config
    from mmei.serving.launch import serve_until_stopped, start

    overrides = list(args.overrides)
    if args.bundle:
        overrides.append(f"bundle={args.bundle}")
    if args.port:
        overrides.append(f"port={args.port}")
    config = load_serve_config(args.serve_config, overrides)
    if args.write_config:
        from mmei.serving.deploy_config import write_deploy_config

        print(f"wrote {write_deploy_config(config, Path(args.write_config))}; deploy it with `serve deploy`")
        return 0
    config.check_auth(os.environ.get(config.api_key_env) or None)  # before Ray starts: an open API is refused
    config.user_secret(os.environ)  # user tokens named but their secret unset: refused here too
    bundled = config.bundle and (Path(config.bundle) / "bundle.json").is_file()
    if config.mode == "recommend" and not config.catalog and bundled:
        problem = config.catalog_problem()
        if problem:  # the shipped catalog does not fit the bundle's labels: recognition still can be served
            config = dataclasses.replace(config, mode="analyze")
            print(f"serving recognition only (mode=analyze): {problem}", flush=True)
    config.check_paths()  # a catalog the user named must fit: fails here in a second, not in a replica
    with ray_session(args.address, quiet=not args.verbose, announce=print):
        url = start(config)
        print(f"serving {config.bundle} at {url} (docs: {url}/docs); Ctrl-C or SIGTERM stops it after a drain",
              flush=True)
        key = f" -H \"X-API-Key: ${config.api_key_env}\"" if config.client_headers(os.environ) else ""
        if config.mode == "recommend":
            print(f"  curl -s {url}/v1/recommend{key} -H 'content-type: application/json' "
                  f"-d '{{\"user_id\": \"u1\", \"text\": \"I could use something calming\", \"k\": 3}}'", flush=True)
        else:
            print(f"  curl -s {url}/v1/analyze{key} -H 'content-type: application/json' "
                  f"-d '{{\"user_id\": \"u1\", \"audio\": \"'$(base64 -w0 CLIP.wav)'\"}}'", flush=True)
        serve_until_stopped(config, shared_cluster=bool(args.address or os.environ.get("RAY_ADDRESS")))
    return 0


def parse_time(text: str | None) -> float | None:
    """Unix seconds or an ISO 8601 time (UTC when it has no zone)."""
    if text is None:
        return None
    from datetime import datetime, timezone

    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserInputError(f"time {text!r} is neither unix seconds nor ISO 8601 (2026-11-26T12:00)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def parse_fractions(text: str | None) -> dict[str, float]:
    if not text:
        return {}
    try:
        return {name: float(value) for name, value in (part.split("=", 1) for part in text.split(","))}
    except ValueError:
        raise UserInputError(f"--fractions must look like control=0.5,treatment=0.5, got {text!r}") from None


def cmd_ab_report(args: argparse.Namespace) -> int:
    from mmei.pipelines.ab_report import write_ab_report

    fractions, source = parse_fractions(args.fractions), "--fractions"
    if args.serve_config:
        from mmei.serving.config import load_serve_config

        refuse(args, {"fractions": "--fractions"}, "with --serve-config (its arms give the split)")
        fractions = {variant.name: variant.fraction for variant in load_serve_config(Path(args.serve_config), []).variants}
        source = f"serving config {args.serve_config}"
    write_ab_report(args.store, Path(args.output), args.control, parse_time(args.since), fractions,
                    args.mde, parse_time(args.cuped_before), fractions_from=source)
    return 0


def catalog_and_labels(args: argparse.Namespace):
    """--catalog (default: the shipped SYNTHETIC one), checked against --config's label spaces."""
    from mmei.platform.catalog import load_catalog
    from mmei.serving.config import DEFAULT_CATALOG

    labels = load_config(args.config).labels
    return load_catalog(Path(args.catalog) if args.catalog else DEFAULT_CATALOG, labels), labels


def store_url_of(args: argparse.Namespace) -> str:
    if bool(args.store) == bool(args.logs):
        raise UserInputError("give exactly one of --store URL or --logs DIR (a simulate-interactions folder)")
    if args.logs:
        database = Path(args.logs) / "synthetic-interactions.db"
        if not database.is_file():
            raise UserInputError(f"{args.logs} holds no synthetic-interactions.db")
        return f"sqlite:///{database.resolve()}"
    return args.store


def cmd_train_ranker(args: argparse.Namespace) -> int:  # mmei ranker train
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.train_ranker import train_ranker

    items, labels = catalog_and_labels(args)
    if args.clip is not None and args.clip <= 0:
        raise UserInputError(f"--clip must be > 0, got {args.clip}")
    with ray_session(args.address, quiet=not args.verbose, announce=print):
        train_ranker(store_url_of(args), Path(args.output), items, labels, args.holdout_days, args.epochs, args.seed,
                     args.inputs, clip=args.clip)
    return 0


def cmd_eval_ranker(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.eval_ranker import run_eval_ranker

    items, labels = catalog_and_labels(args)
    with ray_session(args.address, quiet=not args.verbose, announce=print):
        run_eval_ranker(store_url_of(args), Path(args.output), items, labels, args.seeds, args.holdout_days, args.epochs)
    return 0


def cmd_ranker_ope(args: argparse.Namespace) -> int:
    from mmei.pipelines.off_policy_eval import bundle_candidate, run_ope, strategy_candidate

    items, labels = catalog_and_labels(args)
    if args.clip is not None and args.clip <= 0:
        raise UserInputError(f"--clip must be > 0, got {args.clip}")
    if args.days is not None and args.days < 1:
        raise UserInputError(f"--days must be >= 1, got {args.days}")
    if args.bundle:
        candidate, name = bundle_candidate(Path(args.bundle), items), f"ranker bundle {args.bundle}"
    else:
        candidate, name = strategy_candidate(items, labels, args.strategy), f"affect ranker ({args.strategy})"
    run_ope(store_url_of(args), candidate, name, Path(args.output), items, labels, args.reward, args.clip, args.days)
    return 0


def cmd_quickstart(args: argparse.Namespace) -> int:
    from mmei.cluster.quickstart import run_quickstart

    if args.compare_seeds == 0:
        refuse(args, {"models": "--models"}, "with --compare-seeds 0 (nothing is compared)")
    return run_quickstart(Path(args.output), args.samples, args.config, list(args.overrides), args.port, args.exit,
                          args.compare_seeds, verbose=args.verbose, models=args.models,
                          parallel_runs=args.parallel_runs or 1)


def cmd_submit(args: argparse.Namespace) -> int:
    from mmei.cluster.jobs import submit

    command = args.command_line[1:] if args.command_line[:1] == ["--"] else args.command_line
    if command[:1] == ["mmei"]:
        command = command[1:]
    if command[:1] in (["submit"], ["jobs"]):
        raise UserInputError(f"`mmei {command[0]}` runs here, not as a job")
    parse(command)  # a typo fails here, with argparse's message, not on the cluster
    return submit(command, args.jobs_url, args.wait)


def cmd_jobs(args: argparse.Namespace) -> int:
    from mmei.cluster import jobs

    url = args.jobs_url
    if args.jobs_verb == "list":
        return jobs.list_jobs(url)
    if args.jobs_verb == "status":
        return jobs.job_status(args.job_id, url)
    if args.jobs_verb == "logs":
        return jobs.job_logs(args.job_id, url, follow_logs=args.follow)
    return jobs.stop_job(args.job_id, url)


def cmd_bench_data(args: argparse.Namespace) -> int:
    from mmei.cluster.bench_data import run_bench

    run_bench(args.samples, args.batch_size, args.texts)
    return 0


def cmd_bench_train(args: argparse.Namespace) -> int:
    from mmei.cluster.bench_train import run_bench

    run_bench(args.samples)
    return 0


def cmd_bench_serve(args: argparse.Namespace) -> int:
    from mmei.cluster.bench_serve import run_bench

    run_bench(args.requests, args.throughput_requests, rounds=args.rounds)
    return 0


def cmd_bench_ope(args: argparse.Namespace) -> int:
    from mmei.cluster.bench_ope import run_bench

    try:
        sizes = tuple(int(size) for size in args.users.split(","))
    except ValueError:
        raise UserInputError(f"--users takes comma-separated user counts, got {args.users!r}") from None
    if args.seeds < 1 or min(sizes) < 2 or not 0 < args.epsilon <= 1:
        raise UserInputError("--seeds must be >= 1, every --users >= 2 and --epsilon in (0, 1]")
    items, labels = catalog_and_labels(args)
    run_bench(items, labels, Path(args.output) if args.output else None, sizes, args.seeds, epsilon=args.epsilon)
    return 0


def cmd_bench_text(args: argparse.Namespace) -> int:
    from mmei.cluster.bench_text import run_bench

    if args.seeds < 1 or args.epochs < 1:
        raise UserInputError("--seeds and --epochs must be >= 1")
    run_bench(Path(args.output), args.epochs, args.seeds, list(args.overrides))
    return 0


def cmd_bench_media(args: argparse.Namespace) -> int:
    from mmei.cluster.bench_media import run_bench

    if args.seeds < 1 or (args.epochs is not None and args.epochs < 1):
        raise UserInputError("--seeds and --epochs must be >= 1")
    run_bench(args.command.split()[1], Path(args.input), Path(args.output), args.epochs, args.seeds,
              list(args.overrides))
    return 0


COMMANDS = {
    "data synth": cmd_data_synth, "data import": cmd_data_import, "data prepare": cmd_data_prepare,
    "data synth-catalog": cmd_data_synth_catalog, "data simulate-interactions": cmd_data_simulate,
    "train": cmd_train, "eval": cmd_eval, "tune": cmd_tune, "ranker train": cmd_train_ranker,
    "ranker eval": cmd_eval_ranker, "serve": cmd_serve, "ab report": cmd_ab_report, "quickstart": cmd_quickstart,
    "submit": cmd_submit, "jobs": cmd_jobs, "bench data": cmd_bench_data, "bench train": cmd_bench_train,
    "bench serve": cmd_bench_serve, "bench text": cmd_bench_text, "bench ope": cmd_bench_ope,
    "ranker ope": cmd_ranker_ope,
    "bench audio": cmd_bench_media, "bench visual": cmd_bench_media,
}


def notice(text: str) -> None:
    print(f"mmei: note: {text}; the old name works for one more release", file=sys.stderr)


def old_names(args: argparse.Namespace) -> dict[str, tuple[str, str]]:
    """Hidden old option → (the option it became, the notice)."""
    return {"output_old": ("output", f"{getattr(args, 'output_old_name', '--out')} is now --output"),
            "trials_old": ("trials", "tune --samples is now --trials"),
            "serve_config_old": ("serve_config", "serve --config is now --serve-config (--config always means a "
                                                 "model preset)"),
            "jobs_url_old": ("jobs_url", f"{args.command} --address is now --jobs-url (--address always means a "
                                         "Ray cluster address)")}


def parse(argv: list[str]) -> argparse.Namespace:
    """Parse, then what argparse cannot express: every old option name folded into its
    new one (with a notice), and --output required under either name."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for old, (new, message) in old_names(args).items():
        if getattr(args, old, None) is not None:
            notice(message)
            if getattr(args, new) is None:
                setattr(args, new, getattr(args, old))
    if hasattr(args, "output_required"):
        args.output = args.output if args.output is not None else args.output_default
        if args.output is None and args.output_required:
            parser.error(f"mmei {args.command}: the following arguments are required: --output")
    if getattr(args, "old_verb", None):
        notice(f"`mmei {args.old_verb}` is now `mmei {args.command}`")
    if getattr(args, "models", None):
        args.overrides = [*args.overrides, *(item for item in args.models if "=" in item)]  # in argv order
        args.models = [item for item in args.models if "=" not in item]
        unknown = [model for model in args.models if model not in MODEL_TYPES]
        if unknown or not args.models:
            parser.error(f"mmei {args.command}: --models takes model names ({', '.join(MODEL_TYPES)}), "
                         f"not {' '.join(unknown) or 'only key=value overrides'}")
    return args


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub
    os.environ.setdefault("WANDB_MODE", "offline")
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        return COMMANDS[args.command](args)
    except USER_ERRORS as error:
        print(f"mmei: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        stop = as_stop(interrupt)
        if stop is None:
            print("mmei: interrupted", file=sys.stderr)
            return 130
        how = f"at once by a second {stop.name}" if isinstance(stop, ForcedStop) else f"by {stop.name}"
        print(f"mmei: stopped {how} before the work was done; Ray is shut down", file=sys.stderr)
        return stop.exit_code


if __name__ == "__main__":
    sys.exit(main())
