"""The `mmei` command line: one grammar for every verb.

A shared option is defined once, below, and means the same everywhere:

    --output DIR     where the verb writes (a new folder, or the run to --resume)
    --config PRESET  the model/training preset name or a YAML path (default: tiny)
    --address ADDR   the Ray cluster to run on (default: RAY_ADDRESS, else a local one)
    --seed S         the random seed of what the verb generates or trains
    --samples N      how many samples a generated corpus has
    --resume         continue the run in --output from where it stopped
    -v / --verbose   forward Ray's, Ray Train's and DeepSpeed's own logs to the console
    key=value        config overrides (nested keys dotted)

Names used before this grammar keep working for one release, hidden from --help:
--out (now --output), tune's --samples (now --trials), serve's --config (now
--serve-config), submit's and jobs' --address (now --jobs-url), quickstart's
--workdir (now --output), and the train-ranker / eval-ranker verbs (now `mmei ranker
train|eval`). Each prints a one-line notice when used.
"""
from __future__ import annotations

import argparse

MODEL_TYPES = ["mmei", "mult", "early_fusion", "late_fusion", "text_only"]  # = platform.models.build
RANKER_INPUTS = ["emotion-aware+history", "emotion-aware", "emotion-blind"]  # = platform.ranker_features
HIDDEN = argparse.SUPPRESS


def add_output(parser: argparse.ArgumentParser, help: str, required: bool = True, default: str | None = None,
               old: str = "--out") -> None:
    """--output, plus the hidden name it had before (checked after parsing, see required_outputs)."""
    parser.add_argument("--output", dest="output", help=help)  # default applied in parse, after the old name
    parser.add_argument(old, dest="output_old", help=HIDDEN)
    parser.set_defaults(output_required=required, output_old_name=old, output_default=default)


def add_config(parser: argparse.ArgumentParser, default: str | None = "tiny") -> None:
    parser.add_argument("--config", default=default,
                        help="model/training preset name or YAML path" + (f" (default: {default})" if default else ""))


def add_address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local cluster)")


def add_seed(parser: argparse.ArgumentParser, what: str, default: int | None = 0) -> None:
    parser.add_argument("--seed", type=int, default=default, help=f"random seed of {what}"
                        + (f" (default: {default})" if default is not None else ""))


def add_samples(parser: argparse.ArgumentParser, default: int | None) -> None:
    parser.add_argument("--samples", type=int, default=default,
                        help="samples in the generated SYNTHETIC corpus" + (f" (default: {default})" if default else ""))


def add_parallel_runs(parser: argparse.ArgumentParser, default: int, where: str) -> None:
    """`where` names the mode it belongs to; eval's default stays None so that eval without
    --compare can refuse it."""
    parser.add_argument("--parallel-runs", type=int, default=None if where.startswith("--") else default,
                        help=f"training runs at once on the cluster, each with its own workers ({where}default: "
                             f"{default}; raise it where CPUs or GPUs allow)")


def add_resume(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume", action="store_true", help="continue the run in --output from where it stopped")


def add_models(parser: argparse.ArgumentParser, help: str) -> None:
    """Checked in `mmei.cluster.cli.parse`: argparse's `nargs="+"` also swallows the
    `key=value` overrides that follow, which belong to the overrides instead."""
    parser.add_argument("--models", nargs="+", metavar="MODEL", help=f"{help}; one of {', '.join(MODEL_TYPES)}")


def add_overrides(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument("overrides", nargs="*", help=f"key=value config overrides, e.g. {example}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmei", description="Train, tune and serve MMEI on Ray.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="forward Ray's, Ray Data's, Ray Train's and DeepSpeed's own logs to the console "
                             "(by default they stay in Ray's log folder, which each verb names)")
    verbs = parser.add_subparsers(dest="verb", required=True)
    add_data_verbs(verbs)
    add_training_verbs(verbs)
    add_serving_verbs(verbs)
    add_cluster_verbs(verbs)
    add_bench_verbs(verbs)
    return parser


def add_data_verbs(verbs) -> None:
    data = verbs.add_parser("data", help="datasets: generate, import, prepare")
    data_verbs = data.add_subparsers(dest="data_verb", required=True)
    synth = data_verbs.add_parser("synth", help="write the SYNTHETIC affect corpus as modality shards")
    add_output(synth, "new folder for the corpus")
    add_samples(synth, None)
    add_seed(synth, "the corpus (corpus.seed)", default=None)
    add_config(synth)
    add_overrides(synth, "corpus.missing_rate=0.3")
    synth.set_defaults(command="data synth")

    imp = data_verbs.add_parser("import", help="known dataset layouts → modality shards")
    imp.add_argument("--format", required=True, choices=["mmsa", "mintrec", "meld", "folder", "table", "ravdess", "fer2013"])
    imp.add_argument("--input", required=True,
                     help="a pickle (mmsa), a folder (mintrec, meld, folder, ravdess, fer2013), a .csv/.tsv/.jsonl/"
                          ".parquet (table) or fer2013.csv (fer2013)")
    add_output(imp, "new folder for the modality shards")
    imp.add_argument("--text-column", help="table: the text column (default: text, when the table has one; "
                                           "audio-only and image-only tables need none)")
    imp.add_argument("--label-column", action="append", metavar="HEAD=COLUMN",
                     help="table: a label column per head, repeatable (default: columns named emotion, sentiment, "
                          "intent)")
    imp.add_argument("--split-column", help="table: train/val/test per row (default: split; without one, a "
                                            "seeded 80/10/10 split by id)")
    imp.add_argument("--id-column", help="table: the sample id (default: sample_id or id, else the row number)")
    imp.add_argument("--audio-column", help="table: audio file paths, relative to the table")
    imp.add_argument("--image-column", help="table: image file paths relative to the table; several joined by ;")
    imp.add_argument("--allow-outside-root", action="store_true",
                     help="read media whose path or link leads outside the dataset's folder (by default such "
                          "files are kept aside with a reason, never read)")
    imp.set_defaults(command="data import")

    catalog = data_verbs.add_parser("synth-catalog", help="write a SYNTHETIC AIGC catalog (CSV) for serving")
    add_output(catalog, "CSV path; its name is made to start with 'synthetic'")
    catalog.add_argument("--items", type=int, default=120, help="number of items (default: 120)")
    add_seed(catalog, "the catalog")
    add_config(catalog)
    catalog.set_defaults(command="data synth-catalog")

    simulate = data_verbs.add_parser("simulate-interactions",
                                     help="write a SYNTHETIC feedback log (users, moods, sessions) in the store's format")
    add_output(simulate, "new folder for synthetic-interactions.db and _summary.json")
    simulate.add_argument("--users", type=int, default=500)
    simulate.add_argument("--days", type=int, default=14)
    add_seed(simulate, "the simulation")
    simulate.add_argument("--policy", default="random", choices=["random", "ab", "explore"],
                          help="random: uniform logging (for offline ranker evaluation); ab: control (congruent) vs "
                               "treatment (regulating) split by user hash (for mmei ab report); explore: the congruent "
                               "ranker with epsilon-greedy slates and logged propensities (for mmei ranker ope)")
    simulate.add_argument("--epsilon", type=float, default=0.1,
                          help="--policy explore: the share of requests shown a uniformly random slate (default: 0.1)")
    simulate.add_argument("--catalog", help="catalog CSV/Parquet (default: the shipped SYNTHETIC catalog)")
    add_config(simulate)
    simulate.set_defaults(command="data simulate-interactions")

    prep = data_verbs.add_parser("prepare", help="Ray Data: modality shards → feature shards, bad rows quarantined")
    prep.add_argument("--input", required=True, help="folder of modality-shard Parquet files")
    add_output(prep, "new folder for feature shards, _quarantine/ and manifest.json")
    add_config(prep)
    add_address(prep)
    prep.add_argument("--batch-size", type=int, default=32, help="rows per featurization batch (default: 32)")
    add_seed(prep, "the random row order written")
    prep.add_argument("--keep-order", action="store_true",
                      help="write rows in input order instead of a seeded random order")
    add_overrides(prep, "features.n_mels=64")
    prep.set_defaults(command="data prepare")


def add_training_verbs(verbs) -> None:
    train = verbs.add_parser("train", help="Ray Train + DeepSpeed: train MMEI or a baseline on prepared features")
    train.add_argument("--data", required=True, help="a folder written by `mmei data prepare`")
    add_output(train, "run folder: checkpoints, bundle/, history.json, steps.jsonl, wandb/")
    add_config(train)
    add_resume(train)
    add_address(train)
    add_overrides(train, "model.type=late_fusion train.zero_stage=3")
    train.set_defaults(command="train")

    evaluate = verbs.add_parser("eval", help="evaluate a bundle (report), or --compare MMEI with every baseline")
    evaluate.add_argument("--data", required=True, help="a folder written by `mmei data prepare`")
    add_output(evaluate, "where report.md, metrics.json and PNGs go")
    evaluate.add_argument("--bundle", help="a model bundle (mmei train's OUTPUT/bundle); not with --compare")
    evaluate.add_argument("--split", choices=["train", "val", "test"],
                          help="the split a bundle is evaluated on (default: test); not with --compare")
    evaluate.add_argument("--compare", action="store_true", help="train MMEI and every baseline, same budget, and compare")
    evaluate.add_argument("--seeds", type=int, help="--compare: seeds per model (default: 3)")
    add_parallel_runs(evaluate, 1, "--compare: ")
    add_models(evaluate, "--compare: models to compare (default: all)")
    add_config(evaluate, default=None)
    evaluate.add_argument("--tuned", help="--compare: DIR/<model>/best/config.yaml from `mmei tune` per model")
    add_address(evaluate)
    add_overrides(evaluate, "train.epochs=5 (--compare only)")
    evaluate.set_defaults(command="eval")

    tune = verbs.add_parser("tune", help="Ray Tune sweep over the fusion hyperparameters (resumable)")
    tune.add_argument("--data", help="a folder written by `mmei data prepare` (not with --resume)")
    add_output(tune, "the sweep folder: new, or the one to --resume")
    add_resume(tune)
    tune.add_argument("--trials", type=int, help="number of trials (default: 8)")
    tune.add_argument("--samples", dest="trials_old", type=int, help=HIDDEN)
    tune.add_argument("--model", default="mmei", choices=MODEL_TYPES)
    tune.add_argument("--search", default="random", choices=["random", "optuna", "hyperopt"])
    tune.add_argument("--scheduler", default="asha", choices=["asha", "none"])
    tune.add_argument("--max-concurrent", type=int, help="cap on trials at once (default: as many as the CPUs hold)")
    tune.add_argument("--space", help="search-space YAML (default: tuning/fusion_space.yaml)")
    tune.add_argument("--head", choices=["emotion", "sentiment", "intent"],
                      help="optimise this head's val macro-F1 (default: the mean over heads)")
    add_config(tune)
    add_address(tune)
    add_overrides(tune, "train.epochs=4 (every trial)")
    tune.set_defaults(command="tune")

    ranker = verbs.add_parser("ranker", help="the learned ranker: train it on logged feedback, evaluate it")
    ranker_verbs = ranker.add_subparsers(dest="ranker_verb", required=True)
    for name, old in (("train", "train-ranker"), ("eval", "eval-ranker")):
        for parser in (ranker_verbs.add_parser(name, help=RANKER_HELP[name]),
                       verbs.add_parser(old)):  # the old name: no help, so --help does not list it
            add_ranker_options(parser, name)
            parser.set_defaults(command=f"ranker {name}", old_verb=old if parser.prog.endswith(old) else None)
    ope = ranker_verbs.add_parser("ope", help="off-policy estimate of a candidate ranker's value from a log with "
                                              "propensities: naive, IPS, SNIPS, DR with intervals")
    ope.add_argument("--store", help="SQLAlchemy URL of a store with logged feedback")
    ope.add_argument("--logs", help="a `mmei data simulate-interactions` folder")
    add_output(ope, "report folder (ope.md, ope.json)")
    candidate = ope.add_mutually_exclusive_group(required=True)
    candidate.add_argument("--bundle", help="the candidate: a ranker bundle (mmei ranker train)")
    candidate.add_argument("--strategy", choices=["congruent", "regulating"],
                           help="the candidate: the affect ranker with this strategy")
    ope.add_argument("--reward", choices=["positive", "engagement"], default="positive",
                     help="per slate: events with satisfaction >= 4, or engagement seconds (default: positive)")
    ope.add_argument("--clip", type=float, help="clip importance weights at this value: lower variance, biased down "
                                                "(default: no clipping)")
    ope.add_argument("--days", type=int, help="only the last D days of the log (default: all of it)")
    ope.add_argument("--catalog", help="catalog CSV/Parquet (default: the shipped SYNTHETIC catalog)")
    add_config(ope)
    ope.set_defaults(command="ranker ope")


RANKER_HELP = {"train": "Ray Train: the learned ranker from logged feedback → a ranker bundle",
               "eval": "rankers on held-out days over seeds: NDCG@10, Recall@10, simulated outcomes, paired CIs"}


def add_ranker_options(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--store", help="SQLAlchemy URL of a store with logged feedback")
    parser.add_argument("--logs", help="a `mmei data simulate-interactions` folder")
    add_output(parser, "bundle folder (train) or report folder (eval)")
    parser.add_argument("--holdout-days", type=int, default=2, help="last days held out (default: 2)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--catalog", help="catalog CSV/Parquet (default: the shipped SYNTHETIC catalog)")
    add_config(parser)
    add_address(parser)
    if name == "train":
        add_seed(parser, "the ranker's training")
        parser.add_argument("--inputs", choices=RANKER_INPUTS, default="emotion-aware+history",
                            help="what the ranker reads (default: emotion-aware+history; the ablations: "
                                 "emotion-aware, emotion-blind)")
        parser.add_argument("--emotion-blind", dest="inputs", action="store_const", const="emotion-blind",
                            help=HIDDEN)
        parser.add_argument("--clip", type=float,
                            help="clip importance weights at this value, and weigh each row of a log with propensities "
                                 "by (1/n) / its propensity (default: no weighting; see docs/off-policy.md)")
    else:
        parser.add_argument("--seeds", type=int, default=3, help="seeds per ranker (default: 3)")


def add_serving_verbs(verbs) -> None:
    serve_verb = verbs.add_parser("serve", help="Ray Serve: the recommendation graph behind the HTTP API")
    serve_verb.add_argument("--bundle", help="model bundle folder (or bundle= in --serve-config)")
    serve_verb.add_argument("--serve-config", help="serving YAML (see serving/serve.yaml); default: built-in defaults")
    serve_verb.add_argument("--config", dest="serve_config_old", help=HIDDEN)
    serve_verb.add_argument("--port", type=int, help="HTTP port (default: 8000, on 127.0.0.1)")
    serve_verb.add_argument("--write-config", metavar="FILE",
                            help="write the Serve config (for `serve deploy` / RayService) and exit")
    add_address(serve_verb)
    add_overrides(serve_verb, "store_url=sqlite:///f.db limits.request_timeout_s=5")
    serve_verb.set_defaults(command="serve")

    ab = verbs.add_parser("ab", help="A/B analysis of stored feedback")
    ab_verbs = ab.add_subparsers(dest="ab_verb", required=True)
    ab_report = ab_verbs.add_parser("report", help="lift, 95%% CIs (Welch, bootstrap), p, power and SRM per variant")
    ab_report.add_argument("--store", required=True, help="SQLAlchemy URL of the serving store (it must exist)")
    add_output(ab_report, "folder for ab_report.md, .json and PNGs")
    ab_report.add_argument("--since", help="only users served and events from this time (unix seconds or ISO 8601)")
    ab_report.add_argument("--control", default="control", help="the control variant (default: control)")
    ab_report.add_argument("--mde", type=float, default=0.05, help="relative minimum detectable effect (default 0.05)")
    ab_report.add_argument("--serve-config", help="the serving YAML the experiment ran with: its arms and fractions "
                                                  "for the SRM check")
    ab_report.add_argument("--fractions", help="or the split itself, e.g. control=0.5,treatment=0.5")
    ab_report.add_argument("--cuped-before", help="CUPED: analyse from this time, with each user's totals before it "
                                                  "(no user treated yet) as the covariate")
    ab_report.set_defaults(command="ab report")

    quick = verbs.add_parser("quickstart", help="the whole platform on this machine, on synthetic data")
    add_output(quick, "where outputs land (default: runs/quickstart)", required=False, default="runs/quickstart",
               old="--workdir")
    add_samples(quick, 600)
    add_config(quick)
    quick.add_argument("--port", type=int, default=8000, help="HTTP port on 127.0.0.1 (default: 8000)")
    quick.add_argument("--exit", action="store_true", help="shut down after the sample requests instead of serving")
    add_parallel_runs(quick, 2, "the comparison: ")
    quick.add_argument("--compare-seeds", type=int, default=2,
                       help="seeds for MMEI vs the baselines on the same budget; 0 skips it (default: 2)")
    add_models(quick, "models to compare; mmei is always one (default: all)")
    add_overrides(quick, "train.epochs=2")
    quick.set_defaults(command="quickstart")


def add_jobs_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs-url", help="the head's Jobs API, e.g. http://127.0.0.1:8265 "
                                           "(default: RAY_JOBS_ADDRESS, else that)")
    parser.add_argument("--address", dest="jobs_url_old", help=HIDDEN)


def add_cluster_verbs(verbs) -> None:
    submit_verb = verbs.add_parser("submit", help="run a verb as a Ray job on a cluster (Ray Jobs API)",
                                   description="Ships this project (built wheel) and the files the command names; "
                                               "sends the token from RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH / "
                                               "~/.ray/auth_token.")
    add_jobs_url(submit_verb)
    submit_verb.add_argument("--wait", action="store_true", help="stream the job's logs; exit 0 only if it succeeded")
    submit_verb.add_argument("command_line", nargs=argparse.REMAINDER, help="-- mmei <verb> <args>")
    submit_verb.set_defaults(command="submit")
    jobs_verb = verbs.add_parser("jobs", help="list, inspect, follow or stop Ray jobs")
    jobs_verbs = jobs_verb.add_subparsers(dest="jobs_verb", required=True)
    for action, text in (("list", "every job"), ("status", "one job's state"), ("logs", "one job's logs"),
                         ("stop", "stop one job")):
        action_parser = jobs_verbs.add_parser(action, help=text)
        if action != "list":
            action_parser.add_argument("job_id", help="the id `mmei submit` printed")
        if action == "logs":
            action_parser.add_argument("--follow", action="store_true", help="keep streaming until the job ends")
        add_jobs_url(action_parser)
        action_parser.set_defaults(command="jobs")


def add_bench_verbs(verbs) -> None:
    bench = verbs.add_parser("bench", help="benchmarks that print ratios against a side-by-side baseline")
    bench_verbs = bench.add_subparsers(dest="bench_verb", required=True)
    bench_data = bench_verbs.add_parser("data", help="Ray Data preparation vs a single-process loop; text import "
                                                     "and preparation rates")
    bench_data.add_argument("--samples", type=int, nargs="+", default=[2000, 8000, 20000],
                            help="samples in the generated SYNTHETIC corpus: one comparison per size given "
                                 "(default: 2000 8000 20000)")
    bench_data.add_argument("--batch-size", type=int, default=32, help="rows per featurization batch (default: 32)")
    bench_data.add_argument("--texts", type=int, default=20000,
                            help="generated texts for the import and prepare-text lines; 0 skips them (default: 20000)")
    bench_data.set_defaults(command="bench data")
    bench_train = bench_verbs.add_parser("train", help="Ray Train + DeepSpeed vs a raw single-process loop")
    add_samples(bench_train, 800)
    bench_train.set_defaults(command="bench train")
    bench_serve = bench_verbs.add_parser("serve", help="both Serve topologies vs in-process calls, Serve's floor and "
                                         "a two-worker FastAPI app")
    bench_serve.add_argument("--requests", type=int, default=100, help="requests at concurrency 1 (default: 100)")
    bench_serve.add_argument("--throughput-requests", type=int, default=320,
                             help="requests at concurrency 16 (default: 320)")
    bench_serve.add_argument("--rounds", type=int, default=3,
                             help="alternating rounds; each figure is their median (default: 3)")
    bench_serve.set_defaults(command="bench serve")
    bench_ope = bench_verbs.add_parser("ope", help="off-policy estimators vs the SYNTHETIC simulator's truth over seeds")
    bench_ope.add_argument("--users", default="100,400", help="log sizes in simulated users, comma-separated "
                                                              "(default: 100,400; a week each)")
    bench_ope.add_argument("--seeds", type=int, default=10, help="simulated logs per size, one per seed (default: 10)")
    bench_ope.add_argument("--epsilon", type=float, default=0.2, help="the logging policy's exploration (default: 0.2)")
    add_output(bench_ope, "folder for bench_ope.json (default: none)", required=False)
    add_config(bench_ope)
    bench_ope.set_defaults(command="bench ope", catalog=None)
    bench_text = bench_verbs.add_parser("text", help="the text path on REAL labelled text vs TF-IDF + logistic "
                                                     "regression, with a paired bootstrap CI")
    add_output(bench_text, "new folder for every output (default: runs/bench-text)", required=False,
               default="runs/bench-text")
    bench_text.add_argument("--epochs", type=int, default=2, help="epochs per training run (default: 2)")
    bench_text.add_argument("--seeds", type=int, default=2, help="training runs, one per seed (default: 2)")
    add_overrides(bench_text, "train.batch_size=32 (the text preset)")
    bench_text.set_defaults(command="bench text")
    for modality, corpus, baseline, preset in (("audio", "RAVDESS speech", "MFCC statistics", "audio"),
                                                ("visual", "FER2013 faces", "HOG", "visual")):
        bench_media = bench_verbs.add_parser(modality, help=f"the {modality} path on REAL {corpus} vs {baseline} + "
                                                            "logistic regression, with a paired bootstrap CI")
        bench_media.add_argument("--input", required=True, help=f"a copy of {corpus} (see `make bench-{modality}`)")
        add_output(bench_media, f"new folder for every output (default: runs/bench-{modality})", required=False,
                   default=f"runs/bench-{modality}")
        bench_media.add_argument("--epochs", type=int, help=f"epochs per training run (default: the {preset} preset's)")
        bench_media.add_argument("--seeds", type=int, default=2, help="training runs, one per seed (default: 2)")
        add_overrides(bench_media, "train.batch_size=32")
        bench_media.set_defaults(command=f"bench {modality}")
