"""One command each: a folder of class folders trains, validates, tests (run_net) and demos by name
(demo_net), on generated H.264 clips of the demo's motion classes."""
import json
import os
import subprocess
import sys

import pytest
import torch
from engine_utils import REPO_ROOT, json_stats, run_net, tiny_opts

from hiera_video.synthetic.motion import CLASSES, clip_spec, render_clip
from hiera_video.synthetic.mp4 import write_mp4

pytestmark = pytest.mark.slow  # subprocess runs: `pytest -m "not slow"` leaves them out

NAMES = ["move_left", "move_right", "rotate_clockwise"]


def test_class_folders_train_test_and_demo_by_name(tmp_path):
    data, out = tmp_path / "my_videos", tmp_path / "run"
    for name in NAMES:
        os.makedirs(data / name)
    n = 0
    while sum(len(os.listdir(data / c)) for c in NAMES) < 18:  # 6 clips per class
        app, label = clip_spec(5, "train", n, 64)
        if CLASSES[label] in NAMES and len(os.listdir(data / CLASSES[label])) < 6:
            write_mp4(str(data / CLASSES[label] / f"{n}.mp4"), render_clip(app, label, 16, 64))
        n += 1
    (data / "move_left" / "Thumbs.db").write_bytes(b"junk")
    os.makedirs(data / "unused_class")

    res = run_net(tiny_opts(data, out, "DATA.SYNTHETIC.ENABLE", "False", "TRAIN.DATASET", "folder",
                            "TEST.DATASET", "folder", "MODEL.NUM_CLASSES", "0", "DATA.VAL_FRACTION", "0.2",
                            "DATA.TEST_FRACTION", "0.2"))
    assert res.returncode == 0, res.stderr[-3000:]
    log = open(out / "stdout.log").read()
    assert "left out: unused_class" in log and "Thumbs.db" in log
    assert open(out / "classnames.txt").read().split() == NAMES
    splits = {s: open(out / "splits" / f"{s}.csv").read().splitlines() for s in ("train", "val", "test")}
    assert {s: len(v) for s, v in splits.items()} == {"train": 12, "val": 3, "test": 3}
    assert len(json_stats(str(out / "stdout.log"), "train_epoch")) == 2
    assert json_stats(str(out / "stdout.log"), "val_epoch")  # validated during training
    results = json.load(open(out / "test_results.json"))
    assert results["num_videos"] == 3 and results["num_views"] == 6
    rows = [json.loads(line) for line in open(out / "test_predictions.jsonl")]
    assert sorted(r["path"] for r in rows) == sorted(line.rsplit(" ", 1)[0] for line in splits["test"])
    assert all(r["label_name"] == NAMES[r["label"]] and set(r["top5_names"]) == set(NAMES) for r in rows)
    ckpt = results["checkpoint"]
    assert torch.load(ckpt, map_location="cpu", weights_only=False)["class_names"] == NAMES

    # a new video, the run's config with MODEL.NUM_CLASSES 0 and no data folder: names from the checkpoint
    clip = tmp_path / "new.mp4"
    app, label = clip_spec(9, "test", 0, 64)
    write_mp4(str(clip), render_clip(app, label, 16, 64))
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    demo = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tools", "demo_net.py"), "--cfg",
                           str(out / "config.yaml"), "--checkpoint", ckpt, "--video", str(clip), "MODEL.NUM_CLASSES",
                           "0", "DATA.PATH_TO_DATA_DIR", str(tmp_path / "elsewhere")],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr[-3000:]
    ranked = [line.split()[1] for line in demo.stdout.splitlines() if line.strip()[:2] in ("1.", "2.", "3.")]
    assert sorted(ranked) == NAMES
