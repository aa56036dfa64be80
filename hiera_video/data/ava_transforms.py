"""Clip + box transforms for AVA: boxes follow every resize, crop and flip of the frames.

Frames are ``uint8 [T, H, W, 3]`` (as read from JPEGs); boxes are ``float [N, 4]``
``x1, y1, x2, y2`` in pixels of the current frames. Training: short side scaled to a
random size in DATA.TRAIN_JITTER_SCALES, a random square crop of DATA.TRAIN_CROP_SIZE,
a horizontal flip with probability 0.5 (DATA.RANDOM_FLIP). Test / val: short side to
DATA.TEST_CROP_SIZE and the centre square crop (the paper's centre-crop evaluation).
The output clip is ``float [C, T, S, S]`` normalised by DATA.MEAN / DATA.STD.
"""
import logging
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)


def sanitize_normalized_boxes(boxes: np.ndarray, where: str = "", log: bool = True
                              ) -> Tuple[np.ndarray, np.ndarray, int]:
    """Clip normalised boxes ``[N, 4]`` to [0, 1]; returns (clipped boxes, keep mask [N],
    number of boxes that needed clipping).

    Boxes degenerate after clipping (``x2 <= x1`` or ``y2 <= y1``) get ``keep`` False. With
    ``log`` both counts go to a warning (the dataset sums them and warns once instead).
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    clipped = boxes.clip(0.0, 1.0)
    outside = int((np.abs(clipped - boxes) > 1e-6).any(axis=1).sum())
    keep = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    prefix = f"{where}: " if where else ""
    if log and outside:
        logger.warning("%s%d box(es) outside [0, 1] were clipped to the frame", prefix, outside)
    if log and (~keep).any():
        logger.warning("%s%d degenerate box(es) (x2 <= x1 or y2 <= y1 after clipping) were dropped",
                       prefix, int((~keep).sum()))
    return clipped, keep, outside


def scale_boxes(boxes: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Boxes ``[N, 4]`` of an image resized by ``(sx, sy)`` (new size / old size)."""
    return boxes * np.array([sx, sy, sx, sy], dtype=np.float32)


def crop_boxes(boxes: np.ndarray, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    """Boxes ``[N, 4]`` in the crop ``[y0:y0+height, x0:x0+width]``, clipped to it (a box
    outside the crop becomes degenerate; see ``valid_boxes``)."""
    out = boxes - np.array([x0, y0, x0, y0], dtype=np.float32)
    out[:, 0::2] = out[:, 0::2].clip(0, width)
    out[:, 1::2] = out[:, 1::2].clip(0, height)
    return out


def flip_boxes(boxes: np.ndarray, width: int) -> np.ndarray:
    """Boxes ``[N, 4]`` of the horizontally mirrored image of ``width`` pixels."""
    out = boxes.copy()
    out[:, 0], out[:, 2] = width - boxes[:, 2], width - boxes[:, 0]
    return out


def valid_boxes(boxes: np.ndarray, min_size: float = 1.0) -> np.ndarray:
    """Mask ``[N]`` of boxes at least ``min_size`` px wide and high."""
    return ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)


def resize_short_side(frames: torch.Tensor, size: int) -> Tuple[torch.Tensor, float, float]:
    """``float [T, C, H, W]`` -> short side ``size`` (bilinear); returns (frames, sx, sy)."""
    h, w = frames.shape[-2:]
    nh, nw = (size, max(size, round(w * size / h))) if h <= w else (max(size, round(h * size / w)), size)
    if (nh, nw) != (h, w):
        frames = F.interpolate(frames, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
    return frames, nw / w, nh / h


def transform_clip(frames: np.ndarray, boxes_norm: np.ndarray, cfg, train: bool,
                   rng: np.random.Generator) -> Tuple[torch.Tensor, np.ndarray]:
    """``uint8 [T, H, W, 3]`` frames and normalised boxes ``[N, 4]`` -> (clip ``float [3, T, S, S]``,
    boxes ``[N, 4]`` in pixels of the clip). Boxes are not dropped here (see ``valid_boxes``)."""
    h, w = frames.shape[1:3]
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0  # [T, C, H, W]
    boxes = scale_boxes(np.asarray(boxes_norm, dtype=np.float32).reshape(-1, 4), w, h)
    if train:
        lo, hi = cfg.DATA.TRAIN_JITTER_SCALES
        crop = cfg.DATA.TRAIN_CROP_SIZE
        video, sx, sy = resize_short_side(video, int(rng.integers(lo, hi + 1)))
        boxes = scale_boxes(boxes, sx, sy)
        H, W = video.shape[-2:]
        y0, x0 = int(rng.integers(0, H - crop + 1)), int(rng.integers(0, W - crop + 1))
        flip = bool(cfg.DATA.RANDOM_FLIP and rng.random() < 0.5)
    else:
        crop = cfg.DATA.TEST_CROP_SIZE
        video, sx, sy = resize_short_side(video, crop)
        boxes = scale_boxes(boxes, sx, sy)
        H, W = video.shape[-2:]
        y0, x0, flip = (H - crop) // 2, (W - crop) // 2, False
    video = video[..., y0:y0 + crop, x0:x0 + crop]
    boxes = crop_boxes(boxes, x0, y0, crop, crop)
    if flip:
        video = video.flip(-1)
        boxes = flip_boxes(boxes, crop)
    mean = torch.tensor(cfg.DATA.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(cfg.DATA.STD).view(1, 3, 1, 1)
    video = ((video - mean) / std).permute(1, 0, 2, 3).contiguous()  # [C, T, S, S]
    return video, boxes
