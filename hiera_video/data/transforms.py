"""Clip transforms on torchvision.transforms.v2.

One decision for the whole project: video transforms come from
``torchvision.transforms.v2``, which treats a ``tv_tensors.Video`` [T, C, H, W] as one
sample, so a random crop / flip / resize draws its parameters once and applies them to
every frame of the clip. ``pytorchvideo.transforms`` (0.1.5) is not imported anywhere: it
needs ``torchvision.transforms.functional_tensor``, removed in torchvision 0.17.
``pytorchvideo.data`` imports fine: the paths of class folders, UCF101 and HMDB51 come from
it (``folders.py``, ``official_splits.py``) and its datasets can feed the trainer
(``pytorchvideo_interop.py``), but items stay map-style: its ``LabeledVideoDataset`` is
iterable (no DistributedSampler, no exact resume) and its clip samplers draw from the global
RNG; see ``kinetics.py`` and ``video_decoding.py``.

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


def _normalize(cfg) -> List:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(cfg.DATA.MEAN), list(cfg.DATA.STD))]


def build_train_transform(cfg, flip=None) -> v2.Compose:
    """The training augmentation; [T, C, H, W] uint8 -> [T, C, S, S] float, S = DATA.TRAIN_CROP_SIZE.

    Crop: random resized crop (scale DATA.TRAIN_JITTER_SCALES_RELATIVE, aspect
    DATA.TRAIN_JITTER_ASPECT_RELATIVE) when AUG.ENABLE or DATA.TRAIN_CROP_MODE is
    "random_resized"; otherwise PySlowFast's short-side jitter in DATA.TRAIN_JITTER_SCALES
    then a random crop. Then a horizontal flip (DATA.RANDOM_FLIP, or ``flip``), and with
    AUG.ENABLE: RandAugment AUG.AA_TYPE (timm, same ops on every frame), normalisation,
    random erasing AUG.RE_PROB (same box and fill on every frame).

    Presets: finetuning (tables 11b/12b): AUG.ENABLE True, AA_TYPE rand-m7-n4-mstd0.5-inc1,
    RE_PROB 0.25. MAE pretraining: AUG.ENABLE False, DATA.TRAIN_CROP_MODE random_resized,
    DATA.TRAIN_JITTER_SCALES_RELATIVE [0.5, 1.0], flip only.
    """
    size = cfg.DATA.TRAIN_CROP_SIZE
    mode = cfg.DATA.TRAIN_CROP_MODE
    if mode not in ("jitter", "random_resized"):
        raise ValueError(f"DATA.TRAIN_CROP_MODE must be 'jitter' or 'random_resized', got '{mode}'")
    if cfg.AUG.ENABLE or mode == "random_resized":
        ops = [v2.RandomResizedCrop(size, scale=tuple(cfg.DATA.TRAIN_JITTER_SCALES_RELATIVE),
                                    ratio=tuple(cfg.DATA.TRAIN_JITTER_ASPECT_RELATIVE),
                                    interpolation=_interp(cfg.AUG.INTERPOLATION), antialias=True)]
    else:
        lo, hi = cfg.DATA.TRAIN_JITTER_SCALES
        ops = [v2.RandomResize(int(lo), int(hi) + 1, antialias=True), v2.RandomCrop(size)]
    if cfg.DATA.RANDOM_FLIP if flip is None else flip:
        ops.append(v2.RandomHorizontalFlip())
    if cfg.AUG.ENABLE and cfg.AUG.AA_TYPE:
        ops.append(ClipRandAugment(cfg.AUG.AA_TYPE, size, cfg.DATA.MEAN, cfg.AUG.INTERPOLATION))
    ops += _normalize(cfg)
    if cfg.AUG.ENABLE and cfg.AUG.RE_PROB > 0:
        ops.append(ClipRandomErasing(cfg.AUG.RE_PROB, cfg.AUG.RE_MODE, cfg.AUG.RE_COUNT))
    return v2.Compose(ops)


class ClipRandAugment:
    """timm's RandAugment (e.g. "rand-m7-n4-mstd0.5-inc1"), the same ops and magnitudes on every frame.

    timm draws its choices from Python's and NumPy's global generators; both are rewound
    to the same state before each frame. uint8 [T, C, H, W] -> uint8 [T, C, H, W].
    """

    def __init__(self, config_str: str, crop_size: int, mean, interpolation: str = "bicubic"):
        from timm.data.auto_augment import rand_augment_transform
        from timm.data.transforms import str_to_pil_interp

        hparams = dict(translate_const=int(crop_size * 0.45), img_mean=tuple(round(255 * m) for m in mean),
                       interpolation=str_to_pil_interp(interpolation))
        try:
            self.op = rand_augment_transform(config_str, hparams)
        except Exception as e:
            raise ValueError(f"AUG.AA_TYPE '{config_str}' is not a timm RandAugment string "
                             f"like 'rand-m7-n4-mstd0.5-inc1': {e}") from None

    def __call__(self, video: torch.Tensor) -> torch.Tensor:
        import random

        import numpy as np
        from PIL import Image

        py_state, np_state = random.getstate(), np.random.get_state()
        out = []
        for frame in video.as_subclass(torch.Tensor):
            random.setstate(py_state)
            np.random.set_state(np_state)
            img = self.op(Image.fromarray(frame.permute(1, 2, 0).numpy()))
            out.append(torch.from_numpy(np.array(img)).permute(2, 0, 1))
        return tv_tensors.Video(torch.stack(out))


class ClipRandomErasing:
    """timm's RandomErasing as a cube: the same box and the same fill on every frame.

    timm erases the first frame; the changed pixels are then copied to every frame.
    Normalised float [T, C, H, W] -> same shape.
    """

    def __init__(self, probability: float, mode: str = "pixel", max_count: int = 1):
        from timm.data.random_erasing import RandomErasing

        self.op = RandomErasing(probability=probability, mode=mode, max_count=max_count, device="cpu")

    def __call__(self, video: torch.Tensor) -> torch.Tensor:
        video = video.as_subclass(torch.Tensor)
        first = video[0]
        erased = self.op(first.clone())
        mask = (erased != first).any(dim=0)  # [H, W]
        if not mask.any():
            return tv_tensors.Video(video)
        out = video.clone()
        out[:, :, mask] = erased[:, mask]
        return tv_tensors.Video(out)


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


def eval_views(frames: torch.Tensor, transform, size: int, num_crops: int) -> torch.Tensor:
    """uint8 [T, C, H, W] frames -> float [num_crops, C, T, size, size]: ``transform``
    (``build_eval_transform``), then each spatial crop (``spatial_crop``), in one copy."""
    clip = transform(as_video(frames)).as_subclass(torch.Tensor)
    return torch.stack([spatial_crop(clip, size, c, num_crops).transpose(0, 1) for c in range(num_crops)])


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
