"""AVA frame-mAP on hand-computed cases (official ActivityNet protocol)."""
import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from hiera_video.evaluation import (detections_from_predictions, evaluate_frame_map, read_boxes_csv,
                                    read_labelmap, write_detections_csv)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABELMAP = """item {
  name: "bend/bow (at the waist)"
  id: 1
}
item {
  name: "crawl"
  id: 2
}
item { name: "crouch/kneel" id: 3 }
"""
G1, G2, G3 = (0.1, 0.1, 0.4, 0.6), (0.5, 0.2, 0.9, 0.9), (0.2, 0.3, 0.6, 0.8)
ELSEWHERE = (0.0, 0.0, 0.05, 0.05)  # overlaps none of the boxes above


def _csv(path, rows):
    with open(path, "w") as f:
        f.writelines(",".join(str(v) for v in r) + "\n" for r in rows)
    return str(path)


@pytest.fixture
def labelmap(tmp_path):
    p = tmp_path / "labels.pbtxt"
    p.write_text(LABELMAP)
    return str(p)


def gt_row(t, box, c, person=0):
    return ("vid", "%04d" % t, *box, c, person)


def det_row(t, box, c, score):
    return ("vid", "%04d" % t, *box, c, score)


# Ground truth of the mixed case: class 1 has 3 boxes (G1, G2 at 902; G3 at 903),
# class 2 has 2 boxes (G1 at 902, G3 at 903), class 3 none; class 4 is not in the label map.
MIXED_GT = [gt_row(902, G1, 1), gt_row(902, G2, 1, 1), gt_row(903, G3, 1), gt_row(902, G1, 2),
            gt_row(903, G3, 2), gt_row(903, G3, 4)]


def test_labelmap_reader_multiline_and_single_line(labelmap):
    assert read_labelmap(labelmap) == {1: "bend/bow (at the waist)", 2: "crawl", 3: "crouch/kneel"}


def test_perfect_detections_score_one(tmp_path, labelmap):
    gt = _csv(tmp_path / "gt.csv", MIXED_GT)
    det = _csv(tmp_path / "det.csv", [det_row(int(r[1]), r[2:6], r[6], 0.9) for r in MIXED_GT])
    with pytest.warns(UserWarning) as record:
        res = evaluate_frame_map(gt, det, labelmap)
    assert res["mAP"] == 1.0
    assert res["per_class"] == {1: 1.0, 2: 1.0, 3: None}
    messages = " ".join(str(w.message) for w in record)
    assert "no ground truth" in messages and "[3]" in messages  # class 3 left out of the mean
    assert "absent from the label map" in messages and "ids [4]" in messages


def test_known_mix_of_true_and_false_positives(tmp_path, labelmap):
    gt = _csv(tmp_path / "gt.csv", MIXED_GT)
    det = _csv(tmp_path / "det.csv", [
        # class 1 (3 gt): ranked TP, FP, FP (duplicate of G1), TP, FP (keyframe without gt)
        det_row(902, G1, 1, 0.9), det_row(902, ELSEWHERE, 1, 0.8), det_row(902, G1, 1, 0.7),
        det_row(903, G3, 1, 0.6), det_row(904, G3, 1, 0.5),
        # class 2 (2 gt): ranked FP, TP, TP
        det_row(903, ELSEWHERE, 2, 0.95), det_row(902, G1, 2, 0.85), det_row(903, G3, 2, 0.3),
        # class 3 has no gt: ignored; class 4 not in the label map: ignored (its box is right)
        det_row(903, G3, 3, 0.99), det_row(903, G3, 4, 0.99),
    ])
    # Class 1: precision 1, 1/2, 1/3, 2/4, 2/5 at recall 1/3, 1/3, 1/3, 2/3, 2/3.
    #   Interpolated (max to the right): 1 up to recall 1/3, 0.5 up to 2/3, 0 up to 1.
    #   AP = 1/3 * 1 + 1/3 * 0.5 + 1/3 * 0 = 0.5
    # Class 2: precision 0, 1/2, 2/3 at recall 0, 1/2, 1 -> interpolated 2/3 everywhere.
    #   AP = 1/2 * 2/3 + 1/2 * 2/3 = 2/3
    # mAP = (0.5 + 2/3) / 2 = 7/12 (class 3 has no ground truth: not in the mean)
    with pytest.warns(UserWarning):
        res = evaluate_frame_map(gt, det, labelmap)
    assert res["per_class"][1] == pytest.approx(0.5, abs=1e-12)
    assert res["per_class"][2] == pytest.approx(2 / 3, abs=1e-12)
    assert res["per_class"][3] is None
    assert res["mAP"] == pytest.approx(7 / 12, abs=1e-12)


def test_best_overlap_already_taken_is_false_positive(tmp_path, labelmap):
    # Official matching: a detection is compared only with its best-overlapping gt box.
    # A = [0, 0, .5, 1], B = [.1, 0, .6, 1], d2 = [.02, 0, .52, 1] (all full height).
    # d1 = A -> TP on A. IoU(d2, A) = .48 / .52 = 0.923, IoU(d2, B) = .42 / .58 = 0.724: its best
    # box is A, already matched -> FP, although B is free and overlaps it by 0.72 >= 0.5.
    # Ranked TP, FP with 2 gt: precision 1, 1/2 at recall 1/2, 1/2 -> AP = 1/2 * 1 = 0.5
    a, b, d2 = (0.0, 0.0, 0.5, 1.0), (0.1, 0.0, 0.6, 1.0), (0.02, 0.0, 0.52, 1.0)
    gt = _csv(tmp_path / "gt.csv", [gt_row(902, a, 1), gt_row(902, b, 1, 1)])
    det = _csv(tmp_path / "det.csv", [det_row(902, a, 1, 0.9), det_row(902, d2, 1, 0.8)])
    res = evaluate_frame_map(gt, det, {1: "bend"})
    assert res["per_class"][1] == pytest.approx(0.5)


@pytest.mark.parametrize("height, expected_ap", [(0.2501, 1.0), (0.25, 1.0), (0.2499, 0.0)])
def test_iou_around_threshold(tmp_path, height, expected_ap):
    # gt [0, 0, .5, .5] (area .25); detection [0, 0, .5, h] inside it: IoU = .5 h / .25 = 2 h
    # -> 0.5002 (TP), exactly 0.5 (TP: the official test is IoU >= 0.5), 0.4998 (FP, AP 0).
    gt = _csv(tmp_path / "gt.csv", [gt_row(902, (0.0, 0.0, 0.5, 0.5), 1)])
    det = _csv(tmp_path / "det.csv", [det_row(902, (0.0, 0.0, 0.5, height), 1, 0.9)])
    assert evaluate_frame_map(gt, det, {1: "bend"})["mAP"] == expected_ap


def test_excluded_timestamps_removed_from_gt_and_detections(tmp_path):
    gt = _csv(tmp_path / "gt.csv", [gt_row(902, G1, 1), gt_row(903, G3, 1)])
    det = _csv(tmp_path / "det.csv", [det_row(904, G1, 1, 0.99), det_row(902, G1, 1, 0.9)])
    # Without exclusions: ranked FP (904 has no gt), TP; 2 gt (903 never detected).
    #   precision 0, 1/2 at recall 0, 1/2 -> AP = 1/2 * 1/2 = 0.25
    assert evaluate_frame_map(gt, det, {1: "bend"})["mAP"] == pytest.approx(0.25)
    # Excluding 903 (its gt) and 904 (the false positive): one gt, one TP -> 1.0
    excl = _csv(tmp_path / "excl.csv", [("vid", "0903"), ("vid", "0904")])
    assert evaluate_frame_map(gt, det, {1: "bend"}, exclusions=excl)["mAP"] == 1.0


def test_top_50_detections_per_keyframe(tmp_path):
    # 50 higher-scored class-2 false positives push the class-1 hit out of the official top 50.
    gt = _csv(tmp_path / "gt.csv", [gt_row(902, G1, 1)])
    det = _csv(tmp_path / "det.csv", [det_row(902, G2, 2, 0.5 + i / 1000) for i in range(50)]
               + [det_row(902, G1, 1, 0.1)])
    labels = {1: "bend", 2: "crawl"}
    with pytest.warns(UserWarning, match="no ground truth"):
        assert evaluate_frame_map(gt, det, labels)["per_class"][1] == 0.0
        assert evaluate_frame_map(gt, read_boxes_csv(det), labels)["per_class"][1] == 0.0  # in-memory table
        assert evaluate_frame_map(gt, det, labels, max_detections_per_frame=0)["per_class"][1] == 1.0


def test_reader_keeps_top_scores_per_keyframe_in_order(tmp_path):
    det = _csv(tmp_path / "det.csv", [det_row(902, G1, 1, 0.2), det_row(902, G2, 1, 0.7), det_row(903, G1, 2, 0.1),
                                      det_row(902, G3, 1, 0.7), det_row(902, G1, 9, 0.9), det_row(902, G1, 2, 0.5)])
    skipped = Counter()
    table = read_boxes_csv(det, class_ids={1, 2}, capacity=2, skipped=skipped)
    # 902 keeps its two best of class 1/2: 0.7 (G2) and 0.7 (G3), tie in file order; class 9 skipped
    assert [(b[:4], b.score) for b in table[("vid", 902)]] == [(G2, 0.7), (G3, 0.7)]
    assert [b.score for b in table[("vid", 903)]] == [0.1] and skipped == {9: 1}


def test_degenerate_detection_ignored_with_warning(tmp_path):
    gt = _csv(tmp_path / "gt.csv", [gt_row(902, G1, 1)])
    det = _csv(tmp_path / "det.csv", [det_row(902, (0.4, 0.1, 0.1, 0.6), 1, 0.95), det_row(902, G1, 1, 0.9)])
    with pytest.warns(UserWarning, match="1 detections with x1 >= x2"):
        assert evaluate_frame_map(gt, det, {1: "bend"})["mAP"] == 1.0


def test_bad_inputs_give_clear_messages(tmp_path, labelmap):
    gt = _csv(tmp_path / "gt.csv", MIXED_GT)
    empty = _csv(tmp_path / "empty.csv", [])
    with pytest.raises(ValueError, match="detection file is empty"):
        evaluate_frame_map(gt, empty, labelmap)
    zero_based = _csv(tmp_path / "zb.csv", [det_row(902, G1, 0, 0.9)])
    with pytest.raises(ValueError, match=r"absent from the label map.*1-based"):
        evaluate_frame_map(gt, zero_based, labelmap)
    short = _csv(tmp_path / "short.csv", [("vid", "0902", 0.1, 0.2, 0.3, 0.4)])
    with pytest.raises(ValueError, match=r"short.csv:1: expected 7 or 8 columns"):
        evaluate_frame_map(gt, short, labelmap)
    header = _csv(tmp_path / "header.csv", [("video_id", "timestamp", "x1", "y1", "x2", "y2", "action_id", "score")])
    with pytest.raises(ValueError, match="no header"):
        evaluate_frame_map(gt, header, labelmap)
    bad_map = tmp_path / "bad.pbtxt"
    bad_map.write_text("name: crawl\n")
    with pytest.raises(ValueError, match="no label map items"):
        evaluate_frame_map(gt, gt, str(bad_map))


def test_writer_round_trip(tmp_path):
    keys = [("vid", 902), ("vid", 903)]
    boxes = [G1, G3]
    scores = [[0.9, 0.2], [0.1, 0.8]]  # columns = action ids 1, 2
    table = detections_from_predictions(keys, boxes, scores)
    path = str(tmp_path / "out" / "det.csv")
    assert write_detections_csv(path, table) == 4
    with open(path) as f:
        assert f.readline().strip() == "vid,0902,0.1000,0.1000,0.4000,0.6000,1,0.9"
    assert read_boxes_csv(path) == table
    gt = _csv(tmp_path / "gt.csv", [gt_row(902, G1, 1), gt_row(903, G3, 2)])
    # each class: its gt box ranked first (TP), the other keyframe's box later (FP) -> AP 1
    assert evaluate_frame_map(gt, path, {1: "bend", 2: "crawl"})["mAP"] == 1.0


def test_cli_prints_one_json_object(tmp_path, labelmap):
    gt = _csv(tmp_path / "gt.csv", [gt_row(902, G1, 1), gt_row(903, G3, 2)])
    det = _csv(tmp_path / "det.csv", [det_row(902, G1, 1, 0.9), det_row(903, ELSEWHERE, 2, 0.8)])
    excl = _csv(tmp_path / "excl.csv", [("vid", "0999")])
    cmd = [sys.executable, os.path.join(REPO, "tools", "ava_eval.py"), "--gt", gt, "--detections", det,
           "--labelmap", labelmap, "--exclusions", excl]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # class 1 AP 1, class 2 AP 0 (its only detection misses), class 3 no gt -> null, mAP 0.5
    assert json.loads(out.stdout) == {"mAP": 0.5, "per_class": {"1": 1.0, "2": 0.0, "3": None}}
    assert "no ground truth" in out.stderr
    empty = _csv(tmp_path / "empty.csv", [])
    out = subprocess.run(cmd[:5] + [empty] + cmd[6:], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == "" and "detection file is empty" in out.stderr
