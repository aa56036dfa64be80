"""Where Hiera's bf16 CPU inference time goes, against this machine's matmul peaks.

    python benchmarks/bf16_profile.py [--model hiera_base_16x224] [--batch 1] [--json out.json]

Measures (median of repeats, after warm-up): fp32 and bf16 matmul peaks (4096^3), the model's
forward clips/s in fp32 and under bf16 autocast (and with bf16 weights, no autocast), the
achieved GFLOP/s against the peaks (FLOPs as the paper counts them: multiply-adds x 2), and a
torch.profiler table of the bf16 forward's ops by self time.
"""
import argparse
import json
import statistics
import time

import torch

from hiera_video.models.flops import model_flops
from hiera_video.models.zoo import create_model


def median_seconds(fn, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(dtype: torch.dtype, n: int = 4096) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n ** 3 / median_seconds(lambda: a @ b, 2, 5) / 1e9


def linear_shapes(model, x):
    """(M, K, N) of every nn.Linear call in one forward of ``model(x)``."""
    shapes, handles = [], []
    for layer in model.modules():
        if isinstance(layer, torch.nn.Linear):
            handles.append(layer.register_forward_hook(
                lambda mod, inp, out: shapes.append((inp[0].numel() // inp[0].shape[-1], mod.in_features,
                                                     mod.out_features))))
    with torch.inference_mode():
        model(x)
    for h in handles:
        h.remove()
    return shapes


def linear_floor(shapes, dtype) -> dict:
    """The model's own linear-layer matmuls alone, each timed in isolation (the fastest the
    linear part can run): seconds and GFLOP."""
    seconds = flop = 0.0
    for m, k, n in shapes:
        a, w = torch.randn(m, k, dtype=dtype), torch.randn(n, k, dtype=dtype)
        with torch.inference_mode():
            seconds += median_seconds(lambda: torch.nn.functional.linear(a, w), 1, 3)
        flop += 2 * m * k * n
    return dict(seconds=round(seconds, 4), gflop=round(flop / 1e9, 1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="hiera_base_16x224")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default="")
    args = p.parse_args()
    model = create_model(args.model).eval()
    x = torch.randn(args.batch, 3, *model.input_size)
    gflop = 2 * model_flops(model, args.batch) / 1e9  # multiply-adds -> flops
    row = dict(model=args.model, batch=args.batch, threads=torch.get_num_threads(), gflop_per_batch=round(gflop, 1),
               peak_fp32_gflops=round(matmul_peak(torch.float32), 1),
               peak_bf16_gflops=round(matmul_peak(torch.bfloat16), 1))
    with torch.inference_mode():
        row["fp32_s"] = median_seconds(lambda: model(x), 1, args.repeats)

        def bf16_autocast():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return model(x)
        row["bf16_autocast_s"] = median_seconds(bf16_autocast, 1, args.repeats)
        model_bf16 = create_model(args.model).eval().to(torch.bfloat16)
        xb = x.to(torch.bfloat16)
        row["bf16_weights_s"] = median_seconds(lambda: model_bf16(xb), 1, args.repeats)
        for key in ("fp32", "bf16_autocast", "bf16_weights"):
            s = row[f"{key}_s"]
            peak = row["peak_fp32_gflops"] if key == "fp32" else row["peak_bf16_gflops"]
            row[f"{key}_clips_per_s"] = round(args.batch / s, 3)
            row[f"{key}_fraction_of_peak"] = round(gflop / s / peak, 3)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            bf16_autocast()
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof_w:
            model_bf16(xb)
        table_w = prof_w.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)
    shapes = linear_shapes(model_bf16, xb)
    floor = linear_floor(shapes, torch.bfloat16)
    row["bf16_linear_alone"] = dict(floor, gflops=round(floor["gflop"] / floor["seconds"], 1),
                                    fraction_of_peak=round(floor["gflop"] / floor["seconds"] / row["peak_bf16_gflops"], 3),
                                    share_of_model_flop=round(floor["gflop"] / gflop, 3))
    print(json.dumps(row, indent=1))
    print("bf16 autocast, ops by self time:\n" + table)
    print("bf16 weights, ops by self time:\n" + table_w)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(row, profile_autocast=table, profile_weights=table_w), f, indent=1)


if __name__ == "__main__":
    main()
