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
import csv
import heapq
import os
import re
import warnings
from collections import Counter, OrderedDict, namedtuple
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

import numpy as np

__all__ = ["AVABox", "make_image_key", "read_labelmap", "read_exclusions", "read_boxes_csv",
           "write_detections_csv", "detections_from_predictions", "average_precision",
           "box_iou", "evaluate_frame_map"]

AVABox = namedtuple("AVABox", ["x1", "y1", "x2", "y2", "action_id", "score"])
ImageKey = Tuple[str, int]
BoxTable = Dict[ImageKey, List[AVABox]]
_ROW_FORM = "video_id,timestamp,x1,y1,x2,y2,action_id[,person_id|score]"


def make_image_key(video_id: str, timestamp) -> ImageKey:
    """``(video_id, whole-second timestamp)``, the official ``"%s,%04d"`` key as a tuple."""
    return str(video_id), int(float(timestamp))


def read_labelmap(path: str) -> Dict[int, str]:
    """``{class id: name}`` from a pbtxt label map (``item { name: "..." id: N }``;
    ``label_id`` is accepted like ``id``, one-line or multi-line items)."""
    text = _read_text(path, "label map")
    items = re.findall(r"item\s*\{(.*?)\}", text, flags=re.S)
    labels = OrderedDict()
    for body in items:
        cid = re.search(r"\b(?:label_)?id\s*:\s*(-?\d+)", body)
        name = re.search(r"\bname\s*:\s*\"([^\"]*)\"", body)
        if cid is None:
            raise ValueError(f"{path}: label map item without an integer id: item {{{body.strip()}}}")
        cid = int(cid.group(1))
        if cid in labels:
            raise ValueError(f"{path}: class id {cid} appears twice in the label map")
        labels[cid] = name.group(1) if name else str(cid)
    if not labels:
        raise ValueError(f"{path}: no label map items found; expected pbtxt items like "
                         f"'item {{ name: \"bend/bow (at the waist)\" id: 1 }}'")
    return dict(labels)


def read_exclusions(path: str) -> Set[ImageKey]:
    """Excluded keyframes from a CSV of ``video_id,timestamp`` rows."""
    excluded = set()
    for lineno, row in _csv_rows(path, "exclusions"):
        if len(row) != 2:
            raise ValueError(f"{path}:{lineno}: expected 2 columns (video_id,timestamp), got {len(row)}: {row}")
        excluded.add(_key(row, path, lineno))
    return excluded


def read_boxes_csv(path: str, class_ids: Optional[Set[int]] = None, capacity: int = 0,
                   skipped: Optional[Counter] = None) -> BoxTable:
    """Ground truth or detections in the official CSV format -> ``{(video_id, t): [AVABox]}``.

    Rows: ``video_id,timestamp,x1,y1,x2,y2,action_id`` with an optional 8th column, the
    score of a detection (a ground-truth file's person id lands there too and is unused).
    Without it the score is 1.0, as in the official reader. An empty action id (person
    boxes only, as in ``ava_*_predicted_boxes.csv``) reads as -1. Keys keep file order.

    As the official reader does for detections, rows whose action id is not in
    ``class_ids`` are skipped (counted per id into ``skipped``) and with ``capacity`` > 0
    only that many highest-scoring rows per keyframe are kept (sorted by descending
    score, ties in file order), so memory stays bounded for 80-class outputs.
    """
    table: BoxTable = OrderedDict()
    heaps: Dict[ImageKey, list] = {}
    for lineno, row in _csv_rows(path, "box"):
        if len(row) not in (7, 8):
            raise ValueError(f"{path}:{lineno}: expected 7 or 8 columns ({_ROW_FORM}), got {len(row)}: {row}")
        key = _key(row, path, lineno)
        try:
            x1, y1, x2, y2 = (float(v) for v in row[2:6])
            action_id = int(row[6]) if row[6] else -1
            score = float(row[7]) if len(row) == 8 else 1.0
        except ValueError:
            raise ValueError(f"{path}:{lineno}: expected numbers in {_ROW_FORM}, got {row}") from None
        if class_ids is not None and action_id not in class_ids:
            if skipped is not None:
                skipped[action_id] += 1
            continue
        box = AVABox(x1, y1, x2, y2, action_id, score)
        if capacity > 0:  # min-heap of (score, -line): the lowest score, then the latest row, goes first
            heap = heaps.setdefault(key, [])
            (heapq.heappush if len(heap) < capacity else heapq.heappushpop)(heap, (score, -lineno, box))
            table.setdefault(key, [])
        else:
            table.setdefault(key, []).append(box)
    for key, heap in heaps.items():
        table[key] = [b for _, _, b in sorted(heap, key=lambda e: (-e[0], -e[1]))]
    return table


def write_detections_csv(path: str, detections: Mapping[ImageKey, Sequence[AVABox]]) -> int:
    """Writes ``video_id,timestamp,x1,y1,x2,y2,action_id,score`` rows (the official
    submission format, timestamps as ``%04d``); returns the number of rows."""
    n = 0
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        for (video_id, t), boxes in detections.items():
            for b in boxes:
                writer.writerow([video_id, "%04d" % t] + ["%.4f" % v for v in b[:4]]
                                + [int(b.action_id), "%.6g" % b.score])
                n += 1
    return n


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


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``[N, 4]`` and ``[M, 4]`` (``x1, y1, x2, y2``) -> ``[N, M]``."""
    ix = np.maximum(0.0, np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]))
    iy = np.maximum(0.0, np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]))
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


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
        raise ValueError(f"{gt_name}: no ground-truth rows; expected CSV rows {_ROW_FORM}")
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


def _read_text(path: str, what: str) -> str:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} file not found: {path}")
    with open(path) as f:
        return f.read()


def _csv_rows(path: str, what: str):
    """``(line number, stripped cells)`` of the non-blank rows of a CSV file."""
    text = _read_text(path, what)
    for lineno, row in enumerate(csv.reader(text.splitlines()), start=1):
        if row and any(cell.strip() for cell in row):
            yield lineno, [cell.strip() for cell in row]


def _key(row: List[str], path: str, lineno: int) -> ImageKey:
    try:
        return make_image_key(row[0], row[1])
    except ValueError:
        raise ValueError(f"{path}:{lineno}: timestamp must be a number of seconds, got {row[1]!r} "
                         f"(rows are {_ROW_FORM}; the official files have no header)") from None
