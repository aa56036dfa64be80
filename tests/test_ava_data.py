"""AVA dataset: box transforms under resize/crop/flip, keyframes and boxes from the
PySlowFast layout (generated JPEG frames and official-format CSVs), bad input, collate."""
import logging
import os

import numpy as np
import pytest
import torch

from hiera_video.config.defaults import get_cfg
from hiera_video.data import build_loader
from hiera_video.synthetic import ava as syn
from hiera_video.data.ava import AVADataset, ava_collate
from hiera_video.data.ava_transforms import (crop_boxes, flip_boxes, sanitize_normalized_boxes, scale_boxes,
                                             transform_clip, valid_boxes)
from hiera_video.evaluation import read_boxes_csv


def test_box_ops_by_hand():
    b = np.array([[10, 20, 30, 60]], np.float32)
    assert scale_boxes(b, 0.5, 2.0).tolist() == [[5, 40, 15, 120]]
    assert crop_boxes(b, 15, 0, 40, 50).tolist() == [[0, 20, 15, 50]]  # clipped to the 40x50 crop
    assert flip_boxes(b, 100).tolist() == [[70, 20, 90, 60]]
    assert flip_boxes(flip_boxes(b, 100), 100).tolist() == b.tolist()
    outside = crop_boxes(np.array([[0, 0, 10, 10]], np.float32), 20, 20, 30, 30)
    assert not valid_boxes(outside)[0] and valid_boxes(b)[0]


def test_sanitize_clips_and_drops_with_log(caplog):
    boxes = np.array([[-0.1, 0.2, 0.5, 1.3], [0.2, 0.2, 0.6, 0.7], [0.5, 0.5, 0.5, 0.9], [1.2, 0.1, 1.5, 0.4]])
    with caplog.at_level(logging.WARNING):
        out, keep, n_clipped = sanitize_normalized_boxes(boxes, "test")
    assert keep.tolist() == [True, True, False, False] and n_clipped == 2
    assert np.allclose(out[0], [0.0, 0.2, 0.5, 1.0])
    assert "2 box(es) outside [0, 1] were clipped" in caplog.text and "2 degenerate box(es)" in caplog.text


def _cfg(root, **kw):
    cfg = get_cfg()
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = "ava"
    cfg.DATA.PATH_TO_DATA_DIR = root
    cfg.MODEL.NUM_CLASSES = 6
    cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE = 4, 8
    cfg.DATA.TRAIN_JITTER_SCALES = [40, 56]
    cfg.DATA.TRAIN_CROP_SIZE = cfg.DATA.TEST_CROP_SIZE = 40
    cfg.DATA.MEAN, cfg.DATA.STD = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    cfg.TRAIN.BATCH_SIZE, cfg.TEST.BATCH_SIZE = 2, 3
    cfg.DATA_LOADER.NUM_WORKERS = 0
    cfg.DATA_LOADER.PIN_MEMORY = False
    for k, v in kw.items():
        cfg.merge_from_list([k, v])
    return cfg


@pytest.mark.parametrize("train,seed", [(True, 0), (True, 1), (True, 2), (True, 3), (False, 0)])
def test_boxes_follow_the_pixels(train, seed):
    """A bright rectangle drawn at a known box stays inside the transformed box (resize, crop, flip)."""
    cfg = _cfg("/nonexistent")
    h, w = 48, 80
    frames = np.zeros((2, h, w, 3), np.uint8)
    x1, y1, x2, y2 = 8, 10, 28, 40  # left half, so a flip moves it visibly
    frames[:, y1:y2, x1:x2] = 255
    norm = np.array([[x1 / w, y1 / h, x2 / w, y2 / h]], np.float32)
    flips = 0
    for s in range(seed * 10, seed * 10 + 10):
        video, boxes = transform_clip(frames, norm, cfg, train, np.random.default_rng(s))
        assert video.shape == (3, 2, 40, 40)
        img = video[0, 0].numpy()
        bx1, by1, bx2, by2 = boxes[0]
        inside = img[int(np.ceil(by1)):int(by2), int(np.ceil(bx1)):int(bx2)]
        mask = np.zeros_like(img, bool)
        mask[max(0, int(by1) - 1):int(np.ceil(by2)) + 1, max(0, int(bx1) - 1):int(np.ceil(bx2)) + 1] = True
        if valid_boxes(boxes)[0]:
            assert inside.size and inside.mean() > 0.95, (s, boxes)
        assert img[~mask].max(initial=0) < 0.05, (s, boxes)  # nothing bright outside the box
        flips += bool(boxes[0, 0] > 40 - boxes[0, 2])  # box centre on the right half: mirrored
    if train:
        assert 0 < flips < 10  # random flips happened, not always
    else:
        assert flips == 0


@pytest.fixture(scope="module")
def ava_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("ava"))
    syn.make_synthetic_ava(root, train_videos=2, val_videos=2, keyframes=3, height=40, width=56, seed=3)
    return root


def test_train_items_and_collate(ava_root):
    cfg = _cfg(ava_root)
    ds = AVADataset(cfg, "train")
    gt = read_boxes_csv(os.path.join(ava_root, "annotations/ava_train_v2.2.csv"))
    assert len(ds) == len(gt) == 6 and not ds.skipped
    for vid, t, boxes, labels, paths in ds.keyframes:
        rows = gt[(vid, t)]
        persons = {tuple(r[:4]) for r in rows}
        assert len(boxes) == len(persons)
        for box, lab in zip(boxes, labels):  # multi-hot = every action row of that box
            want = {r.action_id for r in rows if np.allclose(r[:4], box)}
            assert set(np.nonzero(lab)[0] + 1) == want
        centre = (t - 900) * 30
        assert [int(p[-10:-4]) - 1 for p in paths] == [centre - 16, centre - 8, centre, centre + 8]
    loader = build_loader(cfg, "train")
    batch = next(iter(loader))
    n = len(batch["boxes"])
    assert batch["video"].shape == (2, 3, 4, 40, 40)
    assert batch["boxes"].shape == (n, 5) and batch["labels"].shape == (n, 6) and len(batch["metadata"]) == n
    assert set(batch["boxes"][:, 0].tolist()) <= {0.0, 1.0}
    assert ((batch["boxes"][:, 1:] >= 0) & (batch["boxes"][:, 1:] <= 40)).all()
    for (vid, t), i in zip(batch["metadata"], batch["boxes"][:, 0].long()):
        assert ds.keyframes[int(batch["index"][i])][:2] == (vid, t)


def test_test_split_uses_detector_boxes_above_threshold(ava_root):
    cfg = _cfg(ava_root)
    ds = AVADataset(cfg, "test")
    pred = read_boxes_csv(os.path.join(ava_root, "annotations/ava_val_predicted_boxes.csv"))
    for vid, t, boxes, labels, _ in ds.keyframes:
        want = sorted(tuple(np.float32(v) for v in b[:4]) for b in pred[(vid, t)] if b.score >= 0.8)
        assert sorted(map(tuple, boxes)) == want and not labels.any()
    item = ds[0]
    assert torch.equal(item["norm_boxes"], torch.from_numpy(ds.keyframes[0][2]))  # reported as in the CSV
    loose = AVADataset(_cfg(ava_root, **{"AVA.DETECTION_SCORE_THRESH": 0.0}), "test")
    assert sum(len(k[2]) for k in loose.keyframes) == sum(len(v) for v in pred.values())


def test_missing_frames_are_skipped_and_counted(ava_root, tmp_path, caplog):
    import shutil

    root = str(tmp_path / "ava")
    shutil.copytree(ava_root, root)
    os.remove(os.path.join(root, "frames/syn_val_001/syn_val_001_000091.jpg"))  # centre of keyframe 903
    with open(os.path.join(root, "frame_lists/val.csv")) as f:
        lines = [ln for ln in f if not ln.startswith("syn_val_000 ")]  # a video absent from the lists
    with open(os.path.join(root, "frame_lists/val.csv"), "w") as f:
        f.writelines(lines)
    with caplog.at_level(logging.WARNING):
        ds = AVADataset(_cfg(root), "val")
    assert len(ds) == 2 and len(ds.skipped) == 4
    assert ("syn_val_001", 903) in [(v, t) for v, t, _ in ds.skipped]
    assert "skipped 4 of 6 keyframes" in caplog.text


def test_bad_action_id_and_out_of_range_boxes(ava_root, tmp_path, caplog):
    import shutil

    root = str(tmp_path / "ava")
    shutil.copytree(ava_root, root)
    gt = os.path.join(root, "annotations/ava_train_v2.2.csv")
    with open(gt, "a") as f:
        f.write("syn_train_000,0902,-0.2,0.1,0.5,1.4,2,9\n")  # outside [0, 1]: clipped
        f.write("syn_train_000,0903,0.5,0.1,0.5,0.4,2,9\n")  # zero width: dropped
    with caplog.at_level(logging.WARNING):
        ds = AVADataset(_cfg(root), "train")
    boxes = {(v, t): b for v, t, b, _, _ in ds.keyframes}
    assert np.isclose(boxes[("syn_train_000", 902)], [0.0, 0.1, 0.5, 1.0]).all(axis=1).any()
    assert len(boxes[("syn_train_000", 903)]) == len(ds.keyframes[1][2]) and ds.keyframes[1][1] == 903
    assert not any(np.isclose(b, [0.5, 0.1, 0.5, 0.4]).all() for b in boxes[("syn_train_000", 903)])
    assert "1 box(es) outside [0, 1] were clipped" in caplog.text and "1 degenerate box(es)" in caplog.text
    with open(gt, "a") as f:
        f.write("syn_train_001,0902,0.1,0.1,0.5,0.4,81,9\n")
    with pytest.raises(ValueError, match="action id 81, outside 1..MODEL.NUM_CLASSES=6"):
        AVADataset(_cfg(root), "train")


def test_collate_empty_item():
    item = {"video": torch.zeros(3, 2, 8, 8), "boxes": torch.zeros(0, 4), "labels": torch.zeros(0, 6),
            "norm_boxes": torch.zeros(0, 4), "video_id": "v", "timestamp": 902, "index": 0, "decode_failures": 0}
    full = dict(item, boxes=torch.ones(2, 4), labels=torch.ones(2, 6), norm_boxes=torch.ones(2, 4), index=1)
    b = ava_collate([item, full])
    assert b["boxes"].shape == (2, 5) and b["boxes"][:, 0].tolist() == [1.0, 1.0] and len(b["metadata"]) == 2


def test_unreadable_frame_left_out_in_val_replaced_in_train(ava_root, tmp_path, caplog):
    """A frame file that exists but is not an image: val scores the keyframe with no boxes and
    names it; training replaces the keyframe (counted in decode_failures)."""
    import shutil

    root = str(tmp_path / "ava")
    shutil.copytree(ava_root, root)
    for split in ("val", "train"):
        with open(os.path.join(root, f"frames/syn_{split}_000/syn_{split}_000_000061.jpg"), "wb") as f:
            f.write(b"not a jpeg")  # frame 61 is the centre of keyframe 902
    with caplog.at_level(logging.WARNING):
        val = AVADataset(_cfg(root), "val")
        keys = [(v, t) for v, t, *_ in val.keyframes]
        broken = val[keys.index(("syn_val_000", 902))]
        good = val[keys.index(("syn_val_000", 903))]
    assert broken["decode_failures"] == 1 and len(broken["boxes"]) == 0 and "syn_val_000,0902" in broken["error"]
    assert good["decode_failures"] == 0 and len(good["boxes"]) > 0
    batch = ava_collate([broken, good])
    assert batch["errors"] == [broken["error"]] and len(batch["boxes"]) == len(good["boxes"])
    assert "syn_val_000_000061.jpg" in caplog.text
    train = AVADataset(_cfg(root), "train")
    keys = [(v, t) for v, t, *_ in train.keyframes]
    item = train[(keys.index(("syn_train_000", 902)), 0)]
    assert item["decode_failures"] >= 1 and (item["video_id"], item["timestamp"]) != ("syn_train_000", 902)
