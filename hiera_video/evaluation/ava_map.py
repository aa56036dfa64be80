"""AVA frame-level mAP, following the official ActivityNet AVA evaluation.

The protocol of ``get_ava_performance.py`` (ActivityNet/Evaluation, with the TF object
detection ``PascalDetectionEvaluator`` underneath), reimplemented in numpy:

* Rows whose action id is not in the label map are ignored (the label map of the
  ActivityNet 2019 challenge keeps 60 of AVA's 80 classes). Detections with such ids are
  reported in a warning; ground truth with them is the norm (the files hold all 80).
* Keyframes listed in the exclusions file are removed from ground truth and detections.
* Per keyframe only the ``max_detections_per_frame`` (50) highest-scoring detections are
  kept (official ``capacity``), then boxes with ``x1 >= x2`` or ``y1 >= y2`` are dropped.
* Per keyframe and class, detections are taken in descending score; each is compared with
  the ground-truth box of the same class it overlaps most (IoU, areas without the "+1").
  It is a true positive when that IoU is ``>= iou_threshold`` (the official code uses
  ``>=``) and that box is not yet matched; otherwise a false positive -- also when the
  best box is taken and another unmatched box would overlap enough (official behaviour).
  Detections on keyframes without ground truth are false positives.
* Per class, AP is the PASCAL VOC all-point interpolated area under the precision/recall
  curve; a class with ground truth and no detections has AP 0. A class without ground
  truth has no AP (``None`` in ``per_class``) and is left out of the mean, with a warning.

Score ties are ordered by file order (the official order for exact ties follows numpy's
unstable sort, so results with tied scores may differ from it in the last digits).
Boxes are ``x1, y1, x2, y2`` normalised to [0, 1], as in the official CSVs.
"""
import warnings
from collections import Counter, OrderedDict
from typing import Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

import numpy as np

from hiera_video.data.ava_io import (ROW_FORM, AVABox, BoxTable, ImageKey, box_iou, make_image_key, read_boxes_csv,
                                     read_exclusions, read_labelmap, write_detections_csv)

__all__ = ["AVABox", "make_image_key", "read_labelmap", "read_exclusions", "read_boxes_csv",
           "write_detections_csv", "detections_from_predictions", "average_precision",
           "box_iou", "evaluate_frame_map"]


def detections_from_predictions(keys: Sequence[Tuple[str, int]], boxes, scores,
                                class_ids: Optional[Sequence[int]] = None) -> BoxTable:
    """One detection per (box, class) from model outputs.

    keys: N ``(video_id, timestamp)``; boxes: ``[N, 4]`` normalised ``x1, y1, x2, y2``;
    scores: ``[N, K]`` class probabilities; class_ids: the K action ids of the score
    columns (default ``1..K``, AVA's 1-based ids).
    """
    boxes, scores = np.asarray(boxes, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.ndim != 2 or not len(keys) == len(boxes) == len(scores):
        raise ValueError(f"expected N keys, boxes [N, 4] and scores [N, K]; got {len(keys)} keys, "
                         f"boxes {tuple(boxes.shape)}, scores {tuple(scores.shape)}")
    class_ids = list(range(1, scores.shape[1] + 1)) if class_ids is None else [int(c) for c in class_ids]
    if len(class_ids) != scores.shape[1]:
        raise ValueError(f"{len(class_ids)} class ids for {scores.shape[1]} score columns")
    table: BoxTable = OrderedDict()
    for key, box, row in zip(keys, boxes, scores):
        out = table.setdefault(make_image_key(*key), [])
        out.extend(AVABox(*box.tolist(), c, float(s)) for c, s in zip(class_ids, row))
    return table


def average_precision(scores: np.ndarray, is_tp: np.ndarray, num_gt: int) -> float:
    """All-point interpolated AP of one class (PASCAL VOC >= 2010, as the official code).

    scores, is_tp: ``[D]`` over all of the class's detections; num_gt: its ground-truth
    boxes (> 0). Detections are ranked by descending score, ties in the given order.
    """
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    tp = np.asarray(is_tp, dtype=np.float64)[order]
    ctp, cfp = np.cumsum(tp), np.cumsum(1.0 - tp)
    recall = np.concatenate([[0.0], ctp / num_gt, [1.0]])
    precision = np.concatenate([[0.0], ctp / (ctp + cfp), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.where(recall[1:] != recall[:-1])[0] + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def evaluate_frame_map(gt: Union[str, BoxTable], detections: Union[str, BoxTable],
                       labelmap: Union[str, Mapping[int, str], Iterable[int]],
                       exclusions: Union[None, str, Iterable[ImageKey]] = None,
                       iou_threshold: float = 0.5, max_detections_per_frame: int = 50) -> dict:
    """Frame-mAP of AVA detections (see the module docstring for the protocol).

    Each input is a path or what the matching reader returns. Returns
    ``{"mAP": mean AP over classes with ground truth, a fraction in [0, 1],
    "per_class": {class id: AP or None (no ground truth)}}`` over the label map's classes.
    """
    gt_name = gt if isinstance(gt, str) else "ground truth"
    det_name = detections if isinstance(detections, str) else "detections"
    labels = read_labelmap(labelmap) if isinstance(labelmap, str) else labelmap
    classes = sorted(int(c) for c in labels)
    wanted = set(classes)
    gt = read_boxes_csv(gt) if isinstance(gt, str) else gt
    skipped = Counter()
    if isinstance(detections, str):
        detections = read_boxes_csv(detections, wanted, max_detections_per_frame, skipped)
    else:
        skipped.update(b.action_id for boxes in detections.values() for b in boxes if b.action_id not in wanted)
    excluded = set()
    if exclusions is not None:
        excluded = read_exclusions(exclusions) if isinstance(exclusions, str) else {make_image_key(*k) for k in exclusions}
    if not any(len(v) for v in gt.values()):
        raise ValueError(f"{gt_name}: no ground-truth rows; expected CSV rows {ROW_FORM}")
    total = sum(len(v) for v in detections.values()) + sum(skipped.values())
    if total == 0:
        raise ValueError(f"{det_name}: the detection file is empty; expected CSV rows "
                         "video_id,timestamp,x1,y1,x2,y2,action_id,score")
    _warn_unknown_classes(skipped, total, wanted, det_name)

    gt_by_key = {}  # key -> {class: [M, 4] boxes}
    num_gt = Counter()
    for key, boxes in gt.items():
        if make_image_key(*key) in excluded:
            continue
        for b in boxes:
            if b.action_id in wanted:
                gt_by_key.setdefault(make_image_key(*key), {}).setdefault(b.action_id, []).append(b[:4])
                num_gt[b.action_id] += 1

    scores = {c: [] for c in classes}
    is_tp = {c: [] for c in classes}
    n_invalid = 0
    for key, boxes in detections.items():
        key = make_image_key(*key)
        if key in excluded:
            continue
        kept = sorted((b for b in boxes if b.action_id in wanted), key=lambda b: -b.score)
        if max_detections_per_frame > 0:
            kept = kept[:max_detections_per_frame]
        valid = [b for b in kept if b.x1 < b.x2 and b.y1 < b.y2]
        n_invalid += len(kept) - len(valid)
        gts = gt_by_key.get(key, {})
        for c in {b.action_id for b in valid}:
            dets = [b for b in valid if b.action_id == c]
            scores[c].extend(b.score for b in dets)
            is_tp[c].extend(_match(np.array([b[:4] for b in dets]), gts.get(c), iou_threshold))
    if n_invalid:
        warnings.warn(f"{det_name}: {n_invalid} detections with x1 >= x2 or y1 >= y2 were ignored")

    missing = [c for c in classes if num_gt[c] == 0]
    if len(missing) == len(classes):
        raise ValueError(f"{gt_name}: no ground truth for any label-map class after exclusions "
                         f"(label map ids {classes[:5]}...)")
    if missing:
        warnings.warn(f"{len(missing)} label-map classes have no ground truth and are left out of the mean, "
                      f"as in the official evaluation: {missing}")
    per_class = {c: (None if num_gt[c] == 0 else average_precision(scores[c], is_tp[c], num_gt[c]))
                 for c in classes}
    aps = [ap for ap in per_class.values() if ap is not None]
    return {"mAP": float(np.mean(aps)), "per_class": per_class}


def _match(dets: np.ndarray, gts: Optional[List], iou_threshold: float) -> List[bool]:
    """Greedy official matching of score-ordered detections ``[D, 4]`` of one class and
    keyframe against that class's ground truth ``[M, 4]``: True/False per detection."""
    if not gts:
        return [False] * len(dets)
    iou = box_iou(dets, np.array(gts, dtype=np.float64))
    best = iou.argmax(axis=1)
    taken = np.zeros(iou.shape[1], dtype=bool)
    out = []
    for i, j in enumerate(best):
        hit = bool(iou[i, j] >= iou_threshold and not taken[j])
        taken[j] |= hit
        out.append(hit)
    return out


def _warn_unknown_classes(unknown: Counter, total: int, wanted: Set[int], name: str):
    if not unknown:
        return
    ids = sorted(unknown)
    msg = (f"{name}: {sum(unknown.values())} of {total} detections have action ids absent from the label map "
           f"and are ignored, as in the official evaluation: ids {ids[:20]}{' ...' if len(ids) > 20 else ''}")
    if 0 in unknown:
        msg += " (AVA action ids are 1-based; id 0 suggests 0-based class indices)"
    if -1 in unknown:
        msg += " (-1: rows without an action id, i.e. person boxes rather than action detections)"
    if sum(unknown.values()) == total:
        raise ValueError(msg.replace("and are ignored, as in the official evaluation", "- all of them") +
                         f"; label map ids: {sorted(wanted)}")
    warnings.warn(msg)
