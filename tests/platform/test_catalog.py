"""Catalog files: the shipped SYNTHETIC one loads; a bad row is an error naming file and row."""
import pytest

from mmei.platform.catalog import CatalogError, load_catalog
from mmei.platform.labels import LabelSpaces
from mmei.serving.config import DEFAULT_CATALOG

HEADER = "item_id,title,kind,tags,target_emotion,intent_affinity\n"


def test_the_shipped_catalog_is_synthetic_and_loads():
    items = load_catalog(DEFAULT_CATALOG, LabelSpaces())
    assert len(items) == 120 and all(item.synthetic for item in items)
    assert DEFAULT_CATALOG.name.startswith("synthetic")
    assert all(sum(item.intent_affinity.values()) == pytest.approx(1.0) for item in items)
    assert items[0].text().startswith(items[0].title)


def test_csv_and_parquet_give_the_same_items(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "c.csv").write_text(HEADER + 'a,Calm track,music,calm;ambient,neutral,"relax=3;learn=1"\n')
    pq.write_table(pa.table({"item_id": ["a"], "title": ["Calm track"], "kind": ["music"],
                             "tags": [["calm", "ambient"]], "target_emotion": ["neutral"],
                             "intent_affinity": ['{"relax": 3, "learn": 1}']}), tmp_path / "c.parquet")
    from_csv = load_catalog(tmp_path / "c.csv", LabelSpaces())
    assert from_csv == load_catalog(tmp_path / "c.parquet", LabelSpaces())
    assert from_csv[0].intent_affinity == {"relax": 0.75, "learn": 0.25}


@pytest.mark.parametrize("row, message", [
    ("b,T,image,x,elation,relax=1", "row 2: target_emotion 'elation'"),
    ("b,T,image,x,joy,napping=1", "row 2: intent_affinity names unknown intents"),
    ("b,T,image,x,joy,relax", "row 2: intent_affinity must look like"),
    ("b,,image,x,joy,relax=1", "row 2: missing title"),
    ("a,T,image,x,joy,relax=1", "row 2: duplicate item_id 'a'"),
])
def test_a_bad_row_names_the_file_and_the_row(tmp_path, row, message):
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "a,T,image,x,joy,relax=1\n" + row + "\n")
    with pytest.raises(CatalogError, match=message) as error:
        load_catalog(path, LabelSpaces())
    assert str(path) in str(error.value)


def test_missing_columns_and_files_are_named(tmp_path):
    (tmp_path / "c.csv").write_text("item_id,title\na,T\n")
    with pytest.raises(CatalogError, match="lacks column"):
        load_catalog(tmp_path / "c.csv", LabelSpaces())
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog(tmp_path / "none.csv", LabelSpaces())
