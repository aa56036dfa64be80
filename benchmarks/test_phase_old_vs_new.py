"""The main job's 5x3-view test phase, this checkout against an older one, interleaved.

    git worktree add /tmp/oldtree 8f17930        # before the test decoded each video once
    python tools/run_net.py --cfg configs/Synthetic/HIERA_TINY_DEMO.yaml OUTPUT_DIR /tmp/mainjob
    python benchmarks/test_phase_old_vs_new.py --old-tree /tmp/oldtree \\
        --checkpoint /tmp/mainjob/checkpoints/checkpoint_epoch_00020.pyth --data data/synthetic

Each round runs ``run_net TRAIN.ENABLE False`` on the same checkpoint and videos, first in
--old-tree, then in this checkout (same Python, each tree first on ``PYTHONPATH``), and
records the process's wall time and the test phase as its log stamps it (from "testing
weights" to the test's json_stats line; the log has whole seconds). Afterwards it checks
that both sides wrote the same per-video predictions (top-5 classes and scores, to the 1e-6
the predictions file keeps), and measures the two parts of the phase apart: the loader alone
in each tree (one core's work to decode and transform every view, no model) and this
checkout's model alone over those views (no loader), medians of --rounds. Writes everything
to --json.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime

from hiera_video.utils.io import write_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = "configs/Synthetic/HIERA_TINY_DEMO.yaml"
STAMP = re.compile(r"^\[(\d\d:\d\d:\d\d) ")


def _stamp(log: str, marker: str) -> datetime:
    for line in log.splitlines():
        stamp = STAMP.match(line) if marker in line else None
        if stamp:
            return datetime.strptime(stamp.group(1), "%H:%M:%S")
    raise RuntimeError(f"no log line with {marker!r}:\n{log[-2000:]}")


def run_test(tree: str, checkpoint: str, data: str, out: str) -> dict:
    """One test-only run of the main job's config in ``tree``; its timings and predictions."""
    cmd = [sys.executable, os.path.join(tree, "tools/run_net.py"), "--cfg", os.path.join(tree, CFG),
           "TRAIN.ENABLE", "False", "TEST.CHECKPOINT_FILE_PATH", checkpoint,
           "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", out]
    env = dict(os.environ, PYTHONPATH=tree)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    log = res.stdout + res.stderr
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{log[-3000:]}")
    phase = (_stamp(log, '"_type": "test"') - _stamp(log, "testing weights")).total_seconds()
    with open(os.path.join(out, "test_results.json")) as f:
        results = json.load(f)
    with open(os.path.join(out, "test_predictions.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    predictions = {os.path.basename(r["path"]): (r["top5"], r["scores"]) for r in rows if "top5" in r}
    return {"wall_s": round(wall, 2), "test_phase_s": phase, "top1": results["top1"], "top5": results["top5"],
            "predictions": predictions}


# Runs inside either tree (both read a config from a Namespace and build the test loader by split).
_LOADER_ALONE = """
import json, sys, time, torch
from argparse import Namespace
from hiera_video.config.loading import load_config
from hiera_video.data import build_loader
torch.set_num_threads(1)
cfg = load_config(Namespace(cfg_file=sys.argv[1], opts=["DATA.PATH_TO_DATA_DIR", sys.argv[2], "DATA_LOADER.NUM_WORKERS", "0"]))
seconds, views = [], 0
for _ in range(int(sys.argv[3])):
    loader, views = build_loader(cfg, "test"), 0
    t0 = time.perf_counter()
    for batch in loader:
        views += len(batch["video"])
    seconds.append(time.perf_counter() - t0)
print(json.dumps({"seconds": seconds, "views": views}))
"""


def loader_alone(tree: str, data: str, rounds: int) -> dict:
    """One core's work for the whole test split in ``tree``: every view decoded and transformed,
    no model (DATA_LOADER.NUM_WORKERS 0, torch on one thread); median seconds of ``rounds``."""
    res = subprocess.run([sys.executable, "-c", _LOADER_ALONE, os.path.join(tree, CFG), data, str(rounds)],
                         cwd=tree, env=dict(os.environ, PYTHONPATH=tree), capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"loader in {tree} failed:\n{res.stderr[-3000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    return {"seconds": round(statistics.median(out["seconds"]), 2), "views": out["views"]}


def model_alone(checkpoint: str, data: str, rounds: int) -> dict:
    """This checkout's model alone over the test split's batches, decoded beforehand (median seconds)."""
    import torch

    from hiera_video.data import build_loader
    from hiera_video.engine import load_config
    from hiera_video.engine.tasks import task_class
    from hiera_video.evaluation.classification import regroup

    cfg = load_config(os.path.join(ROOT, CFG), ["DATA.PATH_TO_DATA_DIR", data])
    task = task_class(cfg.TASK)(cfg)
    model = task.build_model(for_test=True).eval()
    task.load_test_weights(model, checkpoint)
    loader = build_loader(cfg, "test")
    batches = [b["video"] for b in regroup(loader, getattr(loader, "views_per_batch", 0))]
    del loader
    seconds = []
    with torch.no_grad():
        model(batches[0])  # warm-up
        for _ in range(rounds):
            t0 = time.perf_counter()
            for video in batches:
                model(video)
            seconds.append(time.perf_counter() - t0)
    return {"seconds": round(statistics.median(seconds), 2), "views": sum(len(v) for v in batches),
            "torch_threads": torch.get_num_threads()}


def same_predictions(a: dict, b: dict) -> dict:
    """Per video {name: (top-5 classes, scores)}: which videos differ in classes, and the largest
    score difference (the file keeps 1e-6)."""
    both = sorted(set(a) & set(b))
    return {"videos": len(a), "same_videos": set(a) == set(b),
            "top5_class_mismatches": sum(a[v][0] != b[v][0] for v in both),
            "max_score_diff": max((abs(x - y) for v in both for x, y in zip(a[v][1], b[v][1])), default=0.0)}


def _commit(tree: str) -> str:
    return subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old-tree", required=True, help="a checkout of the older commit (git worktree add)")
    p.add_argument("--checkpoint", required=True, help="the main job's checkpoint")
    p.add_argument("--data", required=True, help="the main job's DATA.PATH_TO_DATA_DIR (already generated)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--work", default="/tmp/test_phase_old_vs_new")
    p.add_argument("--json", default="", help="results file (default: print only)")
    args = p.parse_args(argv)
    rounds, last = [], {}
    for r in range(args.rounds):
        row = {}
        for side, tree in (("old", args.old_tree), ("new", ROOT)):
            out = os.path.join(args.work, f"{side}_{r}")
            last[side] = run_test(tree, os.path.abspath(args.checkpoint), os.path.abspath(args.data), out)
            row[side] = {k: v for k, v in last[side].items() if k != "predictions"}
            print(f"round {r + 1} {side}: wall {row[side]['wall_s']:.1f} s, test phase {row[side]['test_phase_s']:.0f} s, "
                  f"top1 {row[side]['top1']:.2f}%", flush=True)
        rounds.append(row)
    summary = {side: {k: statistics.median(row[side][k] for row in rounds) for k in ("wall_s", "test_phase_s")}
               for side in ("old", "new")}
    ratios = {k: summary["old"][k] / summary["new"][k] for k in ("wall_s", "test_phase_s")}
    check = same_predictions(last["old"]["predictions"], last["new"]["predictions"])
    data = os.path.abspath(args.data)
    bound = {"loader_alone_1core": {side: loader_alone(tree, data, args.rounds)
                                    for side, tree in (("old", args.old_tree), ("new", ROOT))},
             "model_alone_new": model_alone(os.path.abspath(args.checkpoint), data, args.rounds)}
    la = bound["loader_alone_1core"]
    bound["loader_old_over_new"] = la["old"]["seconds"] / la["new"]["seconds"]
    print(f"loader alone on one core: old {la['old']['seconds']:.2f} s / new {la['new']['seconds']:.2f} s "
          f"= {bound['loader_old_over_new']:.2f}x ({la['new']['views']} views); model alone "
          f"{bound['model_alone_new']['seconds']:.2f} s ({bound['model_alone_new']['torch_threads']} threads)")
    print(f"median test phase old {summary['old']['test_phase_s']:.0f} s / new {summary['new']['test_phase_s']:.0f} s "
          f"= {ratios['test_phase_s']:.2f}x; wall {summary['old']['wall_s']:.1f} / {summary['new']['wall_s']:.1f} s "
          f"= {ratios['wall_s']:.2f}x; predictions: {check}")
    if args.json:
        write_text(args.json, json.dumps({
            "old_commit": _commit(args.old_tree), "new_commit": _commit(ROOT), "cpu_threads": os.cpu_count(),
            "rounds": rounds, "median": summary, "old_over_new": ratios, "predictions": check, "floor": bound,
            "command": " ".join([os.path.basename(sys.executable), *sys.argv])}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
