"""Clip transforms on torchvision.transforms.v2.

One decision for the whole project: video transforms come from
``torchvision.transforms.v2``, which treats a ``tv_tensors.Video`` [T, C, H, W] as one
sample, so a random crop / flip / resize draws its parameters once and applies them to
every frame of the clip. ``pytorchvideo.transforms`` (0.1.5) is not imported anywhere: it
needs ``torchvision.transforms.functional_tensor``, removed in torchvision 0.17.
``pytorchvideo.data`` imports fine and is used where it helps.

Randomness comes from torch's global generator; the dataset seeds it per item (see
``samplers.seeded``), so results do not depend on the loader's worker count.

Shapes: transforms take uint8 [T, C, H, W] frames (as decoded) and return float
[T, C, H, W], normalised with DATA.MEAN / DATA.STD; ``to_model_layout`` gives the
model's [C, T, H, W].
"""
from typing import List

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F


def _normalize(cfg) -> List:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(cfg.DATA.MEAN), list(cfg.DATA.STD))]


def build_train_transform(cfg) -> v2.Compose:
    """Random short-side jitter + random crop (or random resized crop if AUG.ENABLE), flip, normalise.

    [T, C, H, W] uint8 -> [T, C, S, S] float, S = DATA.TRAIN_CROP_SIZE.
    """
    size = cfg.DATA.TRAIN_CROP_SIZE
    if cfg.AUG.ENABLE:
        ops = [v2.RandomResizedCrop(size, scale=tuple(cfg.DATA.TRAIN_JITTER_SCALES_RELATIVE),
                                    ratio=tuple(cfg.DATA.TRAIN_JITTER_ASPECT_RELATIVE),
                                    interpolation=_interp(cfg.AUG.INTERPOLATION), antialias=True)]
    else:
        lo, hi = cfg.DATA.TRAIN_JITTER_SCALES
        ops = [v2.RandomResize(int(lo), int(hi) + 1, antialias=True), v2.RandomCrop(size)]
    if cfg.DATA.RANDOM_FLIP:
        ops.append(v2.RandomHorizontalFlip())
    return v2.Compose(ops + _normalize(cfg))


def build_eval_transform(cfg) -> v2.Compose:
    """Short side to DATA.TEST_CROP_SIZE, normalise (spatial crop taken after, see ``spatial_crop``)."""
    return v2.Compose([v2.Resize(cfg.DATA.TEST_CROP_SIZE, antialias=True)] + _normalize(cfg))


def spatial_crop(video: torch.Tensor, size: int, index: int, num_crops: int) -> torch.Tensor:
    """Square crop of side ``size`` from [..., H, W].

    ``num_crops`` 1: the centre. 3: ``index`` 0/1/2 = left/centre/right when the frame is
    wider than high, top/centre/bottom otherwise (PySlowFast's uniform crop).
    """
    h, w = video.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"cannot crop {size}x{size} from a {h}x{w} frame")
    top, left = (h - size) // 2, (w - size) // 2
    if num_crops == 3:
        if w > h:
            left = [0, left, w - size][index]
        else:
            top = [0, top, h - size][index]
    elif num_crops != 1:
        raise ValueError(f"TEST.NUM_SPATIAL_CROPS must be 1 or 3, got {num_crops}")
    return video[..., top:top + size, left:left + size]


def as_video(frames: torch.Tensor) -> tv_tensors.Video:
    """Wrap uint8 [T, C, H, W] frames so v2 transforms treat the clip as one sample."""
    return tv_tensors.Video(frames)


def to_model_layout(video: torch.Tensor) -> torch.Tensor:
    """[T, C, H, W] -> contiguous plain tensor [C, T, H, W]."""
    return video.as_subclass(torch.Tensor).permute(1, 0, 2, 3).contiguous()


def _interp(name: str) -> v2.InterpolationMode:
    try:
        return v2.InterpolationMode(name.lower())
    except ValueError:
        raise ValueError(f"AUG.INTERPOLATION must be bilinear, bicubic or nearest, got '{name}'") from None
