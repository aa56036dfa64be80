"""What an MAE checkpoint reconstructs, as a picture (``hiera-visualize-mae`` and the web app).

A PNG grid with one column per predicted time step (the first frame of each 2-frame token) and
three rows: the original frames, the masked input (deleted mask units filled with the dataset
mean colour) and the reconstruction (predicted masked patches, visible patches pasted back).

Where the settings come from (``load_mae``), later wins:

1. a checkpoint of this project's runs carries its ``cfg``: the model is built from it as
   ``TASK mae`` built it (MODEL.*, HIERA.* sizes and decoder, MASK.MASK_RATIO / TARGET /
   NORM_PIX_LOSS, the clip shape DATA.NUM_FRAMES / TRAIN_CROP_SIZE), and the clip is read
   with its DATA.SAMPLING_RATE and normalised with its DATA.MEAN / DATA.STD;
   a file without one (the release's) is read from its tensor shapes (heads leave no
   trace there: the release's 16 decoder heads, normalised pixels, mask ratio 0.9 for
   video, 16x4 sampling, ImageNet mean / std), or from a named config;
2. a config given by the caller instead of the stored one;
3. constructor overrides (e.g. ``decoder_num_heads=8``).

Plain-pixel predictions are drawn as they are; normalised-pixel predictions
(``norm_pix_loss``) are un-normalised with each original patch's own mean and std, as in
the MAE papers' figures.
"""
import logging
import os
from argparse import Namespace
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from hiera_video.data.video_decoding import clip_times, open_video
from hiera_video.models.checkpoints import read_checkpoint
from hiera_video.models.mae import MaskedAutoencoderHiera
from hiera_video.models.mae_from_weights import mae_kwargs_from_state_dict
from hiera_video.models.mae_targets import pixel_target
from hiera_video.models.weights import CLASSIFIER_ONLY, load_weights
from hiera_video.models.zoo import create_model, resolve_pretrained

logger = logging.getLogger(__name__)

MEAN = torch.tensor([0.485, 0.456, 0.406])  # ImageNet: the release's normalisation, and DATA.MEAN's default
STD = torch.tensor([0.229, 0.224, 0.225])
RELEASE_SAMPLING_RATE = 4  # 16x4


def read_clip(path: str, num_frames: int, size: int, stride: int) -> torch.Tensor:
    """Decode ``num_frames`` frames ``stride`` apart from the middle of ``path``; resize the
    short side to ``size``, centre crop. Returns ``[T, 3, size, size]`` floats in [0, 1]."""
    video = open_video(path, "pyav")  # decodes only the sampled frames, even of a long video
    try:
        step = stride / video.fps
        start = max(0.0, ((video.duration or 0.0) - (num_frames - 1) * step) / 2)
        frames = video.frames_at(clip_times(start, num_frames, step))
    finally:
        video.close()
    clip = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    h, w = clip.shape[-2:]
    scale = size / min(h, w)
    clip = F.interpolate(clip, size=(max(size, round(h * scale)), max(size, round(w * scale))),
                         mode="bilinear", align_corners=False, antialias=True)
    top, left = (clip.shape[-2] - size) // 2, (clip.shape[-1] - size) // 2
    return clip[..., top:top + size, left:left + size].clamp(0, 1)


# ---------------------------------------------------------------------- settings
def stored_cfg(checkpoint: str):
    """The ``cfg`` a project checkpoint (or an exported Hub folder) carries, merged onto today's
    defaults, or None."""
    from hiera_video.config.loading import cfg_from_dump

    if "://" in checkpoint or not os.path.exists(checkpoint):
        return None
    meta = read_checkpoint(checkpoint).meta
    text = meta.get("cfg") or (meta.get("config") or {}).get("cfg")
    return cfg_from_dump(text, checkpoint) if text else None


def cfg_from_file(path: str):
    from hiera_video.config.loading import load_config

    return load_config(Namespace(cfg_file=path, opts=[]), validate=False)


def mae_kwargs_from_cfg(cfg) -> Tuple[str, dict]:
    """(model name, constructor arguments) of the MAE ``TASK mae`` builds for ``cfg``."""
    from hiera_video.engine.build import model_kwargs

    name = cfg.MODEL.MODEL_NAME if cfg.MODEL.MODEL_NAME.startswith("mae_") else "mae_" + cfg.MODEL.MODEL_NAME
    kw = model_kwargs(cfg)
    kw.update(decoder_embed_dim=cfg.HIERA.DECODER_EMBED_DIM, decoder_depth=cfg.HIERA.DECODER_DEPTH,
              decoder_num_heads=cfg.HIERA.DECODER_NUM_HEADS, mask_ratio=cfg.MASK.MASK_RATIO,
              target=cfg.MASK.TARGET, norm_pix_loss=cfg.MASK.NORM_PIX_LOSS)
    kw.pop("num_classes", None)
    return name, kw


def build_model(checkpoint: str, model_name: str = "", overrides=None, cfg=None) -> MaskedAutoencoderHiera:
    """The MAE of ``checkpoint``: built from ``cfg`` (a project config) when given, else from
    ``model_name``'s named config, else from the checkpoint's tensor shapes; ``overrides``
    (constructor arguments) last. Weights loaded strictly (every key that does not fit is named)."""
    overrides = dict(overrides or {})
    if cfg is not None:
        name, kwargs = mae_kwargs_from_cfg(cfg)
        model = create_model(model_name or name, **{**kwargs, **overrides})
        load_weights(model, resolve_pretrained(model.model_name, checkpoint), drop=CLASSIFIER_ONLY,
                     hint="an MAE checkpoint is needed: a file with no MAE decoder is a classifier's")
        return model
    if model_name:
        return create_model(model_name, pretrained=checkpoint, **overrides)
    ckpt = read_checkpoint(checkpoint)
    if "decoder_pred.weight" not in ckpt.state_dict:
        raise ValueError(f"{checkpoint} has no MAE decoder (decoder_pred.weight); pass an MAE checkpoint")
    kwargs = {**mae_kwargs_from_state_dict(ckpt.state_dict), **overrides}
    model = MaskedAutoencoderHiera(**kwargs)
    load_weights(model, ckpt)
    return model


# ---------------------------------------------------------------------- drawing
def patches_to_frames(p: torch.Tensor, model: MaskedAutoencoderHiera) -> torch.Tensor:
    """Per-token pixels ``[N_pred, P]`` -> frames ``[T', C, H, W]`` (the layouts of
    ``mae_targets.pixel_target``)."""
    s, C = model.pred_stride, model.in_chans
    H, W = model.input_size[-2] // s, model.input_size[-1] // s
    if len(model.input_size) == 2:
        return p.view(1, H, W, C, s, s).permute(0, 3, 1, 4, 2, 5).reshape(1, C, H * s, W * s)
    T = p.shape[0] // (H * W)
    return p.view(T, H, W, s, s, C).permute(0, 5, 1, 3, 2, 4).reshape(T, C, H * s, W * s)


@torch.no_grad()
def reconstruction(model: MaskedAutoencoderHiera, x: torch.Tensor, mask_ratio: Optional[float] = None,
                   mask: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalised input ``[1, C, (T,) H, W]`` -> (original patches, predicted patches, token keep-mask
    ``[N_pred]``); patches ``[N_pred, P]`` in the input's space (normalised-pixel predictions
    un-normalised with each original patch's mean and std)."""
    if model.target != "pixel":
        raise ValueError(f"can only draw pixel-target reconstructions; this checkpoint predicts '{model.target}'")
    pred, keep = model.eval().reconstruct(x, mask_ratio=mask_ratio, mask=mask)
    raw = pixel_target(x, model.pred_stride, model.time_stride, norm=False)[0]  # [N, P]
    pred = pred[0]
    if model.norm_pix_loss:
        mean, var = raw.mean(-1, keepdim=True), raw.var(-1, keepdim=True)
        pred = pred * (var + 1e-6) ** 0.5 + mean
    return raw, pred, keep[0]


@torch.no_grad()
def render(model: MaskedAutoencoderHiera, clip: torch.Tensor, mask_ratio: float, seed: int,
           mean: torch.Tensor = MEAN, std: torch.Tensor = STD) -> np.ndarray:
    """``clip`` ``[T, 3, H, W]`` in [0, 1] -> uint8 image grid ``[3 * H, T' * W, 3]``; the model's
    input is normalised with ``mean`` / ``std`` (those it was trained with)."""
    mean, std = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
    video = len(model.input_size) == 3
    x = (clip - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    x = x.permute(1, 0, 2, 3).unsqueeze(0) if video else x[:1]
    torch.manual_seed(seed)
    raw, pred, keep = reconstruction(model, x, mask_ratio=mask_ratio)
    keep = keep.unsqueeze(-1)
    grey = torch.zeros_like(raw)  # normalised 0 = the dataset mean colour
    rows = [raw, torch.where(keep, raw, grey), torch.where(keep, raw, pred)]
    frames = [patches_to_frames(r, model) * std.view(1, 3, 1, 1) + mean.view(1, 3, 1, 1) for r in rows]
    grid = torch.cat([torch.cat(list(f), dim=-1) for f in frames], dim=-2)  # [3, 3H, T'W]
    return (grid.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


# ---------------------------------------------------------------------- one call
@dataclass
class PictureSettings:
    """How the clip is read and normalised for ``model``, and where that came from."""

    mean: torch.Tensor
    std: torch.Tensor
    sampling_rate: int
    source: str


def load_mae(checkpoint: str, cfg=None, source: str = "", model_name: str = "",
             overrides=None) -> Tuple[MaskedAutoencoderHiera, PictureSettings]:
    """The MAE of ``checkpoint`` and its picture settings: ``cfg`` when given (``source`` names
    it), else the checkpoint's stored cfg, else its tensor shapes (or ``model_name``)."""
    if cfg is None:
        cfg, source = stored_cfg(checkpoint), "checkpoint cfg"
    model = build_model(checkpoint, model_name, overrides, cfg)
    if cfg is not None:
        return model, PictureSettings(torch.tensor(cfg.DATA.MEAN), torch.tensor(cfg.DATA.STD),
                                      cfg.DATA.SAMPLING_RATE, source)
    return model, PictureSettings(MEAN, STD, RELEASE_SAMPLING_RATE,
                                  "checkpoint shapes" + (f" / {model_name}" if model_name else ""))


def picture(model: MaskedAutoencoderHiera, video: str, settings: PictureSettings, mask_ratio: Optional[float] = None,
            seed: int = 0, scale: int = 1) -> np.ndarray:
    """uint8 grid ``[3 * H * scale, T' * W * scale, 3]`` of the middle clip of ``video`` (``render``).
    Raises ``VideoDecodeError`` when the video cannot be read."""
    frames = model.input_size[0] if len(model.input_size) == 3 else 1
    clip = read_clip(video, frames, model.input_size[-1], settings.sampling_rate)
    ratio = model.mask_ratio if mask_ratio is None else mask_ratio
    grid = render(model, clip, ratio, seed, settings.mean, settings.std)
    return grid.repeat(scale, 0).repeat(scale, 1)


def describe(model: MaskedAutoencoderHiera, settings: PictureSettings, mask_ratio: Optional[float] = None) -> str:
    """One line: the target, mask ratio, decoder and input the picture was made with."""
    ratio = model.mask_ratio if mask_ratio is None else mask_ratio
    dec = model.decoder_blocks[0].attn.heads if model.decoder_blocks else 0
    return (f"settings ({settings.source}): target {model.target}, norm_pix_loss {model.norm_pix_loss}, mask ratio "
            f"{ratio:g} ({model.num_kept(ratio)} of {model.num_mask_units} units kept), decoder "
            f"{model.decoder_embed.out_features} wide x {len(model.decoder_blocks)} blocks x {dec} heads, input "
            f"{tuple(model.input_size)}, sampling rate {settings.sampling_rate}")
