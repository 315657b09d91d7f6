"""Row order must not reach the batches: a corpus sorted by label trains like a shuffled one.

Real corpora arrive grouped by label or by source. The sorted corpus here is prepared
with `keep_order`, so its feature shards stay sorted and only training's own
shuffling (seeded block order plus a row-sized buffer) stands between the order and
the batches. Before that shuffling existed, the same test gave the sorted run a
far lower validation macro-F1 (see the closing note of the issue that added it).
"""
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mmei.pipelines.feature_dataset import read_manifest
from mmei.pipelines.prepare import KEY_SPACE, key_boundaries, prepare
from mmei.pipelines.sources.synthetic import write_corpus
from mmei.pipelines.train import run_training
from mmei.platform.config import load_config

CORPUS = ["corpus.samples=480", "corpus.splits={train: 0.6, val: 0.4, test: 0.0}", "corpus.shard_rows=120"]
TRAIN = ["train.epochs=3", "train.batch_size=8"]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory, ray_cluster):
    """The same SYNTHETIC rows twice: sorted by emotion (kept so), and shuffled by preparation."""
    config = load_config("tiny", CORPUS)
    root = tmp_path_factory.mktemp("row-order")
    write_corpus(root / "corpus", config.corpus, config.labels, config.features, progress=lambda _: None)
    table = pq.read_table(sorted((root / "corpus").glob("*.parquet")))
    order = sorted(range(table.num_rows), key=lambda i: (table.column("emotion")[i].as_py(), i))
    sorted_rows = table.take(pa.array(order))
    (root / "sorted").mkdir()
    for start in range(0, sorted_rows.num_rows, 120):  # shards as an export by label would have them
        pq.write_table(sorted_rows.slice(start, 120), root / "sorted" / f"part-{start // 120}.parquet")
    # Blocks much larger than a few batches, as a real corpus's 1000-row shards are:
    # each holds one or two labels, and only a shuffle across blocks can mix them.
    prepare(root / "sorted", root / "features-sorted", config, echo=lambda _: None, keep_order=True, rows_per_file=120)
    prepare(root / "corpus", root / "features-shuffled", config, echo=lambda _: None, rows_per_file=120)
    return root


def same_label_neighbours(features) -> float:
    """Share of consecutive rows (in file order) with the same emotion: ~1 sorted, ~1/7 shuffled."""
    labels = [label for name in read_manifest(features)["outputs"]
              for label in pq.read_table(features / name, columns=["emotion_id"]).column("emotion_id").to_pylist()]
    return sum(a == b for a, b in zip(labels, labels[1:])) / (len(labels) - 1)


def test_preparation_writes_rows_in_a_seeded_random_order_unless_told_to_keep_it(corpora):
    assert same_label_neighbours(corpora / "features-sorted") > 0.8
    assert same_label_neighbours(corpora / "features-shuffled") < 0.35
    assert read_manifest(corpora / "features-shuffled")["row_order"] == "shuffled (seed 0)"
    assert read_manifest(corpora / "features-sorted")["row_order"] == "input"


def test_the_shuffle_writes_files_of_about_rows_per_file_not_one_per_block(corpora):
    """480 rows at rows_per_file=120: 4 files. Left to sample its own boundaries, Ray's
    sort wrote one file per block that reached it (2-3 rows each for 240 rows)."""
    sizes = [pq.read_metadata(corpora / "features-shuffled" / name).num_rows
             for name in read_manifest(corpora / "features-shuffled")["outputs"]]
    assert len(sizes) == 4 and sum(sizes) == 480, sizes
    assert min(sizes) >= 60, sizes  # equal key ranges hold about equal shares


def test_the_key_boundaries_cut_the_key_space_evenly():
    assert key_boundaries(4) == [KEY_SPACE // 4, KEY_SPACE // 2, 3 * KEY_SPACE // 4]
    assert key_boundaries(1) == [KEY_SPACE - 1]  # never empty: Ray would sample instead


def test_a_corpus_sorted_by_label_trains_as_well_as_the_same_corpus_shuffled(corpora, tmp_path):
    config = load_config("tiny", [*CORPUS, *TRAIN])
    results = {name: run_training(config, corpora / f"features-{name}", tmp_path / name, echo=lambda _: None)
               for name in ("sorted", "shuffled")}
    scores = {name: result.selected["value"] for name, result in results.items()}
    print(f"best val macro-F1: {scores}")
    assert scores["shuffled"] > 0.3  # it learned: chance is ~0.15
    assert abs(scores["sorted"] - scores["shuffled"]) <= 0.05, scores


def record_batches(loop_config):
    """A Ray Train worker that draws two epochs of batches exactly as the training loop does."""
    import json

    import ray.train

    from mmei.pipelines.train_loop import epoch_batches
    from mmei.platform.config import config_from_dict

    config = config_from_dict(loop_config["config"])
    rank = ray.train.get_context().get_world_rank()
    shard = ray.train.get_dataset_shard("train")
    epochs = [[batch["emotion"].tolist() for batch in epoch_batches(shard, config, epoch, rank)] for epoch in (0, 1)]
    with open(f"{loop_config['out']}/rank{rank}.json", "w") as handle:
        json.dump(epochs, handle)


def drawn_batches(features, out):
    """rank → epoch → batches of emotion ids, from a real 2-worker Ray Train run."""
    import json

    from ray.train import ScalingConfig
    from ray.train.torch import TorchTrainer

    from mmei.pipelines.train import ingest_config, training_datasets

    config = load_config("tiny", [*CORPUS, *TRAIN])
    train_data, _ = training_datasets(config, features)
    out.mkdir()
    TorchTrainer(record_batches, train_loop_config={"config": config.to_dict(), "out": str(out)},
                 scaling_config=ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.25}),
                 datasets={"train": train_data}, dataset_config=ingest_config()).fit()
    return [json.loads((out / f"rank{rank}.json").read_text()) for rank in (0, 1)]


def test_batches_drawn_from_label_sorted_shards_mix_classes_and_change_every_epoch(corpora, tmp_path):
    """The mechanism itself. Before, with a 4-batch buffer and fixed block order, these
    batches held 1-2 emotions each; random batches of 8 from 7 classes hold about 5."""
    first = drawn_batches(corpora / "features-sorted", tmp_path / "first")
    batches = [batch for rank in first for epoch in rank for batch in epoch if len(batch) == 8]
    distinct = sum(len(set(batch)) for batch in batches) / len(batches)
    print(f"mean emotions per batch of 8: {distinct:.2f}")
    assert distinct >= 4.0
    assert all(rank[0] != rank[1] for rank in first)  # a new order every epoch
    assert drawn_batches(corpora / "features-sorted", tmp_path / "again") == first  # and a rerun replays it
