"""The SYNTHETIC catalog generator: deterministic, labelled, and what ships."""
from mmei.pipelines.sources.synthetic_catalog import write_catalog
from mmei.platform.catalog import load_catalog
from mmei.platform.labels import LabelSpaces
from mmei.serving.config import DEFAULT_CATALOG


def test_the_generator_reproduces_the_shipped_catalog(tmp_path):
    path = write_catalog(tmp_path / "catalog.csv", 120, 0, LabelSpaces())
    assert path.name == "synthetic-catalog.csv"
    assert path.read_text() == DEFAULT_CATALOG.read_text()


def test_items_carry_their_affect_in_their_words(tmp_path):
    items = load_catalog(write_catalog(tmp_path / "synthetic.csv", 60, 3, LabelSpaces()), LabelSpaces())
    assert all(item.synthetic for item in items)
    assert len({item.target_emotion for item in items}) == 7
    from mmei.pipelines.sources.synthetic_catalog import EMOTION_WORDS
    assert all(set(item.tags[:2]) <= set(EMOTION_WORDS[item.target_emotion]) for item in items)
