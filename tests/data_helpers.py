"""Shared helpers for the data tests: tiny real MP4 files and configs pointing at them."""
import os
from typing import List, Tuple

import numpy as np

from hiera_video.config.defaults import get_cfg
from hiera_video.synthetic.mp4 import write_mp4


def ramp_video(path: str, num_frames: int = 16, height: int = 32, width: int = 32, fps: int = 30) -> str:
    """H.264 clip whose frame k has grey level 10 + 12 * k (so a frame's index can be read back)."""
    levels = 10 + 12 * np.arange(num_frames)
    frames = np.broadcast_to(levels[:, None, None, None], (num_frames, height, width, 3)).astype(np.uint8)
    write_mp4(path, np.ascontiguousarray(frames), fps=fps)
    return path


def frame_level(video_tchw) -> List[int]:
    """Frame indices of a decoded ramp clip (uint8 [T, C, H, W]), read from grey levels."""
    means = video_tchw.float().mean(dim=(1, 2, 3))
    return [int(round((m.item() - 10) / 12)) for m in means]


def gradient_video(path: str, height: int, width: int, num_frames: int = 8) -> str:
    """Clip whose red channel grows left to right and green channel top to bottom."""
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    img = np.stack([x, y, np.full_like(x, 128)], -1).astype(np.uint8)
    write_mp4(path, np.ascontiguousarray(np.broadcast_to(img, (num_frames,) + img.shape)))
    return path


def make_list(data_dir: str, split: str, entries: List[Tuple[str, int]]) -> str:
    path = os.path.join(data_dir, f"{split}.csv")
    with open(path, "w") as f:
        f.writelines(f"{p} {label}\n" for p, label in entries)
    return path


def small_cfg(data_dir: str, **overrides):
    """Defaults shrunk for tests: 4 frames every 2 at 30 fps, 32 px crops, CPU, no workers."""
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.DATA.PATH_TO_DATA_DIR = data_dir
    cfg.DATA.NUM_FRAMES = 4
    cfg.DATA.SAMPLING_RATE = 2
    cfg.DATA.TRAIN_JITTER_SCALES = [32, 40]
    cfg.DATA.TRAIN_CROP_SIZE = 32
    cfg.DATA.TEST_CROP_SIZE = 32
    cfg.MODEL.NUM_CLASSES = 6
    cfg.TRAIN.BATCH_SIZE = 4
    cfg.TEST.BATCH_SIZE = 4
    cfg.DATA_LOADER.NUM_WORKERS = 0
    for key, value in overrides.items():
        node = cfg
        *parents, leaf = key.split(".")
        for p in parents:
            node = getattr(node, p)
        setattr(node, leaf, value)
    return cfg


def vfr_ramp_video(path: str, pts: List[int], height: int = 32, width: int = 32) -> str:
    """Variable frame rate H.264 clip: frame k (grey level 10 + 12 k) shown at ``pts[k] / 30`` s."""
    from fractions import Fraction

    import av

    from hiera_video.synthetic.mp4 import rgb_to_yuv420p

    levels = 10 + 12 * np.arange(len(pts))
    frames = np.ascontiguousarray(np.broadcast_to(levels[:, None, None, None], (len(pts), height, width, 3)),
                                  dtype=np.uint8)
    with av.open(path, "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.codec_context.time_base = Fraction(1, 30)
        s.options = {"crf": "10", "x264-params": "mbtree=0:rc-lookahead=0"}
        for p, plane in zip(pts, rgb_to_yuv420p(frames)):
            f = av.VideoFrame.from_ndarray(plane, format="yuv420p")
            f.pts, f.time_base = p, Fraction(1, 30)
            for packet in s.encode(f):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def tiny_checkpoint(path: str, input_size, embed_dim: int = 16, num_classes: int = 6):
    """A seeded tiny video Hiera (one block per stage) saved in the release's format -> (model in eval, path)."""
    import torch

    from hiera_video import create_model

    torch.manual_seed(0)
    model = create_model("hiera_tiny_16x224", embed_dim=embed_dim, num_heads=1, stages=(1, 1, 1, 1),
                         input_size=tuple(input_size), num_classes=num_classes)
    torch.save({"model_state": model.state_dict()}, path)
    return model.eval(), str(path)
