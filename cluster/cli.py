"""The `mmei` command. Only verbs that work exist; each later stage adds its own.

    mmei data synth --out DIR [--samples N] [--seed S] [--config tiny] [key=value ...]
    mmei quickstart [--workdir DIR] [--samples N]

Errors in what the user gave (a config key, a file) print one line naming it and
exit with status 2; they never print a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mmei.platform.bundle import BundleError
from mmei.platform.config import ConfigError, load_config
from mmei.platform.features import FeatureError
from mmei.platform.text_weights import TextWeightsMissing

USER_ERRORS = (ConfigError, FeatureError, BundleError, TextWeightsMissing, FileExistsError, FileNotFoundError)


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


def cmd_quickstart(args: argparse.Namespace) -> int:
    from mmei.cluster.quickstart import run_quickstart

    return run_quickstart(Path(args.workdir), args.samples, args.config, list(args.overrides))


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

    quick = verbs.add_parser("quickstart", help="the whole platform on this machine, on synthetic data")
    quick.add_argument("--workdir", default="runs/quickstart", help="where outputs land (default: runs/quickstart)")
    quick.add_argument("--samples", type=int, default=600, help="synthetic corpus size (default: 600)")
    quick.add_argument("--config", default="tiny", help="preset name or YAML path (default: tiny)")
    quick.add_argument("overrides", nargs="*", help="key=value config overrides")
    quick.set_defaults(run=cmd_quickstart)
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
