"""`mmei bench ope`, shrunk: simulated exploring logs, every estimator against the truth."""
import json
import subprocess
import sys


def test_bench_ope_prints_its_line_with_errors_and_coverage(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mmei.cluster.cli", "bench", "ope", "--users", "15", "--seeds", "2",
                             "--output", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    line = [row for row in result.stdout.splitlines() if row.startswith("bench ope: users=15 ")]
    assert len(line) == 1
    fields = dict(part.split("=") for part in line[0].removeprefix("bench ope: ").split())
    for key in ("truth", "naive", "ips", "snips", "dr", "mae_naive", "mae_snips", "mae_dr", "coverage_snips",
                "coverage_dr"):
        assert key in fields
    report = json.loads((tmp_path / "bench_ope.json").read_text())
    runs = report["sizes"]["15"]["runs"]
    assert report["synthetic"] is True and len(runs) == 2 and all(run["truth"] > 0 for run in runs)
    assert float(fields["truth"]) == round(sum(run["truth"] for run in runs) / 2, 4)


def test_bench_ope_refuses_bad_sizes():
    result = subprocess.run([sys.executable, "-m", "mmei.cluster.cli", "bench", "ope", "--users", "ten"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--users" in result.stderr
