"""The generator of AVA-format data (hiera_video/synthetic/ava.py)."""
import os

import numpy as np
import pytest

from hiera_video.synthetic import ava as syn
from hiera_video.evaluation import box_iou, evaluate_frame_map, read_boxes_csv, read_labelmap


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("ava_syn"))
    return root, syn.make_synthetic_ava(root, train_videos=2, val_videos=2, keyframes=3, height=32, width=48, seed=1)


def test_layout_and_frame_lists(dataset):
    root, files = dataset
    frames = sorted(os.listdir(os.path.join(root, "frames", "syn_val_001")))
    assert len(frames) == (3 + 2 * 2) * 30 and frames[0] == "syn_val_001_000001.jpg"  # 3 keyframes + 2 s each side
    with open(files["val_frame_list"]) as f:
        lines = f.read().splitlines()
    assert lines[0] == "original_vido_id video_id frame_id path labels"
    assert lines[1] == 'syn_val_000 0 0 syn_val_000/syn_val_000_000001.jpg ""'
    assert len(lines) == 1 + 2 * 210 and all(len(line.split()) == 5 for line in lines[1:])
    assert read_labelmap(files["labelmap"]) == {c: syn.CLASSES[c] for c in (1, 2, 3, 4, 5)}


def test_annotations_official_format_and_actions(dataset):
    _, files = dataset
    gt = read_boxes_csv(files["train_gt"])
    assert sorted({t for _, t in gt}) == [902, 903, 904]
    for boxes in gt.values():
        arr = np.array([b[:4] for b in boxes])
        assert ((arr >= 0) & (arr <= 1)).all() and (arr[:, 2] > arr[:, 0]).all() and (arr[:, 3] > arr[:, 1]).all()
    # walkers (class 5) move between keyframes; everyone else stays put
    people = {}  # (video, person id) -> {timestamp: box}, actions
    with open(files["train_gt"]) as f:
        for vid, t, x1, y1, x2, y2, action, pid in (line.strip().split(",") for line in f):
            boxes, actions = people.setdefault((vid, pid), ({}, set()))
            boxes[int(t)] = (x1, y1, x2, y2)
            actions.add(int(action))
    for boxes, actions in people.values():
        assert len(actions & {1, 2, 3}) == 1  # exactly one pose
        assert (boxes[902] != boxes[903]) == (5 in actions)
    assert any(5 in a for _, a in people.values()) and any(5 not in a for _, a in people.values())


def test_scored_by_the_official_metric(dataset):
    _, files = dataset
    gt = read_boxes_csv(files["val_gt"])
    dets = {k: [b._replace(score=1.0) for b in v] for k, v in gt.items()}
    with pytest.warns(UserWarning, match="absent from the label map"):  # class 6, like AVA's 20 of 80
        res = evaluate_frame_map(files["val_gt"], dets, files["labelmap"], exclusions=files["exclusions"])
    assert res["mAP"] == 1.0
    # predicted boxes: one jittered box per person above 0.8, one distractor below
    pred = read_boxes_csv(files["val_predicted_boxes"])
    for key, boxes in gt.items():
        persons = np.unique(np.array([b[:4] for b in boxes]), axis=0)
        high = np.array([b[:4] for b in pred[key] if b.score >= 0.8])
        low = [b for b in pred[key] if b.score < 0.8]
        assert len(high) == len(persons) and len(low) == 1
        assert box_iou(high, persons).max(axis=1).min() > 0.5
