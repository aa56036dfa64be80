"""Look at what an MAE checkpoint reconstructs.

    python tools/visualize_mae.py --checkpoint mae_hiera_base_16x224.pth --video clip.mp4 --out mae.png
    python tools/visualize_mae.py --cfg configs/MAE/MAE_HIERA_B_16x4_K400.yaml --checkpoint run/ckpt.pyth --video clip.mp4

Writes a PNG grid with one column per predicted time step (the first frame of each
2-frame token) and three rows: the original frames, the masked input (deleted mask
units greyed out) and the reconstruction (predicted masked patches, visible patches
pasted back). Normalised-pixel predictions are un-normalised with each original patch's
own mean and std, as in the MAE papers' figures. The architecture is read from the
checkpoint's tensor shapes unless ``--model`` or ``--cfg`` (MODEL.MODEL_NAME, HIERA.DECODER_*,
MASK.*, DATA.NUM_FRAMES / TRAIN_CROP_SIZE / SAMPLING_RATE) names it; ``--override KEY=VALUE``
sets any constructor argument (e.g. ``decoder_num_heads=16``, which leaves no trace in weights).
"""
import argparse
import ast
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hiera_video.data.video_decoding import VideoDecodeError, clip_times, open_video  # noqa: E402
from hiera_video.models.mae import (MAE_CONFIGS, MaskedAutoencoderHiera, create_mae_model,  # noqa: E402
                                    load_mae_pretrained, mae_kwargs_from_state_dict)
from hiera_video.models.pretrained import read_state_dict  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406])
STD = torch.tensor([0.229, 0.224, 0.225])


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


def build_model(checkpoint: str, model_name: str = "", overrides=None) -> MaskedAutoencoderHiera:
    overrides = dict(overrides or {})
    if model_name:
        return create_mae_model(model_name, pretrained=checkpoint, **overrides)
    state = read_state_dict(checkpoint)
    if "decoder_pred.weight" not in state:
        raise ValueError(f"{checkpoint} has no MAE decoder (decoder_pred.weight); pass an MAE checkpoint")
    kwargs = {**mae_kwargs_from_state_dict(state), **overrides}
    model = MaskedAutoencoderHiera(**kwargs)
    load_mae_pretrained(model, checkpoint)
    return model


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
def render(model: MaskedAutoencoderHiera, clip: torch.Tensor, mask_ratio: float, seed: int) -> np.ndarray:
    """``clip`` ``[T, 3, H, W]`` in [0, 1] -> uint8 image grid ``[3 * H, T' * W, 3]``."""
    if model.target != "pixel":
        raise ValueError(f"can only draw pixel-target reconstructions; this checkpoint predicts '{model.target}'")
    video = len(model.input_size) == 3
    x = (clip - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1)
    x = x.permute(1, 0, 2, 3).unsqueeze(0) if video else x[:1]
    torch.manual_seed(seed)
    pred, keep = model.eval().reconstruct(x, mask_ratio=mask_ratio)
    from hiera_video.models.mae_targets import pixel_target

    raw = pixel_target(x, model.pred_stride, model.time_stride, norm=False)[0]  # [N, P]
    if model.norm_pix_loss:
        mean, var = raw.mean(-1, keepdim=True), raw.var(-1, keepdim=True)
        pred = pred[0] * (var + 1e-6) ** 0.5 + mean
    else:
        pred = pred[0]
    keep = keep[0].unsqueeze(-1)
    grey = torch.zeros_like(raw)  # normalised 0 = the dataset mean colour
    rows = [raw, torch.where(keep, raw, grey), torch.where(keep, raw, pred)]
    frames = [patches_to_frames(r, model) * STD.view(1, 3, 1, 1) + MEAN.view(1, 3, 1, 1) for r in rows]
    grid = torch.cat([torch.cat(list(f), dim=-1) for f in frames], dim=-2)  # [3, 3H, T'W]
    return (grid.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def settings_from_cfg(path: str):
    """(model name, constructor overrides, sampling rate) from a project config file."""
    from argparse import Namespace

    from hiera_video.config.loading import load_config

    cfg = load_config(Namespace(cfg_file=path, opts=[]), validate=False)
    name = cfg.MODEL.MODEL_NAME if cfg.MODEL.MODEL_NAME.startswith("mae_") else "mae_" + cfg.MODEL.MODEL_NAME
    overrides = dict(decoder_embed_dim=cfg.HIERA.DECODER_EMBED_DIM, decoder_depth=cfg.HIERA.DECODER_DEPTH,
                     decoder_num_heads=cfg.HIERA.DECODER_NUM_HEADS, mask_ratio=cfg.MASK.MASK_RATIO,
                     target=cfg.MASK.TARGET, norm_pix_loss=cfg.MASK.NORM_PIX_LOSS)
    crop = cfg.DATA.TRAIN_CROP_SIZE
    video = len(MAE_CONFIGS.get(name, {}).get("input_size", (0, 0))) == 3
    overrides["input_size"] = (cfg.DATA.NUM_FRAMES, crop, crop) if video else (crop, crop)
    return name, overrides, cfg.DATA.SAMPLING_RATE


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", default="", help="project config (YAML) the checkpoint was trained with")
    parser.add_argument("--checkpoint", required=True, help="MAE checkpoint {'model_state': state_dict}")
    parser.add_argument("--video", required=True, help="video file to reconstruct")
    parser.add_argument("--out", default="mae_reconstruction.png", help="PNG to write")
    parser.add_argument("--model", default="", help="named MAE config (default: read from the checkpoint)")
    parser.add_argument("--override", nargs="*", default=[], metavar="KEY=VALUE",
                        help="constructor overrides, Python literals, e.g. decoder_num_heads=16")
    parser.add_argument("--mask-ratio", type=float, default=None, help="default: the model's (0.9 video)")
    parser.add_argument("--sampling-rate", type=int, default=None, help="frames between sampled frames (4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random mask")
    args = parser.parse_args(argv)

    model_name, overrides, rate = args.model, {}, 4
    if args.cfg:
        cfg_name, overrides, rate = settings_from_cfg(args.cfg)
        model_name = model_name or cfg_name
    for item in args.override:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--override expects KEY=VALUE, got '{item}'")
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    model = build_model(args.checkpoint, model_name, overrides)
    frames = model.input_size[0] if len(model.input_size) == 3 else 1
    try:
        clip = read_clip(args.video, frames, model.input_size[-1], args.sampling_rate or rate)
    except VideoDecodeError as e:
        sys.exit(f"error: {e}")
    grid = render(model, clip, args.mask_ratio if args.mask_ratio is not None else model.mask_ratio, args.seed)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    plt.imsave(args.out, grid)
    steps = grid.shape[1] // model.input_size[-1]
    print(f"wrote {args.out}: rows original / masked input / reconstruction, {steps} time steps")


if __name__ == "__main__":
    main()
