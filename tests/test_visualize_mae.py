"""tools/visualize_mae.py on checkpoints of this project's MAE runs (they carry their ``cfg``).

Each test writes a small MAE checkpoint the way a run does ({"model_state", "cfg"}), runs the
tool as a subprocess on a generated clip, reads back the PNG it writes and checks the
reconstruction row against a reconstruction computed here, directly from the model: the
same input frames (found in the video by matching the picture's original row), the same
keep-mask (read off the masked-input row), predictions un-normalised the right way (plain
pixels as they are; normalised pixels with each original patch's mean and std).
"""
import os
import subprocess
import sys
from argparse import Namespace

import numpy as np
import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "configs", "Synthetic", "MAE_TINY_DEMO.yaml")


def _cfg(*opts):
    from hiera_video.config.loading import load_config

    return load_config(Namespace(cfg_file=DEMO, opts=list(opts)), validate=False)


def _build_mae(cfg):
    """The MAE that ``TASK mae`` trains for ``cfg``."""
    import hiera_video.engine as engine  # importing the engine registers its tasks

    task = engine.task_class("mae") if hasattr(engine, "task_class") else engine.TASKS["mae"]
    return task(cfg).build_model()


def _checkpoint(path, cfg):
    """A run's checkpoint of a seeded MAE for ``cfg``; its decoder output scaled up so that the
    predictions are far from the dataset mean colour (a wrong un-normalisation shows)."""
    torch.manual_seed(0)
    model = _build_mae(cfg)
    with torch.no_grad():
        model.decoder_pred.weight.mul_(3.0)
    torch.save({"model_state": model.state_dict(), "cfg": cfg.dump(), "epoch": 1}, path)
    return model.eval(), str(path)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """A 32-frame 64 px clip of the generated dataset (moving shape, textured background)."""
    from hiera_video.synthetic.motion import clip_spec, render_clip
    from hiera_video.synthetic.mp4 import write_mp4

    path = str(tmp_path_factory.mktemp("vis") / "clip.mp4")
    app, label = clip_spec(0, "val", 1, 64)
    write_mp4(path, render_clip(app, label, 32, 64))
    return path


def _run_tool(ckpt, video, out, *extra):
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, os.path.join(REPO, "tools", "visualize_mae.py"), "--checkpoint", ckpt, "--video", video,
           "--out", str(out), *extra]
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"visualize_mae failed:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    import matplotlib.image

    return np.round(matplotlib.image.imread(str(out))[..., :3] * 255).astype(np.int64)  # [3S, T'S, 3]


def _all_frames(path):
    from hiera_video.data.video_decoding import open_video

    v = open_video(path, "pyav")
    try:
        return v.frames_at([(k + 0.25) / v.fps for k in range(32)]).astype(np.int64)  # [32, H, W, 3]
    finally:
        v.close()


def _check_picture(img, model, cfg, video):
    """The picture's reconstruction row against the model's own reconstruction of the same input."""
    S, steps = model.input_size[-1], img.shape[1] // model.input_size[-1]
    T = model.input_size[0]
    orig, masked, recon = (img[i * S:(i + 1) * S].reshape(S, steps, S, 3).transpose(1, 0, 2, 3) for i in range(3))
    frames = _all_frames(video)
    # The input frames: each column is the first frame of a 2-frame token; find them in the video.
    first = [int(np.argmin([np.abs(f - col).mean() for f in frames])) for col in orig]
    assert all(np.abs(frames[i] - col).max() <= 1 for i, col in zip(first, orig)), "original row is not the video"
    rate = (first[1] - first[0]) // model.time_stride
    idx = [first[0] + k * rate for k in range(T)]
    assert idx[::model.time_stride] == first, f"columns are not evenly sampled frames: {first}"
    mean, std = torch.tensor(cfg.DATA.MEAN), torch.tensor(cfg.DATA.STD)
    clip = torch.from_numpy(frames[idx]).float() / 255  # [T, H, W, 3]
    x = ((clip - mean) / std).permute(3, 0, 1, 2).unsqueeze(0)  # [1, 3, T, H, W]

    # The keep-mask: a unit of the masked-input row is the original where kept, grey where deleted.
    U = model.mask_spatial_shape  # [T', 2, 2] for 2x32x32-px units
    uh, uw = S // U[1], S // U[2]
    same = np.abs(masked - orig).reshape(U[0], U[1], uh, U[2], uw, 3).max(axis=(2, 4, 5)) == 0
    keep = torch.from_numpy(same.reshape(1, -1))
    want_kept = model.num_kept(cfg.MASK.MASK_RATIO)
    assert int(keep.sum()) == want_kept, (f"picture keeps {int(keep.sum())} of {keep.shape[1]} mask units; the "
                                          f"checkpoint's MASK.MASK_RATIO {cfg.MASK.MASK_RATIO} keeps {want_kept}")

    from hiera_video.models.mae_targets import pixel_target

    with torch.no_grad():
        pred, token_keep = model.reconstruct(x, mask=keep)
    pred, token_keep = pred[0], token_keep[0]
    raw = pixel_target(x, model.pred_stride, model.time_stride, norm=False)[0]  # [N, P], (p, p, C) per token
    if cfg.MASK.NORM_PIX_LOSS:
        pred = pred * (raw.var(-1, keepdim=True) + 1e-6) ** 0.5 + raw.mean(-1, keepdim=True)
    chan = torch.arange(raw.shape[1]) % 3  # channel-last video patches
    want = (pred * std[chan] + mean[chan]).clamp(0, 1) * 255  # [N, P], the model's pixels
    shown = pixel_target(torch.from_numpy(recon).float().permute(3, 0, 1, 2).unsqueeze(0), model.pred_stride,
                         1, norm=False)[0]  # the picture's pixels, same token layout
    masked_tokens = ~token_keep
    diff = (shown[masked_tokens] - want[masked_tokens]).abs()
    assert diff.max() <= 1.01, (f"reconstruction row differs from the model's reconstruction: max "
                                f"{diff.max():.1f}, mean {diff.mean():.2f} (of 255)")
    assert want[masked_tokens].std() > 10  # a picture worth comparing: not one flat colour
    assert rate == cfg.DATA.SAMPLING_RATE, f"frames {rate} apart, the checkpoint's DATA.SAMPLING_RATE is " \
                                           f"{cfg.DATA.SAMPLING_RATE}"


@pytest.mark.parametrize("norm_pix", [False, True], ids=["plain_pixels", "normalised_pixels"])
def test_picture_follows_the_checkpoints_cfg(tmp_path, video, norm_pix):
    """No --cfg: target, normalisation, mask ratio and decoder come from the checkpoint's stored cfg."""
    ratio = "0.5" if norm_pix else "0.75"
    cfg = _cfg("MASK.NORM_PIX_LOSS", str(norm_pix), "MASK.MASK_RATIO", ratio, "HIERA.DECODER_EMBED_DIM", "32",
               "HIERA.DECODER_NUM_HEADS", "2", "HIERA.DECODER_DEPTH", "1")
    model, ckpt = _checkpoint(tmp_path / "mae.pyth", cfg)
    img = _run_tool(ckpt, video, tmp_path / "mae.png")
    _check_picture(img, model, cfg, video)


def test_demo_config_loads_the_demos_checkpoint(tmp_path, video):
    """--cfg configs/Synthetic/MAE_TINY_DEMO.yaml with a checkpoint of that config (its HIERA sizes)."""
    cfg = _cfg()
    model, ckpt = _checkpoint(tmp_path / "demo.pyth", cfg)
    img = _run_tool(ckpt, video, tmp_path / "demo.png", "--cfg", DEMO)
    _check_picture(img, model, cfg, video)
    # --scale 3 draws the same picture, each pixel as a 3x3 block.
    big = _run_tool(ckpt, video, tmp_path / "demo_x3.png", "--cfg", DEMO, "--scale", "3")
    assert big.shape[:2] == (img.shape[0] * 3, img.shape[1] * 3)
    assert np.array_equal(big[::3, ::3], img) and np.array_equal(big[2::3, 1::3], img)


def test_cfg_and_overrides_win_over_the_stored_cfg(tmp_path, video):
    """A stored cfg is the default, not a cage: --override and --mask-ratio change what is drawn."""
    cfg = _cfg("MASK.NORM_PIX_LOSS", "False", "HIERA.DECODER_EMBED_DIM", "32", "HIERA.DECODER_NUM_HEADS", "2",
               "HIERA.DECODER_DEPTH", "1")
    model, ckpt = _checkpoint(tmp_path / "mae.pyth", cfg)
    img = _run_tool(ckpt, video, tmp_path / "half.png", "--mask-ratio", "0.5")
    half = cfg.clone()
    half.defrost()
    half.MASK.MASK_RATIO = 0.5
    _check_picture(img, model, half, video)
    # Claiming the checkpoint was trained on normalised pixels draws it un-normalised that way.
    img = _run_tool(ckpt, video, tmp_path / "norm.png", "--override", "norm_pix_loss=True")
    as_norm = cfg.clone()
    as_norm.defrost()
    as_norm.MASK.NORM_PIX_LOSS = True
    _check_picture(img, model, as_norm, video)
