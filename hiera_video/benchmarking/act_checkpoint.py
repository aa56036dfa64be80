"""Activation checkpointing (HIERA.ACT_CHECKPOINT): fp32 training-step time and peak memory, off vs on.

Time: one model, the flag switched before each call (same weights, optimizer and input), interleaved
off, on, off, ... after warm-up. Memory: each variant in a fresh process (``python -m`` this module),
so the CPU RSS high-water mark of one variant never carries into the other; it is the peak of one
step after a warm-up step (so the AdamW state exists), with the peak window reset just before it.
"""
import json
import os
import subprocess
import sys
from typing import Dict, Iterator, List

import torch

from hiera_video import create_model
from hiera_video.benchmarking.pairs import training_step
from hiera_video.benchmarking.timing import (current_memory_mb, interleaved, peak_memory_mb, reset_peak_memory,
                                             summarize, synchronize)

VARIANTS = {"off": False, "on": True}


def _step(name: str, batch: int, device: torch.device):
    torch.manual_seed(0)
    model = create_model(name).to(device)
    x = torch.randn(batch, model.in_chans, *model.input_size, device=device)
    y = torch.randint(0, model.num_classes, (batch,), device=device)
    return model, training_step(model, x, y, torch.float32)


def step_memory(name: str, act_checkpoint: bool, batch: int, device: torch.device) -> Dict[str, float]:
    """Peak memory (MB) of one training step in this process, after one warm-up step."""
    model, step = _step(name, batch, device)
    model.act_checkpoint = act_checkpoint
    step()
    synchronize(device)
    before = current_memory_mb(device)
    reset_peak_memory(device)
    step()
    synchronize(device)
    return dict(peak_memory_mb=peak_memory_mb(device), memory_before_step_mb=before)


def step_memory_in_fresh_process(name: str, batch: int, act_checkpoint: bool, device: str) -> Dict[str, float]:
    cmd = [sys.executable, "-m", "hiera_video.benchmarking.act_checkpoint", name, str(int(act_checkpoint)),
           str(batch), device]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    if run.returncode != 0:
        raise RuntimeError(f"memory run {' '.join(cmd[2:])} failed (rc {run.returncode}): {run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def act_checkpoint_rows(names: List[str], batch_sizes: List[int], device: torch.device, warmup: int,
                        repeats: int, device_name: str) -> Iterator[dict]:
    """One row per (model, batch size), yielded as soon as it is measured."""
    cases = [(name, bs) for name in names for bs in batch_sizes]
    # Memory first, each variant alone in its own process, while this one holds no model.
    memory = {case: {v: step_memory_in_fresh_process(*case, flag, str(device)) for v, flag in VARIANTS.items()}
              for case in cases}
    for name, bs in cases:
        model, step = _step(name, bs, device)

        def variant(flag):
            def run():
                model.act_checkpoint = flag
                return step()
            return run
        times = interleaved({v: variant(flag) for v, flag in VARIANTS.items()}, device, warmup, repeats)
        del model, step
        row = dict(model=name, mode="train", dtype="fp32", batch=bs, device=device_name, warmup=warmup,
                   repeats=repeats, memory="peak of one step after 1 warm-up step, fresh process per variant")
        for v in VARIANTS:
            stats = summarize(times[v])
            row[v] = dict(**stats, seconds=times[v], clips_per_s=bs / stats["median_s"], **memory[name, bs][v])
        row["time_ratio"] = row["on"]["median_s"] / row["off"]["median_s"]
        row["memory_ratio"] = row["on"]["peak_memory_mb"] / row["off"]["peak_memory_mb"]
        print_row(row)
        yield row


def print_row(row: dict) -> None:
    for v in VARIANTS:
        s = row[v]
        line = (f"{row['model']:20s} bs {row['batch']:<3d} act_checkpoint {v:3s} median {s['median_s']:8.3f}s "
                f"({s['min_s']:.3f}-{s['max_s']:.3f}) {s['clips_per_s']:8.3f} clips/s "
                f"peak {s['peak_memory_mb']:9.0f} MB (before step {s['memory_before_step_mb']:9.0f} MB)")
        if v == "on":
            line += f" | on/off: time {row['time_ratio']:.2f}x, peak memory {row['memory_ratio']:.2f}x"
        print(line, flush=True)


if __name__ == "__main__":
    _name, _flag, _batch, _device = sys.argv[1:5]
    print(json.dumps(step_memory(_name, bool(int(_flag)), int(_batch), torch.device(_device))))
