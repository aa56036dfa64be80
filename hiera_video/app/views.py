"""The frames the model saw: the multi-view test's views, un-normalised, as one picture per clip."""
from typing import List, Optional, Tuple

import numpy as np
import torch

from hiera_video.data.lookup import clip_sampler

CROP_NAMES = {1: ["centre"], 3: ["left / top", "centre", "right / bottom"]}


def view_pictures(views: torch.Tensor, cfg, num_temporal: int, num_crops: int) -> List[np.ndarray]:
    """Normalised views ``[num_temporal * num_crops, C, T, S, S]`` (temporal-major, as
    ``predict.video_views`` makes them) -> per clip a uint8 picture ``[num_crops * S, T * S, 3]``:
    one row per spatial crop, one column per frame, in the order the model reads them."""
    mean = torch.tensor(cfg.DATA.MEAN, dtype=torch.float32).view(1, -1, 1, 1, 1)
    std = torch.tensor(cfg.DATA.STD, dtype=torch.float32).view(1, -1, 1, 1, 1)
    x = (views.float().cpu() * std + mean).clamp(0, 1)
    _, c, t, s, _ = x.shape
    grid = x.view(num_temporal, num_crops, c, t, s, s).permute(0, 1, 4, 3, 5, 2)  # clip, crop, row, frame, col, C
    grid = grid.reshape(num_temporal, num_crops * s, t * s, c)
    return list((grid * 255).round().to(torch.uint8).numpy())


def view_captions(cfg, duration: Optional[float], fps: float, num_temporal: int, num_crops: int) -> List[str]:
    """Per clip: its frame times (the sampler's, as the prediction took them) and what the rows are."""
    sampler = clip_sampler(cfg)
    captions = []
    for j in range(num_temporal):
        times = sampler.view(duration or 0.0, fps, j, num_temporal)
        rows = f"; rows: {', '.join(CROP_NAMES.get(num_crops, []))} crop" if num_crops > 1 else ""
        captions.append(f"clip {j + 1}/{num_temporal}: {len(times)} frames, {times[0]:.2f}-{times[-1]:.2f} s{rows}")
    return captions


def pictures_with_captions(views: torch.Tensor, cfg, duration: Optional[float], fps: float, num_temporal: int,
                           num_crops: int) -> List[Tuple[np.ndarray, str]]:
    return list(zip(view_pictures(views, cfg, num_temporal, num_crops),
                    view_captions(cfg, duration, fps, num_temporal, num_crops)))
