"""``measure_data_throughput(cfg)``: training-loader clips/s per backend and worker count.

Used by ``tools/benchmark.py --data``. It times the real training pipeline (decode,
augment, collate) as configured in ``cfg`` (default there: 16x4 sampling, 224 crop): on
the videos of DATA.PATH_TO_DATA_DIR/train.csv when that exists, otherwise on generated
320p H.264 files (short side 320, 16:9, 30 fps, no audio; what ``datasets_prep/
resize_videos.py`` produces), so the figure is comparable from machine to machine.
"""
import logging
import os
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

logger = logging.getLogger(__name__)


def write_sample_videos(out_dir: str, num_videos: int = 1, seconds: float = 4.0, short_side: int = 320,
                        fps: int = 30, seed: int = 0) -> List[str]:
    """Smooth moving-texture H.264 clips of ``short_side`` x 16:9 (a stand-in for resized Kinetics)."""
    from .synthetic import write_mp4

    h, w = short_side, int(round(short_side * 16 / 9 / 2)) * 2
    rng = np.random.default_rng(seed)
    paths = []
    for n in range(num_videos):
        coarse = rng.uniform(0, 255, (h // 16 + 2, w // 16 + 2, 3))
        texture = torch.nn.functional.interpolate(torch.from_numpy(coarse).permute(2, 0, 1)[None], scale_factor=16,
                                                  mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()
        frames = np.stack([np.roll(texture, (t, 2 * t), axis=(0, 1))[:h, :w] for t in range(int(seconds * fps))])
        path = os.path.join(out_dir, f"sample_{n}.mp4")
        write_mp4(path, frames.astype(np.uint8), fps=fps, crf=23)
        paths.append(path)
    return paths


def measure_data_throughput(cfg, backends: Sequence[str] = ("pyav", "decord"),
                            num_workers: Sequence[int] = (0, 1), num_clips: int = 48,
                            data_dir: Optional[str] = None) -> List[Dict]:
    """Time the train loader; one row per (backend, workers).

    Row: backend, workers, clips_per_s (whole loader), clips_per_s_per_worker (the same
    divided by max(workers, 1)), num_frames, sampling_rate, crop, source. The first batch
    (worker start-up) is not timed. ``cfg`` is cloned, not changed.
    """
    from .loader import build_loader

    cfg = cfg.clone()
    cfg.defrost()
    cfg.DATA.SYNTHETIC.ENABLE = False
    tmp = None
    data_dir = data_dir or cfg.DATA.PATH_TO_DATA_DIR
    if not data_dir or not os.path.isfile(os.path.join(data_dir, "train.csv")):
        tmp = tempfile.TemporaryDirectory(prefix="hiera_video_throughput_")
        data_dir = tmp.name
        paths = write_sample_videos(data_dir)
        with open(os.path.join(data_dir, "train.csv"), "w") as f:
            f.writelines(f"{os.path.basename(p)} 0\n" for p in paths * (256 // len(paths)))
        cfg.DATA.PATH_PREFIX = ""
        cfg.MODEL.NUM_CLASSES = max(cfg.MODEL.NUM_CLASSES, 1)
    cfg.DATA.PATH_TO_DATA_DIR = data_dir
    batch = max(1, min(cfg.TRAIN.BATCH_SIZE, 8))
    cfg.TRAIN.BATCH_SIZE = batch * max(1, cfg.DATA.TRAIN_CROP_NUM_TEMPORAL * cfg.AUG.NUM_SAMPLE)
    rows = []
    try:
        for backend in backends:
            for workers in num_workers:
                cfg.DATA.DECODING_BACKEND = backend
                cfg.DATA_LOADER.NUM_WORKERS = workers
                loader = build_loader(cfg, "train")
                it = iter(loader)
                next(it)
                clips, start = 0, time.perf_counter()
                for b in it:
                    clips += b["video"].shape[0]
                    if clips >= num_clips:
                        break
                rate = clips / (time.perf_counter() - start)
                del it, loader
                rows.append(dict(backend=backend, workers=workers, clips_per_s=round(rate, 2),
                                 clips_per_s_per_worker=round(rate / max(workers, 1), 2),
                                 num_frames=cfg.DATA.NUM_FRAMES, sampling_rate=cfg.DATA.SAMPLING_RATE,
                                 crop=cfg.DATA.TRAIN_CROP_SIZE, augment=bool(cfg.AUG.ENABLE),
                                 source="generated 320p" if tmp else data_dir))
                logger.info("data throughput: %s", rows[-1])
    finally:
        if tmp is not None:
            tmp.cleanup()
    return rows
