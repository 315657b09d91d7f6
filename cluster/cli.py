"""The `mmei` command. Only verbs that work exist; each later stage adds its own.

    mmei data synth --out DIR [--samples N] [--seed S] [--config tiny] [key=value ...]
    mmei data import --format mmsa|mintrec|meld|folder --input PATH --output DIR
    mmei data prepare --input DIR --output DIR [--config tiny] [--address ADDR] [key=value ...]
    mmei train --data FEATURES --output DIR [--config tiny] [--resume] [--address ADDR] [key=value ...]
    mmei eval --bundle DIR --data FEATURES --output DIR [--split test]
    mmei eval --compare --data FEATURES --output DIR [--seeds 3] [--config tiny] [key=value ...]
    mmei quickstart [--workdir DIR] [--samples N]
    mmei bench data [--samples N]
    mmei bench train [--samples N]

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


def cmd_data_import(args: argparse.Namespace) -> int:
    from mmei.pipelines.sources.importers import import_dataset

    report = import_dataset(args.format, Path(args.input), Path(args.output))
    print(f"imported {report['rows']} {args.format} samples to {args.output}: splits {report['splits']}, "
          f"present {report['present']}, labelled {report['labelled']}")
    if report["prepare_overrides"]:
        print(f"prepare with: mmei data prepare --input {args.output} --output FEATURES "
              f"{' '.join(report['prepare_overrides'])}")
    return 0


def cmd_data_prepare(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.prepare import check_inputs, run_preparation

    config = load_config(args.config, list(args.overrides))
    inputs = check_inputs(Path(args.input), Path(args.output))  # fail fast, before starting Ray
    with ray_session(args.address):
        run_preparation(inputs, Path(args.output), config, batch_size=args.batch_size)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.train import run_training

    config = load_config(args.config, list(args.overrides))
    with ray_session(args.address):
        run_training(config, Path(args.data), Path(args.output), resume=args.resume)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.evaluate import full_evaluation
    from mmei.pipelines.report import write_eval_report

    if args.compare:
        from mmei.pipelines.compare import run_compare

        config = load_config(args.config, list(args.overrides))
        with ray_session(args.address):
            run_compare(config, Path(args.data), Path(args.output), args.seeds, args.models)
        print(f"table: {Path(args.output) / 'compare.md'}")
        return 0
    if not args.bundle:
        raise UserInputError("mmei eval needs --bundle (or --compare)")
    with ray_session(args.address):
        result = full_evaluation(Path(args.bundle), Path(args.data), args.split)
    report = write_eval_report(result, Path(args.output))
    m = result["metrics"]
    print(f"{result['model_type']} on {result['rows']} {args.split} rows: macro-F1 mean {m['macro_f1_mean']:.4f}, "
          f"joint loss {m['loss']:.4f}; report {report}")
    return 0


def cmd_quickstart(args: argparse.Namespace) -> int:
    from mmei.cluster.quickstart import run_quickstart

    return run_quickstart(Path(args.workdir), args.samples, args.config, list(args.overrides))


def cmd_bench_data(args: argparse.Namespace) -> int:
    from mmei.cluster.bench_data import run_bench

    run_bench(args.samples, args.batch_size)
    return 0


def cmd_bench_train(args: argparse.Namespace) -> int:
    from mmei.cluster.bench_train import run_bench

    run_bench(args.samples)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmei", description="Train, tune and serve MMEI on Ray.")
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
    imp.add_argument("--format", required=True, choices=["mmsa", "mintrec", "meld", "folder"])
    imp.add_argument("--input", required=True, help="a pickle (mmsa) or a folder (mintrec, meld, folder)")
    imp.add_argument("--output", required=True, help="new folder for the modality shards")
    imp.set_defaults(run=cmd_data_import)

    prep = data_verbs.add_parser("prepare", help="Ray Data: modality shards → feature shards, bad rows quarantined")
    prep.add_argument("--input", required=True, help="folder of modality-shard Parquet files")
    prep.add_argument("--output", required=True, help="new folder for feature shards, _quarantine/ and manifest.json")
    prep.add_argument("--config", default="tiny", help="preset name or YAML path (default: tiny)")
    prep.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local cluster)")
    prep.add_argument("--batch-size", type=int, default=32, help="rows per featurization batch (default: 32)")
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
    evaluate.add_argument("--data", required=True, help="a folder written by `mmei data prepare`")
    evaluate.add_argument("--output", required=True, help="where report.md, metrics.json and PNGs go")
    evaluate.add_argument("--split", default="test", choices=["train", "val", "test"])
    evaluate.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local cluster)")
    evaluate.add_argument("overrides", nargs="*", help="key=value overrides for --compare, e.g. train.epochs=5")
    evaluate.set_defaults(run=cmd_eval)

    quick = verbs.add_parser("quickstart", help="the whole platform on this machine, on synthetic data")
    quick.add_argument("--workdir", default="runs/quickstart", help="where outputs land (default: runs/quickstart)")
    quick.add_argument("--samples", type=int, default=600, help="synthetic corpus size (default: 600)")
    quick.add_argument("--config", default="tiny", help="preset name or YAML path (default: tiny)")
    quick.add_argument("overrides", nargs="*", help="key=value config overrides")
    quick.set_defaults(run=cmd_quickstart)
    bench = verbs.add_parser("bench", help="benchmarks that print ratios against a side-by-side baseline")
    bench_verbs = bench.add_subparsers(dest="bench_verb", required=True)
    bench_data = bench_verbs.add_parser("data", help="Ray Data preparation vs a single-process loop")
    bench_data.add_argument("--samples", type=int, default=3000, help="synthetic samples to prepare (default: 3000)")
    bench_data.add_argument("--batch-size", type=int, default=32, help="rows per featurization batch (default: 32)")
    bench_data.set_defaults(run=cmd_bench_data)
    bench_train = bench_verbs.add_parser("train", help="Ray Train + DeepSpeed vs a raw single-process loop")
    bench_train.add_argument("--samples", type=int, default=800, help="synthetic samples (default: 800)")
    bench_train.set_defaults(run=cmd_bench_train)
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
