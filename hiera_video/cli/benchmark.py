"""Speed and cost figures for every named model; one tool for every number in the README.

    hiera-benchmark --flops                                # FLOPs / params table (paper tables 2, 4)
    hiera-benchmark --model hiera_base_16x224 --reference  # ours vs the reference, same run
    hiera-benchmark --data                                 # input pipeline per core vs pytorchvideo
    hiera-benchmark --mae                                  # sparse MAE step vs the reference
    hiera-benchmark --model hiera_base_16x224 --modes infer train --dtypes fp32 bf16 \
        --batch-sizes 1 2 4 --compile --json out.json
    hiera-benchmark --act-checkpoint --model hiera_large_16x224 hiera_huge_16x224  # training memory

Rows are timed interleaved (ours, reference, ours, ...) after warm-up; medians with min/max.
Every row goes to stdout and, as soon as it is done, to a JSON file (--json, default
benchmark_<time>.json in the current folder), so a stopped run keeps what it measured.
Each mode and dtype sweeps the batch sizes; a "best" row then gives each side at its own
fastest batch size, as the paper's table 17 does.
Achieved FLOP/s uses the fvcore count (attention included, x2 for multiply-adds, x3 for a
training step) against a matmul peak the tool measures itself.
"""
import argparse
import fnmatch
import json
import platform
import warnings

import torch

from hiera_video import create_model, list_models
from hiera_video.benchmarking.act_checkpoint import act_checkpoint_rows
from hiera_video.benchmarking.pairs import DTYPES, inference_step, make_pair, training_step
from hiera_video.benchmarking.results import ResultsFile, default_results_path
from hiera_video.benchmarking.timing import (interleaved, matmul_peak_tflops, peak_memory_mb,
                                             reset_peak_memory, summarize)
from hiera_video.models.flops import count_params, model_flops


def flops_table(patterns):
    rows = []
    for name in list_models():
        if name.startswith("mae_") or not any(fnmatch.fnmatch(name, p) for p in patterns):
            continue
        model = create_model(name)
        size = "x".join(map(str, model.input_size))
        rows.append(dict(model=name, input=size, gflops=model_flops(model) / 1e9, mparams=count_params(model) / 1e6))
        print(f"{name:26s} {size:>12s} {rows[-1]['gflops']:9.1f} GFLOPs {rows[-1]['mparams']:8.1f} M params", flush=True)
    return rows


def with_memory(fn, device, peaks, key):
    def wrapped():
        reset_peak_memory(device)
        out = fn()
        peaks[key] = max(peaks.get(key) or 0.0, peak_memory_mb(device) or 0.0)
        return out
    return wrapped


def speed_rows(args, device, results):
    """Time every mode/dtype/batch size and add each row to ``results`` as soon as it is done."""
    ours, ref = make_pair(args.model, args.reference)
    ours, ref = ours.to(device), ref.to(device) if ref is not None else None
    gflops_fwd = model_flops(create_model(args.model)) / 1e9
    peaks = {dt: matmul_peak_tflops(device, DTYPES[dt]) for dt in args.dtypes}
    print(f"device {device_name(device)}; matmul peak " + ", ".join(f"{k} {v:.2f} TFLOP/s" for k, v in peaks.items()))
    sides = {"ours": ours, "reference": ref} if ref is not None else {"ours": ours}
    if args.compile:
        sides = {k: torch.compile(m) for k, m in sides.items()}
    for mode in args.modes:
        for dt in args.dtypes:
            sweep = []
            for bs in args.batch_sizes:
                try:
                    sweep.append(time_batch(args, device, ours, sides, mode, dt, bs, gflops_fwd, peaks[dt]))
                except RuntimeError as e:  # CUDA raises OutOfMemoryError, the CPU allocator a RuntimeError
                    if not out_of_memory(e):
                        raise
                    print(f"{args.model} {mode} {dt} bs {bs}: out of memory, larger batches skipped", flush=True)
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                    break
                print_row(results.add(sweep[-1]))
            if len(sweep) > 1:
                print_best(results.add(best_row(sweep)))


def out_of_memory(error: RuntimeError) -> bool:
    text = str(error).lower()
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in text or "can't allocate memory" in text


def time_batch(args, device, ours, sides, mode, dt, bs, gflops_fwd, peak):
    """One row: every side timed interleaved on the same random ``[bs, C, T, H, W]`` input."""
    torch.manual_seed(0)
    x = torch.randn(bs, ours.in_chans, *ours.input_size, device=device)
    y = torch.randint(0, ours.num_classes, (bs,), device=device)
    memory, fns = {}, {}
    for side, model in sides.items():
        step = inference_step(model, x, DTYPES[dt]) if mode == "infer" else training_step(model, x, y, DTYPES[dt])
        fns[side] = with_memory(step, device, memory, side)
    times = interleaved(fns, device, warmup=args.warmup, repeats=args.repeats)
    row = dict(model=args.model, mode=mode, dtype=dt, batch=bs, compile=args.compile, device=device_name(device))
    for side, secs in times.items():
        stats = summarize(secs)
        clips = bs / stats["median_s"]
        tflops = clips * gflops_fwd * 2 * (3 if mode == "train" else 1) / 1e3
        row[side] = dict(**stats, clips_per_s=clips, peak_memory_mb=memory.get(side),
                         achieved_tflops=tflops, fraction_of_matmul_peak=tflops / peak)
    if "reference" in row:
        row["speedup"] = row["reference"]["median_s"] / row["ours"]["median_s"]
    return row


def best_row(sweep):
    """The paper's way (table 17): each side at its own fastest batch size, in clips/s."""
    row = {k: sweep[0][k] for k in ("model", "mode", "dtype", "compile", "device")}
    row["batch"] = "best"
    for side in ("ours", "reference"):
        if side in sweep[0]:
            top = max(sweep, key=lambda r: r[side]["clips_per_s"])
            row[side] = dict(batch=top["batch"], clips_per_s=top[side]["clips_per_s"],
                             fraction_of_matmul_peak=top[side]["fraction_of_matmul_peak"])
    if "reference" in row:
        row["speedup"] = row["ours"]["clips_per_s"] / row["reference"]["clips_per_s"]
    return row


def print_best(row):
    o = row["ours"]
    line = f"{row['model']:20s} {row['mode']:5s} {row['dtype']:4s} best   ours {o['clips_per_s']:8.2f} clips/s (bs {o['batch']})"
    if "reference" in row:
        r = row["reference"]
        line += f" | reference {r['clips_per_s']:8.2f} clips/s (bs {r['batch']}) | speedup {row['speedup']:.2f}x"
    print(line, flush=True)


def print_row(row):
    o = row["ours"]
    line = (f"{row['model']:20s} {row['mode']:5s} {row['dtype']:4s} bs {row['batch']:<3d} "
            f"ours {o['clips_per_s']:8.2f} clips/s (median {o['median_s']:.3f}s, {o['min_s']:.3f}-{o['max_s']:.3f}) "
            f"{o['fraction_of_matmul_peak'] * 100:5.1f}% of peak")
    if "reference" in row:
        r = row["reference"]
        line += f" | reference {r['clips_per_s']:8.2f} clips/s (median {r['median_s']:.3f}s) | speedup {row['speedup']:.2f}x"
    print(line, flush=True)


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU x{torch.get_num_threads()} threads"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flops", action="store_true", help="print FLOPs (attention included) and parameters")
    parser.add_argument("--models", nargs="+", default=["*"], help="fnmatch patterns of model names (--flops)")
    parser.add_argument("--model", nargs="+", default=[], help="model(s) to time, e.g. hiera_base_16x224")
    parser.add_argument("--reference", action="store_true", help="time the reference implementation beside ours")
    parser.add_argument("--modes", nargs="+", default=["infer", "train"], choices=["infer", "train"])
    parser.add_argument("--dtypes", nargs="+", default=None, choices=list(DTYPES),
                        help="default: fp32 bf16 for infer rows, fp32 for train rows")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=None,
                        help="batch sizes to sweep; each side's fastest is reported as 'best' (default: "
                             "1 2 4 on CPU, 1 8 16 32 64 on CUDA; 1 for --act-checkpoint)")
    parser.add_argument("--compile", action="store_true", help="torch.compile both sides")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--data", action="store_true",
                        help="input pipeline per core against pytorchvideo's, same files: training clips (the "
                             "--data-cfg recipe), 5x3 test videos, extraction windows; and the GPU budget table")
    parser.add_argument("--data-cfg", default="configs/Kinetics/HIERA_B_16x4_K400.yaml",
                        help="the recipe (--data): sampling, crop, augmentation, test views")
    parser.add_argument("--data-videos", type=int, default=6, help="generated 320p H.264 files (--data)")
    parser.add_argument("--data-seconds", type=float, default=10.0, help="their length (--data)")
    parser.add_argument("--data-real", default="", help="a folder of real videos timed with them (--data)")
    parser.add_argument("--backends", nargs="+", default=None,
                        help="decoders (--data; default pyav decord, and torchcodec when it imports)")
    parser.add_argument("--pyav-threads", nargs="+", default=["SLICE", "AUTO"], help="FFmpeg threading (--data)")
    parser.add_argument("--mae", action="store_true",
                        help="MAE training step (mask 0.9) vs the reference's, a dense step beside it, and their FLOPs")
    parser.add_argument("--act-checkpoint", action="store_true",
                        help="fp32 training step of each --model with activation checkpointing off and on: "
                             "time (interleaved) and peak memory (fresh process per variant)")
    parser.add_argument("--json", default=None,
                        help="write the rows to this JSON file, after every row (default: benchmark_<time>.json)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    if not (args.flops or args.model or args.mae or args.data):
        parser.error("choose what to measure: --flops, --model NAME, --mae and/or --data")
    if args.act_checkpoint and not args.model:
        parser.error("--act-checkpoint needs --model NAME [NAME ...]")
    if args.batch_sizes is None:
        on_cuda = torch.device(args.device).type == "cuda"
        args.batch_sizes = [1] if args.act_checkpoint else ([1, 8, 16, 32, 64] if on_cuda else [1, 2, 4])
    results = ResultsFile(args.json or default_results_path())
    if args.flops:
        print(f"{'model':26s} {'input':>12s} {'FLOPs':>16s} {'params':>17s}")
        results.add(*flops_table(args.models))
    if args.model and args.act_checkpoint:
        device = torch.device(args.device)
        for row in act_checkpoint_rows(args.model, args.batch_sizes, device, args.warmup, args.repeats,
                                       device_name(device)):
            results.add(row)
    elif args.model:
        device = torch.device(args.device)
        for name in args.model:
            one = {**vars(args), "model": name}
            if args.dtypes is None:  # the CPU targets: inference fp32 + bf16, training fp32
                for mode, dts in (("infer", ["fp32", "bf16"]), ("train", ["fp32"])):
                    if mode in args.modes:
                        speed_rows(argparse.Namespace(**{**one, "modes": [mode], "dtypes": dts}), device, results)
            else:
                speed_rows(argparse.Namespace(**one), device, results)
    if args.data:
        from hiera_video.benchmarking.data_pipeline import run_data_benchmark

        for row in run_data_benchmark(args):
            results.add(dict(data=row))
    if args.mae:
        from hiera_video.benchmarking.mae_step import compare_mae_step, mae_step_flops

        name = "mae_" + (args.model[0] if args.model else "hiera_base_16x224")
        flops = mae_step_flops(name)
        timing = compare_mae_step(name, repeats=args.repeats, warmup=args.warmup, device=args.device, with_dense=True)
        print(json.dumps({"flops": flops, "timing": timing}, indent=1))
        results.add(dict(mae=dict(flops=flops, timing=timing)))
    print(f"wrote {results.path}" if results.rows else "nothing measured, no JSON written")

