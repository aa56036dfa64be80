"""tools/benchmark.py runs and reports the fields the README's tables are made of (no timing asserted)."""
import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_speed_rows_against_reference(tmp_path):
    pytest.importorskip("hiera", reason="reference implementation not installed")
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "tools/benchmark.py", "--model", "hiera_tiny_224", "--reference",
                          "--modes", "infer", "train", "--dtypes", "fp32", "--batch-sizes", "1", "2",
                          "--repeats", "1", "--warmup", "0", "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert [(r["mode"], r["dtype"], r["batch"]) for r in rows] == [
        ("infer", "fp32", 1), ("infer", "fp32", 2), ("infer", "fp32", "best"),
        ("train", "fp32", 1), ("train", "fp32", 2), ("train", "fp32", "best")]
    timed = [r for r in rows if r["batch"] != "best"]
    for best, sweep in ((rows[2], timed[:2]), (rows[5], timed[2:])):
        for side in ("ours", "reference"):
            fastest = max(sweep, key=lambda r: r[side]["clips_per_s"])
            assert best[side]["batch"] == fastest["batch"]
            assert best[side]["clips_per_s"] == fastest[side]["clips_per_s"]
        assert best["speedup"] == pytest.approx(best["ours"]["clips_per_s"] / best["reference"]["clips_per_s"])
    for row in timed:
        for side in ("ours", "reference"):
            stats = row[side]
            assert {"median_s", "min_s", "max_s", "clips_per_s", "peak_memory_mb", "achieved_tflops",
                    "fraction_of_matmul_peak"} <= set(stats)
            assert stats["median_s"] > 0 and stats["clips_per_s"] > 0
        assert row["speedup"] == pytest.approx(row["reference"]["median_s"] / row["ours"]["median_s"])
    assert "speedup" in run.stdout and " best " in run.stdout


def test_flops_rows(tmp_path):
    out = tmp_path / "flops.json"
    run = subprocess.run([sys.executable, "tools/benchmark.py", "--flops", "--models", "hiera_tiny_224",
                          "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    (row,) = json.loads(out.read_text())
    assert row["model"] == "hiera_tiny_224" and round(row["gflops"]) == 5 and round(row["mparams"]) == 28


@pytest.mark.slow
def test_json_written_by_default_in_the_current_folder(tmp_path):
    tool = os.path.abspath("tools/benchmark.py")
    run = subprocess.run([sys.executable, tool, "--flops", "--models", "hiera_tiny_224"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    (written,) = tmp_path.glob("benchmark_*.json")
    assert [r["model"] for r in json.loads(written.read_text())] == ["hiera_tiny_224"]
    assert f"wrote {written.name}" in run.stdout


def test_no_rows_no_file(tmp_path):
    tool = os.path.abspath("tools/benchmark.py")
    run = subprocess.run([sys.executable, tool, "--flops", "--models", "no_such_model*"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "nothing measured, no JSON written" in run.stdout
    assert list(tmp_path.glob("benchmark_*.json")) == []


def test_results_file_holds_every_row_as_soon_as_it_is_added(tmp_path):
    from hiera_video.benchmarking.results import ResultsFile

    results = ResultsFile(str(tmp_path / "new_folder" / "rows.json"))
    assert results.add(dict(batch=1)) == dict(batch=1)
    assert json.loads((tmp_path / "new_folder" / "rows.json").read_text()) == [dict(batch=1)]
    results.add(dict(batch=2), dict(batch="best"))
    assert json.loads((tmp_path / "new_folder" / "rows.json").read_text()) == [
        dict(batch=1), dict(batch=2), dict(batch="best")]
    assert [p.name for p in (tmp_path / "new_folder").iterdir()] == ["rows.json"]  # no temp files left
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "new_folder" / "rows.json").stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes it


def test_nothing_to_measure_is_an_error():
    run = subprocess.run([sys.executable, "tools/benchmark.py"], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "choose what to measure" in run.stderr


@pytest.mark.slow
def test_act_checkpoint_rows(tmp_path):
    out = tmp_path / "act_checkpoint.json"
    run = subprocess.run([sys.executable, "tools/benchmark.py", "--act-checkpoint", "--model", "hiera_tiny_224",
                          "--repeats", "1", "--warmup", "0", "--device", "cpu", "--json", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    (row,) = json.loads(out.read_text())
    assert (row["model"], row["mode"], row["dtype"], row["batch"]) == ("hiera_tiny_224", "train", "fp32", 1)
    for variant in ("off", "on"):
        stats = row[variant]
        assert {"median_s", "min_s", "max_s", "seconds", "clips_per_s", "peak_memory_mb",
                "memory_before_step_mb"} <= set(stats)
        assert len(stats["seconds"]) == 1 and stats["clips_per_s"] > 0
        assert stats["peak_memory_mb"] > 0 and stats["memory_before_step_mb"] > 0
    assert row["time_ratio"] == pytest.approx(row["on"]["median_s"] / row["off"]["median_s"])
    assert row["memory_ratio"] == pytest.approx(row["on"]["peak_memory_mb"] / row["off"]["peak_memory_mb"])
    assert "on/off: time" in run.stdout


def test_act_checkpoint_needs_a_model():
    run = subprocess.run([sys.executable, "tools/benchmark.py", "--act-checkpoint", "--flops", "--models", "none"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "--act-checkpoint needs --model" in run.stderr


def test_out_of_memory_is_recognised_on_cpu_and_cuda():
    from hiera_video.cli import benchmark as tool

    assert tool.out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: "
                                           "can't allocate memory: you tried to allocate 123 bytes."))
    assert tool.out_of_memory(torch_oom_error())
    assert not tool.out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


def torch_oom_error():
    import torch

    return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
