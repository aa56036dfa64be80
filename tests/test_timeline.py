"""tools/demo_net.py --timeline: scores over a long video, and the segments where its class changes.

The video moves a shape left for 2 s, then right for 2 s (H.264 MP4). A 4-minute training run
does not fit a test, so the change is found by a small motion classifier (one 3-D conv,
trained here in a few seconds on separately generated left/right clips, not on this video):
it proves the windowing, batching, scores and segments find a change, not that Hiera learns
motion. With the main job's checkpoint the same video was checked by hand (docs/features_demo.md).
"""
import csv
import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from hiera_video import create_model
from hiera_video.engine import load_config
from hiera_video.synthetic.motion import render_clip, sample_appearance, trajectory
from hiera_video.synthetic.mp4 import write_mp4
from hiera_video.data.transforms import build_eval_transform
from hiera_video.inference.extract import clip_from_frames
from hiera_video.inference.timeline import find_segments, predict_timeline, write_timeline

CFG = "configs/Synthetic/HIERA_TINY_DEMO.yaml"
SHORT = ["DATA.NUM_FRAMES", "4", "DATA.PATH_TO_DATA_DIR", "/nonexistent"]  # windows of 4 frames, 2 apart
SPAN = 4 * 2 / 30
CHANGE = 2.0  # seconds: left before, right after


def config(opts=()):
    return load_config(CFG, SHORT + list(opts), validate=False)


def left_then_right(seed: int, seconds: float = CHANGE, size: int = 64) -> np.ndarray:
    """uint8 [T, H, W, 3]: one shape moving left, then (from where it stopped) right."""
    app = sample_appearance(np.random.default_rng(seed), size)
    n = int(seconds * 30)
    x, y, angle = trajectory(app, 0, n + 1)[-1]
    second = replace(app, pos0=(float(x), float(y)), angle0=float(angle))
    return np.concatenate([render_clip(app, 0, n, size), render_clip(second, 1, n, size)])


@pytest.fixture(scope="module")
def change_video(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("timeline") / "left_then_right.mp4")
    write_mp4(path, left_then_right(seed=123))
    return path


class MotionNet(nn.Module):
    """One spatio-temporal conv (2 frames x 7 x 7), ReLU, mean pool, linear: enough for left/right."""

    def __init__(self, classes: int = 2):
        super().__init__()
        self.conv = nn.Conv3d(3, 8, (2, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3))
        self.head = nn.Linear(8, classes)

    def forward_features(self, x):  # [N, 3, T, H, W] -> [N, 8]
        return torch.relu(self.conv(x)).mean((2, 3, 4))

    def forward_head(self, feats):
        return self.head(feats)

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


@pytest.fixture(scope="module")
def motion_model():
    return train_motion_net()


def train_motion_net() -> MotionNet:
    """Trained on 12 clips (other appearances than the video's) to 100% training accuracy."""
    torch.manual_seed(0)
    cfg, rng = config(), np.random.default_rng(1)
    transform = build_eval_transform(cfg)
    clips, labels = [], []
    for n in range(12):
        frames = render_clip(sample_appearance(rng, 64), n % 2, 20, 64)
        for start in range(0, 13, 4):  # windows as the timeline samples them: 4 frames, 2 apart
            clips.append(clip_from_frames(frames[start:start + 8:2], transform, 64)[0])
            labels.append(n % 2)
    x, y = torch.stack(clips), torch.tensor(labels)
    model = MotionNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(60):
        idx = torch.randint(0, len(x), (32,))
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert (model(x).argmax(1) == y).float().mean() == 1.0
    return model.eval()


def check_change(segments, span):
    """Left first, right last, and both runs meet the true change within one window ``span``
    (a short run of another class between them is allowed only inside that window)."""
    assert segments[0]["class"] == "move_left" and segments[-1]["class"] == "move_right", segments
    assert abs(segments[0]["end"] - CHANGE) <= span and abs(segments[-1]["start"] - CHANGE) <= span, segments


def test_segments_find_the_change(change_video, motion_model, tmp_path):
    cfg = config()
    timeline = predict_timeline(motion_model, change_video, cfg, stride_sec=SPAN / 2, batch_size=4)
    names = ["move_left", "move_right"]
    paths, segments = write_timeline(str(tmp_path), change_video, timeline, names)
    assert len(segments) == 2
    check_change(segments, SPAN)
    assert segments[0]["start"] == 0 and segments[-1]["end"] == pytest.approx(2 * CHANGE, abs=0.05)
    assert all(s["mean_score"] > 0.5 for s in segments)

    windows = timeline["windows"]
    assert np.allclose(np.diff(windows[:, 0]), SPAN / 2) and windows[-1, 1] >= 2 * CHANGE
    with open(paths["jsonl"]) as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) == len(windows) and rows[0]["top5"][0]["name"] == "move_left"
    assert [r["start"] for r in rows] == pytest.approx(windows[:, 0], abs=1e-4)
    with open(paths["csv"]) as f:
        table = list(csv.reader(f))
    assert table[0] == ["start", "end", "move_left", "move_right"] and len(table) == len(windows) + 1
    assert np.allclose(np.array(table[1:], dtype=float)[:, 2:], timeline["probs"], atol=1e-4)
    with open(paths["segments"]) as f:
        assert json.load(f)["segments"] == segments
    with Image.open(paths["png"]) as image:
        assert image.format == "PNG" and image.size[0] > 300


def test_segment_edges_lie_between_window_centres():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.7, 0.3]])
    windows = np.array([[i * 0.5, i * 0.5 + 1.0] for i in range(5)])  # centres 0.5, 1.0, ... 2.5
    segments = find_segments(probs, windows, duration=3.0, names=["a", "b"])
    assert [(s["class"], s["start"], s["end"], s["windows"]) for s in segments] == [
        ("a", 0.0, 1.25, [0, 1]), ("b", 1.25, 2.25, [2, 3]), ("a", 2.25, 3.0, [4, 4])]
    assert segments[1]["mean_score"] == pytest.approx(0.65)


def run_demo(*args):
    return subprocess.run([sys.executable, "tools/demo_net.py", "--cfg", CFG, *args], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_timeline_cli_writes_files_and_names_bad_input(change_video, tmp_path):
    """The command line with a (random) tiny Hiera checkpoint: four files, one row per window; a missing video."""
    torch.manual_seed(0)
    model = create_model("hiera_tiny_16x224", embed_dim=16, num_heads=1, stages=(1, 1, 1, 1), input_size=(4, 64, 64),
                         num_classes=6)
    ckpt = tmp_path / "model.pyth"
    torch.save({"model_state": model.state_dict()}, ckpt)
    tiny = ["HIERA.EMBED_DIM", "16", "HIERA.STAGES", "[1,1,1,1]", *SHORT]
    out = tmp_path / "timeline"
    result = run_demo("--checkpoint", str(ckpt), "--timeline", "--video", change_video, "--out", str(out), *tiny)
    assert result.returncode == 0, result.stderr
    windows = int(np.ceil((2 * CHANGE - SPAN) / SPAN - 1e-9)) + 1  # default stride: the window length
    assert f"{windows} windows" in result.stdout
    assert sorted(os.listdir(out)) == ["segments.json", "timeline.csv", "timeline.jsonl", "timeline.png"]
    with open(out / "timeline.jsonl") as f:
        assert sum(1 for _ in f) == windows
    bad = run_demo("--checkpoint", str(ckpt), "--timeline", "--video", str(tmp_path / "missing.mp4"), *tiny)
    assert bad.returncode == 1 and "missing.mp4" in bad.stderr and "file not found" in bad.stderr
