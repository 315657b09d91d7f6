"""The `mmei` command. Only verbs that work exist; each later stage adds its own.

    mmei data synth --out DIR [--samples N] [--seed S] [--config tiny] [key=value ...]
    mmei data import --format mmsa|mintrec|meld|folder|table --input PATH --output DIR [--text-column C] ...
    mmei data prepare --input DIR --output DIR [--config tiny] [--seed S] [--keep-order] [--address ADDR] [key=value ...]
    mmei train --data FEATURES --output DIR [--config tiny] [--resume] [--address ADDR] [key=value ...]
    mmei eval --bundle DIR --data FEATURES --output DIR [--split test]
    mmei eval --compare --data FEATURES --output DIR [--seeds 3] [--config tiny] [key=value ...]
    mmei tune --data FEATURES --output DIR [--samples N] [--model TYPE] [--search random|optuna|hyperopt] ...
    mmei tune --resume DIR
    mmei data synth-catalog --out FILE [--items N] [--seed S]
    mmei data simulate-interactions --out DIR [--users U] [--days D] [--seed S] [--policy random|ab]
    mmei serve --bundle DIR [--config FILE] [--port 8000] [--address ADDR] [--write-config FILE] [key=value ...]
    mmei train-ranker --store URL|--logs DIR --output DIR [--emotion-blind] [--seed S]
    mmei eval-ranker --store URL|--logs DIR --output DIR [--seeds 3]
    mmei ab report --store URL --output DIR [--since T] [--control NAME] [--mde 0.05] [--cuped-before T]
    mmei quickstart [--workdir DIR] [--samples N] [--port 8000] [--exit] [--compare-seeds 2]
    mmei submit [--address URL] [--wait] -- mmei <verb> <args>
    mmei jobs list|status|logs|stop [JOB_ID] [--address URL] [--follow]
    mmei bench data [--samples N]
    mmei bench train [--samples N]
    mmei bench serve [--requests N]
    mmei bench text [--output DIR] [--epochs 2] [--seeds 2] [key=value ...]

Errors in what the user gave (a config key, a file) print one line naming it and
exit with status 2; they never print a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mmei.platform.config import load_config
from mmei.platform.errors import UserInputError

USER_ERRORS = (UserInputError, FileExistsError, FileNotFoundError)


def cmd_data_synth(args: argparse.Namespace) -> int:
    from mmei.pipelines.sources.synthetic import write_corpus

    overrides = list(args.overrides)
    if args.samples is not None:
        overrides.append(f"corpus.samples={args.samples}")
    if args.seed is not None:
        overrides.append(f"corpus.seed={args.seed}")
    config = load_config(args.config, overrides)
    print(f"writing a SYNTHETIC corpus of {config.corpus.samples} samples (seed {config.corpus.seed}) to {args.out}")
    summary = write_corpus(Path(args.out), config.corpus, config.labels, config.features)
    missing = ", ".join(f"{m} {rate:.1%}" for m, rate in summary["missing_rate"].items())
    print(f"done: {summary['rows']} SYNTHETIC rows, splits {summary['splits']}, missing {missing}; "
          f"story and counts in {args.out}/_SYNTHETIC.md and _summary.json")
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

    report = import_dataset(args.format, Path(args.input), Path(args.output), table_options(args))
    print(f"imported {report['rows']} {args.format} samples to {args.output}: splits {report['splits']}, "
          f"present {report['present']}, labelled {report['labelled']}")
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
    with ray_session(args.address, quiet=not args.verbose):
        run_preparation(inputs, Path(args.output), config, batch_size=args.batch_size, seed=args.seed,
                        keep_order=args.keep_order)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.train import run_training

    config = load_config(args.config, list(args.overrides))
    with ray_session(args.address, quiet=not args.verbose):
        run_training(config, Path(args.data), Path(args.output), resume=args.resume, show_progress=True)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.evaluate import full_evaluation
    from mmei.pipelines.report import write_eval_report

    if args.compare:
        from mmei.pipelines.compare import run_compare

        config = load_config(args.config, list(args.overrides))
        with ray_session(args.address, quiet=not args.verbose):
            run_compare(config, Path(args.data), Path(args.output), args.seeds, args.models,
                        Path(args.tuned) if args.tuned else None)
        print(f"table: {Path(args.output) / 'compare.md'}")
        return 0
    if not args.bundle:
        raise UserInputError("mmei eval needs --bundle (or --compare)")
    with ray_session(args.address, quiet=not args.verbose):
        result = full_evaluation(Path(args.bundle), Path(args.data), args.split)
    report = write_eval_report(result, Path(args.output))
    m = result["metrics"]
    print(f"{result['model_type']} on {result['rows']} {args.split} rows: macro-F1 mean {m['macro_f1_mean']:.4f}, "
          f"joint loss {m['loss']:.4f}; report {report}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.tuning.sweep import resume_sweep, run_sweep

    if args.resume:
        with ray_session(args.address, quiet=not args.verbose):
            resume_sweep(Path(args.resume))
        return 0
    if not args.data or not args.output:
        raise UserInputError("mmei tune needs --data and --output (or --resume DIR)")
    config = load_config(args.config, [f"model.type={args.model}", *args.overrides])
    with ray_session(args.address, quiet=not args.verbose):
        run_sweep(config, Path(args.data), Path(args.output), args.samples,
                  Path(args.space) if args.space else None, args.search, args.scheduler, args.head,
                  args.max_concurrent)
    return 0


def cmd_data_synth_catalog(args: argparse.Namespace) -> int:
    from mmei.pipelines.sources.synthetic_catalog import write_catalog

    path = write_catalog(Path(args.out), args.items, args.seed, load_config(args.config).labels)
    print(f"wrote {args.items} SYNTHETIC catalog items to {path}")
    return 0


def cmd_data_simulate(args: argparse.Namespace) -> int:
    from mmei.pipelines.sources.interactions import write_interactions

    items, labels = catalog_and_labels(args)
    summary = write_interactions(Path(args.out), items, labels, args.users, args.days, args.seed, policy=args.policy)
    print(f"wrote {summary['requests']} SYNTHETIC requests and {summary['feedback_events']} feedback events "
          f"to {summary['store_url']}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import time

    from mmei.cluster.ray_session import ray_session
    from mmei.serving.config import load_serve_config
    from mmei.serving.launch import start, stop

    overrides = list(args.overrides)
    if args.bundle:
        overrides.append(f"bundle={args.bundle}")
    if args.port:
        overrides.append(f"port={args.port}")
    config = load_serve_config(args.config, overrides)
    if args.write_config:
        from mmei.serving.deploy_config import write_deploy_config

        print(f"wrote {write_deploy_config(config, Path(args.write_config))}; deploy it with `serve deploy`")
        return 0
    config.check_paths()
    config.check_auth(os.environ.get(config.api_key_env) or None)  # before Ray starts: an open API is refused
    with ray_session(args.address, quiet=not args.verbose):
        url = start(config)
        print(f"serving {config.bundle} at {url} (docs: {url}/docs); Ctrl-C stops", flush=True)
        print(f"  curl -s {url}/v1/recommend -H 'content-type: application/json' "
              f"-d '{{\"user_id\": \"u1\", \"text\": \"I could use something calming\", \"k\": 3}}'", flush=True)
        try:
            while True:
                time.sleep(3600)
        finally:
            stop()


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

    write_ab_report(args.store, Path(args.output), args.control, parse_time(args.since), parse_fractions(args.fractions),
                    args.mde, parse_time(args.cuped_before))
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


def cmd_train_ranker(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.train_ranker import train_ranker

    items, labels = catalog_and_labels(args)
    with ray_session(args.address, quiet=not args.verbose):
        train_ranker(store_url_of(args), Path(args.output), items, labels, args.holdout_days, args.epochs, args.seed,
                     args.emotion_blind)
    return 0


def cmd_eval_ranker(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.eval_ranker import run_eval_ranker

    items, labels = catalog_and_labels(args)
    with ray_session(args.address, quiet=not args.verbose):
        run_eval_ranker(store_url_of(args), Path(args.output), items, labels, args.seeds, args.holdout_days, args.epochs)
    return 0


def cmd_quickstart(args: argparse.Namespace) -> int:
    from mmei.cluster.quickstart import run_quickstart

    return run_quickstart(Path(args.workdir), args.samples, args.config, list(args.overrides), args.port, args.exit,
                          args.compare_seeds)


def cmd_submit(args: argparse.Namespace) -> int:
    from mmei.cluster.jobs import submit

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if command[:1] == ["mmei"]:
        command = command[1:]
    if command[:1] in (["submit"], ["jobs"]):
        raise UserInputError(f"`mmei {command[0]}` runs here, not as a job")
    build_parser().parse_args(command)  # a typo fails here, with argparse's message, not on the cluster
    return submit(command, args.address, args.wait)


def cmd_jobs(args: argparse.Namespace) -> int:
    from mmei.cluster import jobs

    if args.action == "list":
        return jobs.list_jobs(args.address)
    if not args.job_id:
        raise UserInputError(f"mmei jobs {args.action} needs a JOB_ID (see mmei jobs list)")
    if args.action == "status":
        return jobs.job_status(args.job_id, args.address)
    if args.action == "logs":
        return jobs.job_logs(args.job_id, args.address, follow_logs=args.follow)
    return jobs.stop_job(args.job_id, args.address)


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

    run_bench(args.requests, args.throughput_requests)
    return 0


def cmd_bench_text(args: argparse.Namespace) -> int:
    from mmei.cluster.bench_text import run_bench

    if args.seeds < 1 or args.epochs < 1:
        raise UserInputError("--seeds and --epochs must be >= 1")
    run_bench(Path(args.output), args.epochs, args.seeds, list(args.overrides))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmei", description="Train, tune and serve MMEI on Ray.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="forward Ray's, Ray Train's and DeepSpeed's own logs from the workers to the console "
                             "(by default they stay in Ray's log folder)")
    verbs = parser.add_subparsers(dest="verb", required=True)

    data = verbs.add_parser("data", help="datasets: generate, import, prepare")
    data_verbs = data.add_subparsers(dest="data_verb", required=True)
    synth = data_verbs.add_parser("synth", help="write the SYNTHETIC affect corpus as modality shards")
    synth.add_argument("--out", required=True, help="output folder (must hold no corpus yet)")
    synth.add_argument("--samples", type=int, help="number of samples (corpus.samples)")
    synth.add_argument("--seed", type=int, help="random seed (corpus.seed)")
    synth.add_argument("--config", default="tiny", help="preset name or YAML path (default: tiny)")
    synth.add_argument("overrides", nargs="*", help="key=value config overrides, e.g. corpus.missing_rate=0.3")
    synth.set_defaults(run=cmd_data_synth)

    imp = data_verbs.add_parser("import", help="known dataset layouts → modality shards")
    imp.add_argument("--format", required=True, choices=["mmsa", "mintrec", "meld", "folder", "table"])
    imp.add_argument("--input", required=True,
                     help="a pickle (mmsa), a folder (mintrec, meld, folder) or a .csv/.tsv/.jsonl/.parquet (table)")
    imp.add_argument("--output", required=True, help="new folder for the modality shards")
    imp.add_argument("--text-column", help="table: the text column (default: text)")
    imp.add_argument("--label-column", action="append", metavar="HEAD=COLUMN",
                     help="table: a label column per head, repeatable (default: columns named emotion, sentiment, "
                          "intent)")
    imp.add_argument("--split-column", help="table: train/val/test per row (default: split; without one, a "
                                            "seeded 80/10/10 split by id)")
    imp.add_argument("--id-column", help="table: the sample id (default: sample_id or id, else the row number)")
    imp.add_argument("--audio-column", help="table: audio file paths, relative to the table")
    imp.add_argument("--image-column", help="table: image file paths relative to the table; several joined by ;")
    imp.set_defaults(run=cmd_data_import)

    catalog = data_verbs.add_parser("synth-catalog", help="write a SYNTHETIC AIGC catalog (CSV) for serving")
    catalog.add_argument("--out", required=True, help="CSV path; its name is made to start with 'synthetic'")
    catalog.add_argument("--items", type=int, default=120, help="number of items (default: 120)")
    catalog.add_argument("--seed", type=int, default=0)
    catalog.add_argument("--config", default="tiny", help="preset whose label spaces the items use (default: tiny)")
    catalog.set_defaults(run=cmd_data_synth_catalog)

    simulate = data_verbs.add_parser("simulate-interactions",
                                     help="write a SYNTHETIC feedback log (users, moods, sessions) in the store's format")
    simulate.add_argument("--out", required=True, help="new folder for synthetic-interactions.db and _summary.json")
    simulate.add_argument("--users", type=int, default=500)
    simulate.add_argument("--days", type=int, default=14)
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--policy", default="random", choices=["random", "ab"],
                          help="random: uniform logging (for offline ranker evaluation); ab: control (congruent) vs "
                               "treatment (regulating) split by user hash (for mmei ab report)")
    simulate.add_argument("--catalog", help="catalog CSV/Parquet (default: the shipped SYNTHETIC catalog)")
    simulate.add_argument("--config", default="tiny", help="preset whose label spaces to use (default: tiny)")
    simulate.set_defaults(run=cmd_data_simulate)

    prep = data_verbs.add_parser("prepare", help="Ray Data: modality shards → feature shards, bad rows quarantined")
    prep.add_argument("--input", required=True, help="folder of modality-shard Parquet files")
    prep.add_argument("--output", required=True, help="new folder for feature shards, _quarantine/ and manifest.json")
    prep.add_argument("--config", default="tiny", help="preset name or YAML path (default: tiny)")
    prep.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local cluster)")
    prep.add_argument("--batch-size", type=int, default=32, help="rows per featurization batch (default: 32)")
    prep.add_argument("--seed", type=int, default=0, help="seed of the random row order written (default: 0)")
    prep.add_argument("--keep-order", action="store_true",
                      help="write rows in input order instead of a seeded random order")
    prep.add_argument("overrides", nargs="*", help="key=value config overrides, e.g. features.n_mels=64")
    prep.set_defaults(run=cmd_data_prepare)

    train = verbs.add_parser("train", help="Ray Train + DeepSpeed: train MMEI or a baseline on prepared features")
    train.add_argument("--data", required=True, help="a folder written by `mmei data prepare`")
    train.add_argument("--output", required=True, help="run folder: checkpoints, bundle/, history.json, wandb/")
    train.add_argument("--config", default="tiny", help="preset name or YAML path (default: tiny)")
    train.add_argument("--resume", action="store_true", help="continue the run in --output from its last checkpoint")
    train.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local cluster)")
    train.add_argument("overrides", nargs="*", help="key=value overrides, e.g. model.type=late_fusion train.zero_stage=3")
    train.set_defaults(run=cmd_train)

    evaluate = verbs.add_parser("eval", help="evaluate a bundle: metrics, confusion, ablation, robustness report")
    evaluate.add_argument("--bundle", help="a model bundle (mmei train's OUTPUT/bundle)")
    evaluate.add_argument("--compare", action="store_true", help="train MMEI and every baseline, same budget, and compare")
    evaluate.add_argument("--seeds", type=int, default=3, help="seeds per model with --compare (default: 3)")
    evaluate.add_argument("--models", nargs="+", choices=["mmei", "mult", "early_fusion", "late_fusion", "text_only"],
                          help="models to compare (default: all)")
    evaluate.add_argument("--config", default="tiny", help="preset or YAML for --compare (default: tiny)")
    evaluate.add_argument("--tuned", help="with --compare: DIR/<model>/best/config.yaml from `mmei tune` per model")
    evaluate.add_argument("--data", required=True, help="a folder written by `mmei data prepare`")
    evaluate.add_argument("--output", required=True, help="where report.md, metrics.json and PNGs go")
    evaluate.add_argument("--split", default="test", choices=["train", "val", "test"])
    evaluate.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local cluster)")
    evaluate.add_argument("overrides", nargs="*", help="key=value overrides for --compare, e.g. train.epochs=5")
    evaluate.set_defaults(run=cmd_eval)

    tune = verbs.add_parser("tune", help="Ray Tune sweep over the fusion hyperparameters (resumable)")
    tune.add_argument("--data", help="a folder written by `mmei data prepare`")
    tune.add_argument("--output", help="new sweep folder")
    tune.add_argument("--samples", type=int, default=8, help="number of trials (default: 8)")
    tune.add_argument("--model", default="mmei", choices=["mmei", "mult", "early_fusion", "late_fusion", "text_only"])
    tune.add_argument("--search", default="random", choices=["random", "optuna", "hyperopt"])
    tune.add_argument("--scheduler", default="asha", choices=["asha", "none"])
    tune.add_argument("--max-concurrent", type=int, help="cap on trials at once (default: as many as the CPUs hold)")
    tune.add_argument("--space", help="search-space YAML (default: tuning/fusion_space.yaml)")
    tune.add_argument("--head", choices=["emotion", "sentiment", "intent"],
                      help="optimise this head's val macro-F1 (default: the mean over heads)")
    tune.add_argument("--config", default="tiny", help="preset name or YAML path (default: tiny)")
    tune.add_argument("--resume", metavar="DIR", help="resume the interrupted sweep in DIR")
    tune.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local cluster)")
    tune.add_argument("overrides", nargs="*", help="key=value overrides for every trial, e.g. train.epochs=4")
    tune.set_defaults(run=cmd_tune)

    serve_verb = verbs.add_parser("serve", help="Ray Serve: the recommendation graph behind the HTTP API")
    serve_verb.add_argument("--bundle", help="model bundle folder (or bundle= in --config)")
    serve_verb.add_argument("--config", help="serving YAML (see serving/serve.yaml); default: built-in defaults")
    serve_verb.add_argument("--port", type=int, help="HTTP port (default: 8000, on 127.0.0.1)")
    serve_verb.add_argument("--write-config", metavar="FILE",
                            help="write the Serve config (for `serve deploy` / RayService) and exit")
    serve_verb.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local cluster)")
    serve_verb.add_argument("overrides", nargs="*", help="key=value serving overrides, e.g. store_url=sqlite:///f.db")
    serve_verb.set_defaults(run=cmd_serve)

    for name, helptext in (("train-ranker", "Ray Train: the learned ranker from logged feedback → a ranker bundle"),
                           ("eval-ranker", "rankers on held-out days over seeds: NDCG@10, Recall@10, simulated outcomes")):
        ranker = verbs.add_parser(name, help=helptext)
        ranker.add_argument("--store", help="SQLAlchemy URL of a store with logged feedback")
        ranker.add_argument("--logs", help="a `mmei data simulate-interactions` folder")
        ranker.add_argument("--output", required=True, help="bundle folder (train-ranker) or report folder (eval-ranker)")
        ranker.add_argument("--holdout-days", type=int, default=2, help="last days held out (default: 2)")
        ranker.add_argument("--epochs", type=int, default=8)
        ranker.add_argument("--catalog", help="catalog CSV/Parquet (default: the shipped SYNTHETIC catalog)")
        ranker.add_argument("--config", default="tiny", help="preset whose label spaces to use (default: tiny)")
        ranker.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local cluster)")
        if name == "train-ranker":
            ranker.add_argument("--seed", type=int, default=0)
            ranker.add_argument("--emotion-blind", action="store_true", help="the ablation: no emotion input")
            ranker.set_defaults(run=cmd_train_ranker)
        else:
            ranker.add_argument("--seeds", type=int, default=3)
            ranker.set_defaults(run=cmd_eval_ranker)

    ab = verbs.add_parser("ab", help="A/B analysis of stored feedback")
    ab_verbs = ab.add_subparsers(dest="ab_verb", required=True)
    ab_report = ab_verbs.add_parser("report", help="lift, 95%% CIs (Welch, bootstrap), p, power and SRM per variant")
    ab_report.add_argument("--store", required=True, help="SQLAlchemy URL of the serving store")
    ab_report.add_argument("--output", required=True, help="folder for ab_report.md, .json and PNGs")
    ab_report.add_argument("--since", help="only events from this time (unix seconds or ISO 8601)")
    ab_report.add_argument("--control", default="control", help="the control variant (default: control)")
    ab_report.add_argument("--mde", type=float, default=0.05, help="relative minimum detectable effect (default 0.05)")
    ab_report.add_argument("--fractions", help="configured split for the SRM check, e.g. control=0.5,treatment=0.5")
    ab_report.add_argument("--cuped-before", help="CUPED: events before this time are the pre-period covariate")
    ab_report.set_defaults(run=cmd_ab_report)

    quick = verbs.add_parser("quickstart", help="the whole platform on this machine, on synthetic data")
    quick.add_argument("--workdir", default="runs/quickstart", help="where outputs land (default: runs/quickstart)")
    quick.add_argument("--samples", type=int, default=600, help="synthetic corpus size (default: 600)")
    quick.add_argument("--config", default="tiny", help="preset name or YAML path (default: tiny)")
    quick.add_argument("--port", type=int, default=8000, help="HTTP port on 127.0.0.1 (default: 8000)")
    quick.add_argument("--exit", action="store_true", help="shut down after the sample requests instead of serving")
    quick.add_argument("--compare-seeds", type=int, default=2,
                       help="seeds for MMEI vs the baselines on the same budget; 0 skips it (default: 2)")
    quick.add_argument("overrides", nargs="*", help="key=value config overrides")
    quick.set_defaults(run=cmd_quickstart)

    jobs_address_help = "the head's Jobs API, e.g. http://127.0.0.1:8265 (default: RAY_JOBS_ADDRESS, else that)"
    submit_verb = verbs.add_parser("submit", help="run a verb as a Ray job on a cluster (Ray Jobs API)",
                                   description="Ships this project (built wheel) and the files the command names; "
                                               "sends the token from RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH / "
                                               "~/.ray/auth_token.")
    submit_verb.add_argument("--address", help=jobs_address_help)
    submit_verb.add_argument("--wait", action="store_true", help="stream the job's logs; exit 0 only if it succeeded")
    submit_verb.add_argument("command", nargs=argparse.REMAINDER, help="-- mmei <verb> <args>")
    submit_verb.set_defaults(run=cmd_submit)
    jobs_verb = verbs.add_parser("jobs", help="list, inspect, follow or stop Ray jobs")
    jobs_verb.add_argument("action", choices=["list", "status", "logs", "stop"])
    jobs_verb.add_argument("job_id", nargs="?", help="the id `mmei submit` printed")
    jobs_verb.add_argument("--address", help=jobs_address_help)
    jobs_verb.add_argument("--follow", action="store_true", help="logs: keep streaming until the job ends")
    jobs_verb.set_defaults(run=cmd_jobs)
    bench = verbs.add_parser("bench", help="benchmarks that print ratios against a side-by-side baseline")
    bench_verbs = bench.add_subparsers(dest="bench_verb", required=True)
    bench_data = bench_verbs.add_parser("data", help="Ray Data preparation vs a single-process loop")
    bench_data.add_argument("--samples", type=int, default=3000, help="synthetic samples to prepare (default: 3000)")
    bench_data.add_argument("--batch-size", type=int, default=32, help="rows per featurization batch (default: 32)")
    bench_data.add_argument("--texts", type=int, default=20000,
                            help="generated texts for the import and prepare-text lines; 0 skips them (default: 20000)")
    bench_data.set_defaults(run=cmd_bench_data)
    bench_train = bench_verbs.add_parser("train", help="Ray Train + DeepSpeed vs a raw single-process loop")
    bench_train.add_argument("--samples", type=int, default=800, help="synthetic samples (default: 800)")
    bench_train.set_defaults(run=cmd_bench_train)
    bench_text = bench_verbs.add_parser("text", help="the text path on REAL labelled text vs TF-IDF + logistic "
                                                     "regression, with a paired bootstrap CI")
    bench_text.add_argument("--output", default="runs/bench-text", help="new folder for every output "
                                                                        "(default: runs/bench-text)")
    bench_text.add_argument("--epochs", type=int, default=2, help="epochs per training run (default: 2)")
    bench_text.add_argument("--seeds", type=int, default=2, help="training runs, one per seed (default: 2)")
    bench_text.add_argument("overrides", nargs="*", help="key=value overrides of the text preset")
    bench_text.set_defaults(run=cmd_bench_text)
    bench_serve = bench_verbs.add_parser("serve", help="Serve graph vs in-process calls vs one FastAPI app")
    bench_serve.add_argument("--requests", type=int, default=100, help="requests at concurrency 1 (default: 100)")
    bench_serve.add_argument("--throughput-requests", type=int, default=320,
                             help="requests at concurrency 16 (default: 320)")
    bench_serve.set_defaults(run=cmd_bench_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub
    os.environ.setdefault("WANDB_MODE", "offline")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except USER_ERRORS as error:
        print(f"mmei: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mmei: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
