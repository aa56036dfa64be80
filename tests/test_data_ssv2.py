"""Something-Something-v2 from (tiny fake) official json files: parsing, segment sampling, flips."""
import json
import os

import numpy as np
import pytest
import torch

from data_helpers import small_cfg
from hiera_video.data import build_loader
from hiera_video.data.ssv2 import SSv2Dataset, mirror_label_map
from hiera_video.synthetic.mp4 import write_mp4

CLASSES = ["Pushing something from left to right", "Pushing something from right to left",
           "Holding something", "Turning the camera left while filming something"]
MEAN, STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])


def _write_webm(path, frames, fps=12):
    import av

    with av.open(path, "w") as c:
        s = c.add_stream("libvpx", rate=fps)
        s.height, s.width = frames.shape[1:3]
        s.pix_fmt = "yuv420p"
        s.options = {"crf": "4", "b:v": "1M"}
        for f in frames:
            for p in s.encode(__import__("av").VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def _ramp_x_frames(n=32, h=32, w=48):
    """Frame k: grey level 10 + 7k, plus a red ramp growing left to right (for flip checks)."""
    frames = np.zeros((n, h, w, 3), np.uint8)
    frames[..., 1] = frames[..., 2] = (10 + 7 * np.arange(n))[:, None, None]
    frames[..., 0] = np.linspace(0, 255, w)[None, None, :]
    return frames


@pytest.fixture(scope="module")
def ssv2_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("ssv2")
    (root / "something-something-v2-labels.json").write_text(json.dumps({c: str(i) for i, c in enumerate(CLASSES)}))
    templates = ["Pushing [something] from left to right", "Pushing [something] from right to left",
                 "Holding [something]", "Turning the camera left while filming [something]"]
    train = [{"id": str(100 + k), "label": "x", "template": templates[k % 4], "placeholders": ["x"]} for k in range(8)]
    val = [{"id": str(200 + k), "label": "x", "template": templates[k % 4], "placeholders": ["x"]} for k in range(2)]
    (root / "something-something-v2-train.json").write_text(json.dumps(train))
    (root / "something-something-v2-validation.json").write_text(json.dumps(val))
    videos = root / "videos"
    videos.mkdir()
    frames = _ramp_x_frames()
    for e in train[:2]:
        _write_webm(str(videos / f"{e['id']}.webm"), frames)  # the official container
    for e in train[2:] + val:
        write_mp4(str(videos / f"{e['id']}.mp4"), frames, fps=12)  # as after datasets_prep/resize_videos.py
    return str(root)


def _cfg(root, **kw):
    base = {"TRAIN.DATASET": "ssv2", "TEST.DATASET": "ssv2", "MODEL.NUM_CLASSES": 4,
            "DATA.PATH_PREFIX": os.path.join(root, "videos"), "DATA.NUM_FRAMES": 4}
    return small_cfg(root, **{**base, **kw})


def _levels(video_cthw):
    """Frame indices of a normalised ramp clip (grey level 10 + 7k in the green channel)."""
    g = (video_cthw[1] * STD[1] + MEAN[1]) * 255  # [T, H, W]
    return [int(round((m.item() - 10) / 7)) for m in g.mean(dim=(1, 2))]


def test_reads_official_files(ssv2_dir):
    ds = SSv2Dataset(_cfg(ssv2_dir), "train")
    assert ds.num_videos == 8 and ds.labels == [0, 1, 2, 3] * 2
    assert ds.class_names == CLASSES and ds.video_paths[0].endswith("videos/100.webm")
    assert SSv2Dataset(_cfg(ssv2_dir), "test").num_videos == 2  # test = validation json


def test_errors_name_the_problem(ssv2_dir, tmp_path):
    with pytest.raises(ValueError, match="MODEL.NUM_CLASSES=174 .* 4 classes"):
        SSv2Dataset(_cfg(ssv2_dir, **{"MODEL.NUM_CLASSES": 174}), "train")
    with pytest.raises(FileNotFoundError, match="something-something-v2-labels.json"):
        SSv2Dataset(_cfg(str(tmp_path)), "train")
    (tmp_path / "something-something-v2-labels.json").write_text(json.dumps({"Holding something": "0"}))
    (tmp_path / "something-something-v2-train.json").write_text(json.dumps([{"id": "1", "template": "Eating [x]"}]))
    with pytest.raises(ValueError, match="template 'Eating x' is not in"):
        SSv2Dataset(_cfg(str(tmp_path), **{"MODEL.NUM_CLASSES": 1}), "train")


def test_segment_sampling_train_and_test_views(ssv2_dir):
    ds = SSv2Dataset(_cfg(ssv2_dir, **{"DATA.TRAIN_JITTER_SCALES": [32, 32], "AUG.ENABLE": False}), "train")
    for epoch in range(4):  # 32 frames in 4 segments of 8: one random frame from each
        for item in (0, 2):  # webm and mp4
            levels = _levels(ds[(item, epoch)]["video"])
            assert all(8 * k <= f < 8 * (k + 1) for k, f in enumerate(levels)), levels
    test = SSv2Dataset(_cfg(ssv2_dir, **{"TEST.NUM_ENSEMBLE_VIEWS": 2, "TEST.NUM_SPATIAL_CROPS": 3}), "test")
    assert len(test) == 2 and test.num_views == 6  # an item is a video's 6 views, decoded in one pass
    views = test[0]["video"]
    assert _levels(views[0]) == [2, 10, 18, 26] and _levels(views[3]) == [6, 14, 22, 30]


def _red_direction(video_cthw):
    """+1 when red grows left to right (unflipped), -1 when mirrored."""
    red = video_cthw[0].mean(dim=(0, 1))
    return 1 if red[-1] > red[0] else -1


def test_ssv2_never_flips_by_default(ssv2_dir):
    ds = SSv2Dataset(_cfg(ssv2_dir, **{"DATA.RANDOM_FLIP": True}), "train")
    assert {_red_direction(ds[(i, e)]["video"]) for i in range(8) for e in range(4)} == {1}


def test_label_aware_flip(ssv2_dir):
    assert mirror_label_map(CLASSES) == [1, 0, 2, None]
    ds = SSv2Dataset(_cfg(ssv2_dir, **{"DATA.SSV2_LABEL_AWARE_FLIP": True}), "train")
    flipped = {0: 0, 1: 0, 2: 0, 3: 0}
    for e in range(6):
        for i in range(8):
            item = ds[(i, e)]
            original = ds.labels[i]
            if _red_direction(item["video"]) < 0:
                flipped[original] += 1
                assert item["label"] == [1, 0, 2][original]
            else:
                assert item["label"] == original
    assert flipped[3] == 0 and flipped[0] + flipped[1] > 0 and flipped[2] > 0


def test_ssv2_loader_batches(ssv2_dir):
    batch = next(iter(build_loader(_cfg(ssv2_dir), "train")))
    assert batch["video"].shape == (4, 3, 4, 32, 32) and batch["label"].dtype == torch.int64
