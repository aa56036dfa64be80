"""Transfer through the finetuning path, on CPU: supervised, MAE and random init, same budget.

    python tools/run_net.py --cfg configs/Synthetic/HIERA_TINY_DEMO.yaml OUTPUT_DIR runs/synthetic_demo
    python benchmarks/mae_learns.py --steps 8000 --save runs/mae_learns/mae.pyth MASK.NORM_PIX_LOSS True
    python benchmarks/transfer_synthetic.py --inits finetuned mae random \
        --checkpoint runs/synthetic_demo/checkpoints/checkpoint_epoch_00020.pyth --mae-checkpoint runs/mae_learns/mae.pyth

Generates hiera_video/synthetic/transfer.py's class folders into --data (first run only),
then runs configs/Transfer/HIERA_TINY_TRANSFER.yaml once per init, into --out/<init>:
``finetuned`` from --checkpoint (the main job's supervised weights), ``mae`` from
--mae-checkpoint (an MAE's encoder; ``TASK mae`` or mae_learns.py --save), ``random`` from
scratch; writes each test top-1 / top-5 (5x3 views) with the exact command to
--out/transfer_results.json. Extra KEY VALUE pairs go to every run. A few minutes per run on
2 CPU cores.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from hiera_video.synthetic.transfer import generate
from hiera_video.utils.io import write_text

CFG = "configs/Transfer/HIERA_TINY_TRANSFER.yaml"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", default="", help="the demo's checkpoint (configs/Synthetic/HIERA_TINY_DEMO.yaml)")
    p.add_argument("--mae-checkpoint", default="", help="an MAE of the demo's encoder, for the 'mae' run")
    p.add_argument("--data", default="data/synthetic_transfer")
    p.add_argument("--out", default="runs/transfer")
    p.add_argument("--inits", nargs="+", default=["finetuned", "random"], choices=["finetuned", "mae", "random"],
                   help="which runs (results of earlier runs in --out/transfer_results.json are kept)")
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE overrides for every run")
    args = p.parse_args(argv)
    weights = {"finetuned": ("--checkpoint", args.checkpoint), "mae": ("--mae-checkpoint", args.mae_checkpoint),
               "random": ("", "")}
    for init in args.inits:
        flag, path = weights[init]
        if flag and not path:
            p.error(f"the {init} run needs {flag}")
    generate(args.data)
    summary = os.path.join(args.out, "transfer_results.json")
    results = json.load(open(summary)) if os.path.isfile(summary) else {}
    for init in args.inits:
        cmd = [sys.executable, os.path.join(ROOT, "tools/run_net.py"), "--cfg", os.path.join(ROOT, CFG),
               "DATA.PATH_TO_DATA_DIR", args.data, "OUTPUT_DIR", os.path.join(args.out, init), *args.opts]
        if weights[init][1]:
            cmd += ["TRAIN.CHECKPOINT_FILE_PATH", weights[init][1]]
        t0 = time.time()
        subprocess.run(cmd, check=True)
        with open(os.path.join(args.out, init, "test_results.json")) as f:
            res = json.load(f)
        results[init] = {"top1": res["top1"], "top5": res["top5"], "num_videos": res["num_videos"],
                         "num_views": res["num_views"], "minutes": round((time.time() - t0) / 60, 1),
                         "command": " ".join(cmd)}
        print(f"{init}: test top1 {res['top1']:.2f}%, top5 {res['top5']:.2f}% ({res['num_videos']} videos)")
    write_text(summary, json.dumps(results, indent=2))
    print(f"wrote {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
