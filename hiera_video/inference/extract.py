"""Features of one video, for notebooks and for tools/extract_features.py.

The windows are those of TEST.DATASET's clip sampler (``data.clip_sampling``): for list and
folder datasets every window of DATA.NUM_FRAMES frames, DATA.SAMPLING_RATE apart at
DATA.TARGET_FPS; for SSv2 the whole video, one frame per segment. Each is resized to
DATA.TEST_CROP_SIZE on its short side and cropped (centre, or the 3 spatial crops whose outputs
are averaged), then run through the model.
"""
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from hiera_video.data.lookup import clip_sampler
from hiera_video.data.transforms import build_eval_transform, eval_views
from hiera_video.data.video_decoding import open_video

from .precision import model_dtype


def window_clips(path: str, cfg, stride_sec: float, num_crops: int) -> Tuple[Dict, Iterator[torch.Tensor]]:
    """Open ``path``; return its info (fps, duration, windows, padded) and an iterator of clips.

    Each clip is float ``[num_crops, C, T, S, S]``. Raises ``VideoDecodeError`` when the
    video cannot be opened or decoded.
    """
    sampler = clip_sampler(cfg)
    video = open_video(path, cfg.DATA.DECODING_BACKEND)
    duration = video.duration or 0.0
    windows = sampler.windows(duration, video.fps, stride_sec)
    info = dict(fps=video.fps, duration=duration, windows=[(s, e) for s, e, _ in windows],
                padded=sampler.pads(duration, video.fps))
    transform = build_eval_transform(cfg)

    def clips():
        try:
            for _, _, times in windows:
                yield clip_from_frames(video.frames_at(times), transform, cfg.DATA.TEST_CROP_SIZE, num_crops)
        finally:
            video.close()
    return info, clips()


@torch.no_grad()
def run_clips(model, clips: torch.Tensor, stage: Optional[int] = None, logits: bool = False) -> Dict[str, torch.Tensor]:
    """Model outputs for ``clips`` ``[N, crops, C, T, H, W]``, averaged over crops.

    Returns ``features`` ``[N, C]`` (pooled, normed), optionally ``logits`` ``[N, K]`` and
    ``stage{k}`` maps ``[N, T', H', W', C_k]`` in spatial order.
    """
    n, crops = clips.shape[:2]
    x = clips.flatten(0, 1).to(model_dtype(model))
    out = {}
    if stage is None:
        feats = model.forward_features(x)
    else:
        tokens, stage_outputs = model.forward_encoder(x, return_intermediates=True)
        feats = model.norm(tokens.mean(dim=1))
        out[f"stage{stage}"] = model.reroll(stage_outputs[stage - 1], stage - 1).unflatten(0, (n, crops)).mean(1)
    out["features"] = feats.unflatten(0, (n, crops)).mean(1)
    if logits:
        out["logits"] = model.forward_head(feats).unflatten(0, (n, crops)).mean(1)
    return {k: v.float() for k, v in out.items()}


def extract_features(model, video_path: str, cfg, stride_sec: float = 0.0, num_crops: int = 1,
                     stage: Optional[int] = None, logits: bool = False, batch_size: int = 8) -> Dict[str, object]:
    """Features of every window of one video.

    Args:
        model: a Hiera classifier (``hiera_video.create_model`` / a loaded checkpoint), in eval mode.
        cfg: the config (DATA.* sampling, crop size, decoding backend).
        stride_sec: seconds between window starts; 0 = non-overlapping.
        num_crops: 1 (centre) or 3 (spatial crops, averaged).
        stage: also return the stage-``stage`` (1-4) map of every window.
        logits: also return the classifier's logits.
    Returns:
        dict with ``features`` float32 ``[num_clips, C]``, ``clip_times`` ``[num_clips, 2]``
        (start, end seconds), ``fps``, ``duration``, ``padded`` (video shorter than one window),
        and optionally ``logits`` ``[num_clips, K]`` and ``stage{k}`` ``[num_clips, T', H', W', C_k]``.
    """
    if num_crops not in (1, 3):
        raise ValueError(f"num_crops must be 1 or 3, got {num_crops}")
    device = next(model.parameters()).device
    info, clips = window_clips(video_path, cfg, stride_sec, num_crops)
    parts: List[Dict[str, torch.Tensor]] = []
    batch: List[torch.Tensor] = []
    for clip in clips:
        batch.append(clip)
        if len(batch) == batch_size:
            parts.append(run_clips(model, torch.stack(batch).to(device), stage, logits))
            batch = []
    if batch:
        parts.append(run_clips(model, torch.stack(batch).to(device), stage, logits))
    result = {k: torch.cat([p[k] for p in parts]).float().cpu().numpy() for k in parts[0]}
    result.update(clip_times=np.asarray(info["windows"], dtype=np.float64), fps=info["fps"],
                  duration=info["duration"], padded=info["padded"])
    return result


def clip_from_frames(frames: np.ndarray, transform, size: int, num_crops: int = 1) -> torch.Tensor:
    """uint8 ``[T, H, W, 3]`` frames -> float ``[num_crops, C, T, size, size]``: one window as
    ``window_clips`` prepares it (``transform`` = ``build_eval_transform(cfg)``)."""
    return eval_views(torch.from_numpy(frames).permute(0, 3, 1, 2), transform, size, num_crops)
