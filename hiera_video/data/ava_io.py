"""AVA's files: box CSVs (ground truth, detections, exclusions), pbtxt label maps, PySlowFast frame lists,
and the box IoU both the dataset (labelling detector boxes) and the mAP (matching) use.

Boxes are ``x1, y1, x2, y2`` normalised to [0, 1], as in the official CSVs; a keyframe is
``(video_id, whole-second timestamp)``.
"""
import csv
import heapq
import os
import re
from collections import Counter, OrderedDict, namedtuple
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

import numpy as np

AVABox = namedtuple("AVABox", ["x1", "y1", "x2", "y2", "action_id", "score"])
ImageKey = Tuple[str, int]
BoxTable = Dict[ImageKey, List[AVABox]]
ROW_FORM = "video_id,timestamp,x1,y1,x2,y2,action_id[,person_id|score]"


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
            raise ValueError(f"{path}:{lineno}: expected 7 or 8 columns ({ROW_FORM}), got {len(row)}: {row}")
        key = _key(row, path, lineno)
        try:
            x1, y1, x2, y2 = (float(v) for v in row[2:6])
            action_id = int(row[6]) if row[6] else -1
            score = float(row[7]) if len(row) == 8 else 1.0
        except ValueError:
            raise ValueError(f"{path}:{lineno}: expected numbers in {ROW_FORM}, got {row}") from None
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


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``[N, 4]`` and ``[M, 4]`` (``x1, y1, x2, y2``) -> ``[N, M]``."""
    ix = np.maximum(0.0, np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]))
    iy = np.maximum(0.0, np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]))
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


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
                         f"(rows are {ROW_FORM}; the official files have no header)") from None


def read_frame_lists(paths: List[str]) -> Dict[str, List[str]]:
    """``{video_id: frame paths in frame_id order}`` from PySlowFast frame lists."""
    frames: Dict[str, Dict[int, str]] = OrderedDict()
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"AVA frame list not found: {path} (AVA.FRAME_LIST_DIR / AVA.*_LISTS; "
                                    "datasets_prep/ava.py writes it)")
        with open(path) as f:
            for lineno, line in enumerate(f, start=1):
                row = line.split()
                if not row or (lineno == 1 and row[0] == "original_vido_id"):
                    continue
                if len(row) < 4:
                    raise ValueError(f"{path}:{lineno}: expected 'original_vido_id video_id frame_id path labels', "
                                     f"got {line.strip()!r}")
                try:
                    frames.setdefault(row[0], {})[int(row[2])] = row[3]
                except ValueError:
                    raise ValueError(f"{path}:{lineno}: frame_id must be an integer, got {row[2]!r}") from None
    return OrderedDict((v, [d[k] for k in sorted(d)]) for v, d in frames.items())
