"""The settings mmei gives the local clusters it starts still do what they are for on this Ray."""
import os

from mmei.cluster.ray_session import LOCAL_CLUSTER_ENV
from mmei.pipelines.feature_dataset import load_feature_dataset


def footer_readers() -> int:
    from ray.util.state import list_actors

    return sum(1 for actor in list_actors(limit=10_000, raise_on_missing_output=False)
               if actor.class_name == "FooterReader")


def test_a_read_of_local_features_starts_one_footer_reader_not_thirty_two(features_dir):
    assert os.environ["RAY_DATA_PARQUET_FOOTER_NUM_ACTORS"] == LOCAL_CLUSTER_ENV["RAY_DATA_PARQUET_FOOTER_NUM_ACTORS"]
    before = footer_readers()
    rows = load_feature_dataset(features_dir, "val").materialize().count()
    assert rows > 0 and footer_readers() - before == 1
