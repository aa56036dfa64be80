"""Speed and cost figures for every named model.

    python tools/benchmark.py --flops                 # FLOPs / params table (paper tables 2, 4)
    python tools/benchmark.py --flops --models 'hiera_base*'
"""
import argparse
import fnmatch
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hiera_video import create_model, list_models  # noqa: E402
from hiera_video.models.flops import count_params, model_flops  # noqa: E402


def flops_table(patterns):
    rows = []
    for name in list_models():
        if not any(fnmatch.fnmatch(name, p) for p in patterns):
            continue
        model = create_model(name)
        size = "x".join(map(str, model.input_size))
        rows.append(dict(model=name, input=size, gflops=model_flops(model) / 1e9, mparams=count_params(model) / 1e6))
        print(f"{name:26s} {size:>12s} {rows[-1]['gflops']:9.1f} GFLOPs {rows[-1]['mparams']:8.1f} M params", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flops", action="store_true", help="print FLOPs (attention included) and parameters")
    parser.add_argument("--models", nargs="+", default=["*"], help="fnmatch patterns of model names")
    parser.add_argument("--json", default="", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    if not args.flops:
        parser.error("choose what to measure: --flops")
    print(f"{'model':26s} {'input':>12s} {'FLOPs':>16s} {'params':>17s}")
    rows = flops_table(args.models)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
