"""The main job's test phase, this checkout against an older one, interleaved.

    git worktree add /tmp/oldtree 8f17930        # before the test decoded each video once
    python benchmarks/test_phase_old_vs_new.py --old-tree /tmp/oldtree --data data/synthetic --rounds 3

Each round runs the whole main job (``run_net`` on configs/Synthetic/HIERA_TINY_DEMO.yaml:
20 epochs of training, then the 5x3-view test) first in --old-tree, then in this checkout
(same Python, same generated videos, each tree first on ``PYTHONPATH``, a fresh OUTPUT_DIR
each). The test phase is what the job spends after its last checkpoint: from the log record
"saved checkpoint ..." of the last epoch to the test's json_stats record, timed in the
process to the microsecond (a wrapper around ``logging.Logger.makeRecord``), and split at
"testing weights" into the hand-over from training (loader shutdown, garbage collection)
and the test itself. Afterwards it checks that both sides wrote the same per-video
predictions (top-5 classes and scores, to the 1e-6 the predictions file keeps), and measures
two parts of the test apart: the loader alone in each tree (one core's work to decode and
transform every view, no model) and this checkout's model alone over those views (no
loader), medians of --rounds. Writes everything to --json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from hiera_video.engine.checkpoint import Checkpointer
from hiera_video.utils.io import write_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = "configs/Synthetic/HIERA_TINY_DEMO.yaml"

# Runs tools/run_net.py of either tree; prints when the marked log records were made.
_TIMED_RUN = """
import json, logging, runpy, sys, time
MARKERS = {"saved": "saved checkpoint", "testing": "testing weights", "tested": '"_type": "test"'}
stamps = []
make_record = logging.Logger.makeRecord
def timed_record(self, *args, **kwargs):
    record = make_record(self, *args, **kwargs)
    message = record.getMessage()
    stamps.extend((key, time.perf_counter()) for key, marker in MARKERS.items() if marker in message)
    return record
logging.Logger.makeRecord = timed_record
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    print("STAMPS " + json.dumps(stamps), flush=True)
"""


def _phase(stamps) -> dict:
    """Seconds from the last checkpoint to the test's stats, split at "testing weights"."""
    last = {}
    for key, t in stamps:
        last[key] = t
    if not {"saved", "testing", "tested"} <= set(last):
        raise RuntimeError(f"missing log records: got {sorted(last)}")
    return {"test_phase_s": round(last["tested"] - last["saved"], 3),
            "handover_s": round(last["testing"] - last["saved"], 3),
            "test_s": round(last["tested"] - last["testing"], 3)}


def run_main_job(tree: str, data: str, out: str) -> dict:
    """The whole main job in ``tree``; its timings, results and predictions."""
    cmd = [sys.executable, "-c", _TIMED_RUN, os.path.join(tree, "tools/run_net.py"), "--cfg", os.path.join(tree, CFG),
           "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", out]
    env = dict(os.environ, PYTHONPATH=tree)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    log = res.stdout + res.stderr
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[3:])} failed:\n{log[-3000:]}")
    stamps = json.loads(next(line for line in res.stdout.splitlines() if line.startswith("STAMPS "))[7:])
    with open(os.path.join(out, "test_results.json")) as f:
        results = json.load(f)
    with open(os.path.join(out, "test_predictions.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    predictions = {os.path.basename(r["path"]): (r["top5"], r["scores"]) for r in rows if "top5" in r}
    return {"wall_s": round(wall, 2), **_phase(stamps), "top1": results["top1"], "top5": results["top5"],
            "output_dir": out, "predictions": predictions}


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


KEYS = ("wall_s", "test_phase_s", "handover_s", "test_s")


def _ensure_data(data: str) -> None:
    """Generate the main job's videos into ``data`` once, before any timed run."""
    from hiera_video.synthetic.motion import ensure_synthetic_dataset
    from hiera_video.engine import load_config

    ensure_synthetic_dataset(load_config(os.path.join(ROOT, CFG), ["DATA.PATH_TO_DATA_DIR", data]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old-tree", required=True, help="a checkout of the older commit (git worktree add)")
    p.add_argument("--data", required=True, help="the main job's DATA.PATH_TO_DATA_DIR (generated if missing)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--work", default="/tmp/test_phase_old_vs_new", help="OUTPUT_DIRs of the runs go here")
    p.add_argument("--json", default="", help="results file (default: print only)")
    args = p.parse_args(argv)
    data = os.path.abspath(args.data)
    _ensure_data(data)
    rounds, last = [], {}
    for r in range(args.rounds):
        row = {}
        for side, tree in (("old", args.old_tree), ("new", ROOT)):
            last[side] = run_main_job(tree, data, os.path.join(args.work, f"{side}_{r}"))
            row[side] = {k: v for k, v in last[side].items() if k not in ("predictions", "output_dir")}
            print(f"round {r + 1} {side}: job {row[side]['wall_s']:.1f} s, test phase {row[side]['test_phase_s']:.2f} s "
                  f"(hand-over {row[side]['handover_s']:.2f} s + test {row[side]['test_s']:.2f} s), "
                  f"top1 {row[side]['top1']:.2f}%", flush=True)
        rounds.append(row)
    summary = {side: {k: statistics.median(row[side][k] for row in rounds) for k in KEYS} for side in ("old", "new")}
    ratios = {k: summary["old"][k] / summary["new"][k] for k in KEYS}
    check = same_predictions(last["old"]["predictions"], last["new"]["predictions"])
    bound = {"loader_alone_1core": {side: loader_alone(tree, data, args.rounds)
                                    for side, tree in (("old", args.old_tree), ("new", ROOT))},
             "model_alone_new": model_alone(Checkpointer(last["new"]["output_dir"]).last(), data, args.rounds)}
    la = bound["loader_alone_1core"]
    bound["loader_old_over_new"] = la["old"]["seconds"] / la["new"]["seconds"]
    print(f"loader alone on one core: old {la['old']['seconds']:.2f} s / new {la['new']['seconds']:.2f} s "
          f"= {bound['loader_old_over_new']:.2f}x ({la['new']['views']} views); model alone "
          f"{bound['model_alone_new']['seconds']:.2f} s ({bound['model_alone_new']['torch_threads']} threads)")
    old, new = summary["old"], summary["new"]
    print(f"median test phase old {old['test_phase_s']:.2f} s / new {new['test_phase_s']:.2f} s = "
          f"{ratios['test_phase_s']:.2f}x (hand-over {old['handover_s']:.2f} / {new['handover_s']:.2f} s, test "
          f"{old['test_s']:.2f} / {new['test_s']:.2f} s = {ratios['test_s']:.2f}x); whole job {old['wall_s']:.1f} / "
          f"{new['wall_s']:.1f} s; predictions: {check}")
    if args.json:
        write_text(args.json, json.dumps({
            "old_commit": _commit(args.old_tree), "new_commit": _commit(ROOT), "cpu_threads": os.cpu_count(),
            "rounds": rounds, "median": summary, "old_over_new": ratios, "predictions": check, "floor": bound,
            "command": " ".join([os.path.basename(sys.executable), *sys.argv])}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
