"""tools/benchmark.py runs and reports the fields the README's tables are made of (no timing asserted)."""
import json
import subprocess
import sys

import pytest


def test_speed_rows_against_reference(tmp_path):
    pytest.importorskip("hiera", reason="reference implementation not installed")
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "tools/benchmark.py", "--model", "hiera_tiny_224", "--reference",
                          "--modes", "infer", "train", "--dtypes", "fp32", "--repeats", "1", "--warmup", "0",
                          "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert [(r["mode"], r["dtype"]) for r in rows] == [("infer", "fp32"), ("train", "fp32")]
    for row in rows:
        for side in ("ours", "reference"):
            stats = row[side]
            assert {"median_s", "min_s", "max_s", "clips_per_s", "peak_memory_mb", "achieved_tflops",
                    "fraction_of_matmul_peak"} <= set(stats)
            assert stats["median_s"] > 0 and stats["clips_per_s"] > 0
        assert row["speedup"] == pytest.approx(row["reference"]["median_s"] / row["ours"]["median_s"])
    assert "speedup" in run.stdout


def test_flops_rows(tmp_path):
    out = tmp_path / "flops.json"
    run = subprocess.run([sys.executable, "tools/benchmark.py", "--flops", "--models", "hiera_tiny_224",
                          "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    (row,) = json.loads(out.read_text())
    assert row["model"] == "hiera_tiny_224" and round(row["gflops"]) == 5 and round(row["mparams"]) == 28


def test_nothing_to_measure_is_an_error():
    run = subprocess.run([sys.executable, "tools/benchmark.py"], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "choose what to measure" in run.stderr
