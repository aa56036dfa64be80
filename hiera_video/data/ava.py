"""AVA v2.2 keyframe dataset (PySlowFast's layout) and its loader.

Files (AVA.* keys; folders relative to DATA.PATH_TO_DATA_DIR unless absolute)::

    frames/<vid>/<vid>_%06d.jpg          AVA.FRAME_DIR, AVA.FPS (30) frames a second; image 000001
                                         is second AVA.FRAME_START_SEC (900)
    frame_lists/{train,val}.csv          AVA.FRAME_LIST_DIR, AVA.TRAIN_LISTS / AVA.TEST_LISTS:
                                         "original_vido_id video_id frame_id path labels" (space-
                                         separated, header line), path relative to AVA.FRAME_DIR
    annotations/ava_train_v2.2.csv       AVA.TRAIN_GT_BOX_LISTS: video,t,x1,y1,x2,y2,action,person
    annotations/ava_val_predicted_boxes.csv  AVA.TEST_PREDICT_BOX_LISTS: video,t,x1,y1,x2,y2,,score

One item per keyframe (whole second in AVA.KEYFRAME_RANGE, 902-1798 for AVA): the clip of
DATA.NUM_FRAMES frames every DATA.SAMPLING_RATE frames centred on the keyframe (indices
past either end of the video repeat the first / last frame, as PySlowFast), and its
person boxes. Training: ground-truth boxes (rows with the same box merge into one
multi-hot label) plus AVA.TRAIN_PREDICT_BOX_LISTS boxes scoring >= AVA.DETECTION_SCORE_THRESH
(labelled by their own action id, else by the ground-truth boxes they overlap with IoU >= 0.5,
else negatives). val / test: detector boxes >= AVA.DETECTION_SCORE_THRESH, centre crop.

Bad input: boxes outside [0, 1] are clipped and degenerate ones dropped (logged with counts);
keyframes whose frames are missing (video absent from the frame lists, centre frame beyond
the list, or listed files absent on disk) are skipped, counted in ``skipped`` and reported;
an action id outside 1..MODEL.NUM_CLASSES is an error naming the file. A frame file that
exists but cannot be read (corrupt, truncated, not an image) is logged; in training the
keyframe is replaced by another (counted in "decode_failures"), in val/test it is scored with
no boxes and named in the results' ``failed_keyframes``.

Item: "video" float [C, T, S, S], "boxes" float [n, 4] (x1, y1, x2, y2 in clip pixels),
"labels" float [n, K] multi-hot (column = action id - 1), "norm_boxes" float [n, 4] (the
boxes as in the CSV, normalised: what detections are reported with), "video_id", "timestamp",
"index", "decode_failures". ``ava_collate`` batches them into a ``batch.AVABatch``.
"""
import logging
import os
from collections import Counter, OrderedDict
from typing import Dict, List, Tuple

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from hiera_video.registry import DATASETS

from .ava_io import box_iou, read_boxes_csv, read_frame_lists
from .ava_transforms import sanitize_normalized_boxes, transform_clip, valid_boxes
from .batch import AVABatch
from .samplers import EpochShuffleSampler, ShardSampler, item_seed
from .video_loader import VideoLoader, make_video_loader

MAX_REPLACEMENTS = 20

logger = logging.getLogger(__name__)


def ava_path(cfg, folder: str, name: str = "") -> str:
    """``name`` under AVA folder ``folder`` (itself under DATA.PATH_TO_DATA_DIR unless absolute)."""
    folder = folder if os.path.isabs(folder) else os.path.join(cfg.DATA.PATH_TO_DATA_DIR, folder)
    return os.path.join(folder, name) if name and not os.path.isabs(name) else (name or folder)


@DATASETS.register()
class AVADataset(Dataset):
    """Keyframes of AVA (or AVA-format) data; see the module docstring."""

    names = ("ava",)

    def __init__(self, cfg, split: str):
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be train, val or test, got {split!r}")
        self.cfg, self.split, self.train = cfg, split, split == "train"
        self.repeats = 1
        self.num_classes = cfg.MODEL.NUM_CLASSES
        self.seed = cfg.RNG_SEED
        a = cfg.AVA
        lists = a.TRAIN_LISTS if self.train else a.TEST_LISTS
        self.frame_dir = ava_path(cfg, a.FRAME_DIR)
        self.frames = read_frame_lists([ava_path(cfg, a.FRAME_LIST_DIR, n) for n in lists])
        self.skipped: List[Tuple[str, int, str]] = []
        boxes = self._read_boxes()
        self.keyframes = self._check_frames(boxes)
        n_boxes = sum(len(k[2]) for k in self.keyframes)
        logger.info("AVA %s: %d keyframes, %d boxes, %d videos (%d keyframes skipped)", split,
                    len(self.keyframes), n_boxes, len({k[0] for k in self.keyframes}), len(self.skipped))
        if not self.keyframes:
            raise ValueError(f"AVA {split}: no usable keyframe (boxes from {self._box_files()}, frames under "
                             f"{self.frame_dir}, AVA.KEYFRAME_RANGE {list(a.KEYFRAME_RANGE)}); "
                             f"{len(self.skipped)} skipped, e.g. {self.skipped[:3]}")

    # ------------------------------------------------------------------ annotations
    def _box_files(self) -> Tuple[List[str], List[str]]:
        a, ann = self.cfg.AVA, self.cfg.AVA.ANNOTATION_DIR
        gt = [ava_path(self.cfg, ann, n) for n in a.TRAIN_GT_BOX_LISTS] if self.train else []
        pred = [ava_path(self.cfg, ann, n) for n in (a.TRAIN_PREDICT_BOX_LISTS if self.train else a.TEST_PREDICT_BOX_LISTS)]
        return gt, pred

    def _read_boxes(self) -> "OrderedDict[Tuple[str, int], Tuple[np.ndarray, np.ndarray]]":
        """``{(video, t): (normalised boxes [n, 4], multi-hot labels [n, K])}``."""
        lo, hi = self.cfg.AVA.KEYFRAME_RANGE
        thresh = self.cfg.AVA.DETECTION_SCORE_THRESH
        gt_files, pred_files = self._box_files()
        if not gt_files and not pred_files:
            raise ValueError(f"AVA {self.split}: no box files (AVA.TRAIN_GT_BOX_LISTS / *_PREDICT_BOX_LISTS)")
        table: Dict[Tuple[str, int], "OrderedDict[tuple, np.ndarray]"] = OrderedDict()
        for path in gt_files:
            for key, rows in read_boxes_csv(path).items():
                if lo <= key[1] <= hi:
                    merged = table.setdefault(key, OrderedDict())
                    for b in rows:
                        self._check_id(b.action_id, path, key, allow_none=False)
                        merged.setdefault(tuple(b[:4]), np.zeros(self.num_classes, np.float32))[b.action_id - 1] = 1
        for path in pred_files:
            for key, rows in read_boxes_csv(path).items():
                if not lo <= key[1] <= hi:
                    continue
                gt = table.get(key, {}) if self.train else {}
                gt_boxes = np.array(list(gt.keys()), np.float32).reshape(-1, 4)
                gt_labels = list(gt.values())
                merged = table.setdefault(key, OrderedDict())
                for b in rows:
                    if b.score < thresh:
                        continue
                    label = merged.setdefault(tuple(b[:4]), np.zeros(self.num_classes, np.float32))
                    if not self.train:
                        continue
                    if self._check_id(b.action_id, path, key, allow_none=True):
                        label[b.action_id - 1] = 1
                    elif len(gt_boxes):
                        iou = box_iou(np.array([b[:4]], np.float32), gt_boxes)[0]
                        for j in np.nonzero(iou >= 0.5)[0]:
                            np.maximum(label, gt_labels[j], out=label)
        out = OrderedDict()
        clipped, dropped, example = 0, 0, None
        for key, merged in table.items():
            boxes, keep, n_clipped = sanitize_normalized_boxes(np.array(list(merged.keys()), np.float32), log=False)
            clipped, dropped = clipped + n_clipped, dropped + int((~keep).sum())
            if example is None and (n_clipped or not keep.all()):
                example = f"{key[0]},{key[1]:04d}"
            labels = np.stack(list(merged.values()))[keep]
            if self.train and self.cfg.MODEL.LOSS_FUNC == "cross_entropy":
                keep_pos = labels.sum(axis=1) > 0  # softmax needs a positive label
                boxes, labels = boxes[keep][keep_pos], labels[keep_pos]
            else:
                boxes = boxes[keep]
            if len(boxes):
                out[key] = (boxes, labels)
        if clipped or dropped:
            logger.warning("AVA %s: %d box(es) outside [0, 1] were clipped to the frame, %d degenerate box(es) "
                           "(x2 <= x1 or y2 <= y1 after clipping) were dropped (first at keyframe %s; files %s)",
                           self.split, clipped, dropped, example, gt_files + pred_files)
        return out

    def _check_id(self, action_id: int, path: str, key, allow_none: bool) -> bool:
        if action_id == -1 and allow_none:
            return False
        if not 1 <= action_id <= self.num_classes:
            raise ValueError(f"{path}: keyframe {key[0]},{key[1]:04d} has action id {action_id}, outside "
                             f"1..MODEL.NUM_CLASSES={self.num_classes} (AVA ids are 1-based; 80 classes)")
        return True

    # ------------------------------------------------------------------ frames
    def clip_indices(self, timestamp: int, num_listed: int) -> List[int]:
        """Frame-list positions of the clip centred on ``timestamp`` (clamped to the list)."""
        fps, rate, n = self.cfg.AVA.FPS, self.cfg.DATA.SAMPLING_RATE, self.cfg.DATA.NUM_FRAMES
        centre = int(round((timestamp - self.cfg.AVA.FRAME_START_SEC) * fps))
        start = centre - n * rate // 2
        return [min(max(start + i * rate, 0), num_listed - 1) for i in range(n)]

    def _check_frames(self, boxes) -> List[Tuple[str, int, np.ndarray, np.ndarray, List[str]]]:
        listing: Dict[str, set] = {}
        reasons: Counter = Counter()
        keyframes = []
        for (vid, t), (b, lab) in boxes.items():
            listed = self.frames.get(vid)
            reason = None
            if not listed:
                reason = "video not in the frame lists"
            else:
                centre = int(round((t - self.cfg.AVA.FRAME_START_SEC) * self.cfg.AVA.FPS))
                if not 0 <= centre < len(listed):
                    reason = f"keyframe frame {centre} beyond the {len(listed)} listed frames"
            if reason is None:
                paths = [listed[i] for i in self.clip_indices(t, len(listed))]
                for p in paths:
                    d = os.path.dirname(p)
                    if d not in listing:
                        full = os.path.join(self.frame_dir, d)
                        listing[d] = set(os.listdir(full)) if os.path.isdir(full) else set()
                    if os.path.basename(p) not in listing[d]:
                        reason = f"frame file missing: {os.path.join(self.frame_dir, p)}"
                        break
            if reason is not None:
                self.skipped.append((vid, t, reason))
                reasons[reason.split(":")[0] if reason.startswith("frame file") else reason.split(" ")[0]] += 1
                continue
            keyframes.append((vid, t, b, lab, paths))
        if self.skipped:
            logger.warning("AVA %s: skipped %d of %d keyframes with missing frames (%s); first: %s", self.split,
                           len(self.skipped), len(boxes), dict(reasons), self.skipped[0])
        return keyframes

    # ------------------------------------------------------------------ items
    @property
    def num_keyframes(self) -> int:
        """Keyframes: the dataset's unit (one item, one clip)."""
        return len(self.keyframes)

    def __len__(self) -> int:
        return len(self.keyframes)

    @staticmethod
    def collate(items: List[Dict]) -> AVABatch:
        return ava_collate(items)

    @classmethod
    def build_loader(cls, cfg, split: str, world: int, rank: int) -> VideoLoader:
        """Samplers and batch sizes as ``ClipDataset.build_loader`` (train: TRAIN.BATCH_SIZE clips over
        all processes, shuffled per epoch, drop_last; val/test: TEST.BATCH_SIZE per process, each
        keyframe once), ``ava_collate`` batches."""
        dataset = cls(cfg, split)
        if split != "train":
            return make_video_loader(cfg, dataset, split, cfg.TEST.BATCH_SIZE, ShardSampler(len(dataset), world, rank),
                                     ava_collate)
        batch = cfg.TRAIN.BATCH_SIZE // world
        if batch < 1 or len(dataset) < batch * world:
            raise ValueError(f"TRAIN.BATCH_SIZE={cfg.TRAIN.BATCH_SIZE} (global) needs at least one clip per process "
                             f"({world}) and at most the {len(dataset)} training keyframes")
        return make_video_loader(cfg, dataset, split, batch, EpochShuffleSampler(dataset, world, rank, cfg.RNG_SEED),
                                 ava_collate)

    def load_frames(self, paths: List[str]) -> np.ndarray:
        """uint8 ``[T, H, W, 3]``."""
        out = []
        for p in paths:
            full = os.path.join(self.frame_dir, p)
            try:
                with Image.open(full) as im:
                    out.append(np.asarray(im.convert("RGB")))
            except OSError as e:
                raise OSError(f"cannot read AVA frame {full}: {e}") from e
        return np.stack(out)

    def __getitem__(self, key) -> Dict:
        index, epoch = key if isinstance(key, (tuple, list)) else (key, 0)
        failures, item = 0, index
        while True:
            try:
                return self._item(index, epoch, failures)
            except OSError as e:  # a frame file that cannot be read or decoded
                failures += 1
                if not self.train:
                    logger.warning("AVA %s: %s; keyframe left out of the metric", self.split, e)
                    return self._failed_item(index, str(e))
                logger.warning("AVA train: %s; replacing the keyframe", e)
                if failures > MAX_REPLACEMENTS:
                    raise RuntimeError(f"{failures} AVA keyframes in a row could not be read; last: {e}") from e
                index = int(np.random.default_rng(item_seed(self.seed, epoch, item, failures, 1)).integers(len(self)))

    def _item(self, index: int, epoch: int, failures: int) -> Dict:
        vid, t, norm_boxes, labels, paths = self.keyframes[index]
        rng = np.random.default_rng(item_seed(self.seed, epoch, index))
        video, boxes = transform_clip(self.load_frames(paths), norm_boxes, self.cfg, self.train, rng)
        if self.train:  # boxes cropped away carry no features to learn from
            keep = valid_boxes(boxes)
            boxes, labels, norm_boxes = boxes[keep], labels[keep], norm_boxes[keep]
        return {"video": video, "boxes": torch.from_numpy(boxes), "labels": torch.from_numpy(labels),
                "norm_boxes": torch.from_numpy(norm_boxes), "video_id": vid, "timestamp": t,
                "index": index, "decode_failures": failures, "error": ""}

    def _failed_item(self, index: int, reason: str) -> Dict:
        """A val/test keyframe whose frames cannot be read: no boxes, so nothing is scored for it."""
        vid, t = self.keyframes[index][:2]
        size = self.cfg.DATA.TEST_CROP_SIZE
        return {"video": torch.zeros(3, self.cfg.DATA.NUM_FRAMES, size, size), "boxes": torch.zeros(0, 4),
                "labels": torch.zeros(0, self.num_classes), "norm_boxes": torch.zeros(0, 4), "video_id": vid,
                "timestamp": t, "index": index, "decode_failures": 1, "error": f"{vid},{t:04d}: {reason}"}


def ava_collate(items: List[Dict]) -> AVABatch:
    """Items -> ``batch.AVABatch``: the B keyframe clips and their N boxes."""
    boxes = [torch.cat([torch.full((len(it["boxes"]), 1), float(i)), it["boxes"]], dim=1) for i, it in enumerate(items)]
    return {
        "video": torch.stack([it["video"] for it in items]),
        "boxes": torch.cat(boxes), "labels": torch.cat([it["labels"] for it in items]),
        "norm_boxes": torch.cat([it["norm_boxes"] for it in items]),
        "metadata": [(it["video_id"], it["timestamp"]) for it in items for _ in range(len(it["boxes"]))],
        "index": torch.tensor([it["index"] for it in items]),
        "decode_failures": torch.tensor([it["decode_failures"] for it in items]),
        "errors": [it["error"] for it in items if it.get("error")],
    }
