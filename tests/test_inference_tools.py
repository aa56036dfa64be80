"""tools/demo_net.py and tools/extract_features.py as a user runs them."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from hiera_video import create_model

CFG = "configs/Synthetic/HIERA_TINY_DEMO.yaml"
TINY = ["HIERA.EMBED_DIM", "16", "HIERA.STAGES", "[1,1,1,1]", "DATA.NUM_FRAMES", "4", "DATA_LOADER.NUM_WORKERS", "0"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    model = create_model("hiera_tiny_16x224", embed_dim=16, num_heads=1, stages=(1, 1, 1, 1), input_size=(4, 64, 64),
                         num_classes=6)
    torch.nn.init.normal_(model.head.projection.weight, std=1.0)
    path = folder / "model.pyth"
    torch.save({"model_state": model.state_dict()}, path)
    names = folder / "classnames.txt"
    names.write_text("\n".join(["left", "right", "up", "down", "clockwise", "counterclockwise"]) + "\n")
    return str(path), str(names)


def run(args):
    return subprocess.run([sys.executable] + args, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_demo_prints_five_named_classes(checkpoint, real_videos_dir, tmp_path):
    ckpt, names = checkpoint
    out = tmp_path / "overlay.mp4"
    result = run(["tools/demo_net.py", "--cfg", CFG, "--checkpoint", ckpt, "--video",
                  os.path.join(real_videos_dir, "dog.mp4"), "--output", str(out), *TINY, "DATA.CLASS_NAMES_FILE", names])
    assert result.returncode == 0, result.stderr
    lines = [l for l in result.stdout.splitlines() if l.strip()[:2] in {f"{i}." for i in range(1, 6)}]
    assert len(lines) == 5
    assert "5x3 views" in result.stdout
    scores = [float(l.split("%")[0].split()[-1]) for l in lines]
    assert scores == sorted(scores, reverse=True) and all(any(n in l for n in open(names).read().split()) for l in lines)
    import av

    with av.open(str(out)) as video:
        assert video.streams.video[0].frames > 100  # the 150-frame clip, re-encoded with the overlay


def test_demo_warns_on_class_name_mismatch(checkpoint, real_videos_dir, tmp_path):
    ckpt, _ = checkpoint
    short = tmp_path / "names.txt"
    short.write_text("a\nb\nc\n")
    result = run(["tools/demo_net.py", "--cfg", CFG, "--checkpoint", ckpt, "--single-view", "--video",
                  os.path.join(real_videos_dir, "goat.mp4"), *TINY, "DATA.CLASS_NAMES_FILE", str(short)])
    assert result.returncode == 0, result.stderr
    assert "3 names but the model has 6 classes" in result.stderr
    assert "(class " in result.stdout


@pytest.mark.slow
def test_extract_features_cli(checkpoint, real_videos_dir, tmp_path):
    ckpt, _ = checkpoint
    out = tmp_path / "feats"
    result = run(["tools/extract_features.py", "--cfg", CFG, "--checkpoint", ckpt, "--videos", real_videos_dir,
                  "--out", str(out), "--logits", "--stage", "3", *TINY])
    assert result.returncode == 0, result.stderr
    # Every entry of the folder is in the index: the two clips, and its README as not a video.
    assert "2/3 videos extracted, 1 failed" in result.stdout
    with open(out / "index.json") as f:
        index = json.load(f)
    assert [(os.path.basename(r["video"]), r["status"]) for r in index] == [
        ("README.md", "failed"), ("dog.mp4", "ok"), ("goat.mp4", "ok")]
    assert "not a video" in index[0]["reason"]
    record = index[1]
    feats = np.load(record["features"])
    assert feats.shape == (record["num_clips"], 128) and np.isfinite(feats).all()
    assert np.load(record["logits"]).shape == (record["num_clips"], 6)
    assert np.load(record["stage3"]).shape == (record["num_clips"], 2, 4, 4, 64)
    assert record["fps"] == pytest.approx(30.0) and record["duration"] == pytest.approx(5.0, abs=0.1)
