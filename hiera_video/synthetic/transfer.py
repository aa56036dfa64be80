"""A second generated dataset, in class folders, whose classes the main demo (``motion.py``) lacks.

Eight motion-defined classes: ``move_up_left``, ``move_up_right``, ``move_down_left``,
``move_down_right`` (diagonals at the demo's speeds), ``shake_horizontal``, ``shake_vertical``
(a sine back and forth: amplitude 4-8 px, period 10-16 frames, random phase), ``grow`` and
``shrink`` (the radius scales by 1.6-2.2x over the clip, symmetric about the middle frame, so
one played backwards is the other). Appearances (shape, colours, background, distractor,
noise) are drawn exactly as in the demo, independently of the class, and frames are drawn by
the demo's ``render_clip`` one frame at a time at the trajectory's pose; the static distractor
scales with the shape in grow / shrink clips (its size follows the shape's radius there).

Layout: ``out/<class>/<n>.mp4`` (one pool: the ``folder`` dataset splits it by
DATA.VAL_FRACTION / DATA.TEST_FRACTION) and ``meta.json``. Deterministic from the seed.
Used by ``benchmarks/transfer_synthetic.py``.

CLI: ``python -m hiera_video.synthetic.transfer --out data/synthetic_transfer [--per-class 40]``.
"""
import argparse
import json
import logging
import os
import shutil
import tempfile
from dataclasses import replace
from typing import Dict, Tuple

import numpy as np

from .motion import Appearance, render_clip, sample_appearance
from .mp4 import FPS, write_mp4
from .target_folder import check_generator_target, read_meta

logger = logging.getLogger(__name__)

CLASSES = ("grow", "move_down_left", "move_down_right", "move_up_left", "move_up_right", "shake_horizontal",
           "shake_vertical", "shrink")  # sorted, as the folder dataset indexes them
GENERATOR = "hiera_video.synthetic.transfer"


def poses(app: Appearance, name: str, num_frames: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """[T, 4] (x, y, angle, radius) per frame of a clip of class ``name``."""
    t = np.arange(num_frames, dtype=np.float64)
    x, y = np.full(num_frames, app.pos0[0]), np.full(num_frames, app.pos0[1])
    radius = np.full(num_frames, app.radius)
    if name.startswith("move_"):
        v = app.speed / np.sqrt(2.0)
        x = x + (v if name.endswith("right") else -v) * t
        y = y + (-v if "_up_" in name else v) * t
    elif name.startswith("shake_"):
        amp, period, phase = rng.uniform(4, 8) * size / 64, rng.uniform(10, 16), rng.uniform(0, 2 * np.pi)
        offset = amp * np.sin(2 * np.pi * t / period + phase)
        x, y = (x + offset, y) if name == "shake_horizontal" else (x, y + offset)
    else:
        factor = rng.uniform(1.6, 2.2) ** (1 if name == "grow" else -1)
        radius = 0.8 * app.radius * factor ** ((t - (num_frames - 1) / 2) / max(num_frames - 1, 1))
    return np.stack([x, y, np.full(num_frames, app.angle0), radius], axis=1)


def render(app: Appearance, pose: np.ndarray, size: int) -> np.ndarray:
    """uint8 [T, H, W, 3]: frame t is the demo's frame 0 of the appearance moved to pose t (own noise)."""
    return np.concatenate([
        render_clip(replace(app, pos0=(float(x), float(y)), angle0=float(a), radius=float(r),
                            noise_seed=app.noise_seed + k), 0, 1, size)
        for k, (x, y, a, r) in enumerate(pose)])


def clip_spec(seed: int, n: int, num_frames: int, size: int) -> Tuple[Appearance, str, np.ndarray]:
    """Appearance, class and poses of clip ``n`` (classes in turn, so balanced)."""
    rng = np.random.default_rng([seed, 7, n])
    app, name = sample_appearance(rng, size), CLASSES[n % len(CLASSES)]
    return app, name, poses(app, name, num_frames, rng, size)


def generate(out: str, per_class: int = 40, num_frames: int = 32, size: int = 64, seed: int = 0) -> Dict:
    """Write ``per_class`` clips of each class into ``out`` (via a temporary folder); the meta dict."""
    meta = dict(generator=GENERATOR, classes=list(CLASSES), per_class=per_class, num_frames=num_frames, size=size,
                seed=seed, fps=FPS)
    out = os.path.abspath(out)
    check_generator_target(out, lambda m: m.get("generator") == GENERATOR, "transfer dataset")
    if read_meta(out) == meta:
        return meta
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.tmp-", dir=os.path.dirname(out))
    try:
        for name in CLASSES:
            os.makedirs(os.path.join(tmp, name))
        for n in range(per_class * len(CLASSES)):
            app, name, pose = clip_spec(seed, n, num_frames, size)
            write_mp4(os.path.join(tmp, name, f"{n:05d}.mp4"), render(app, pose, size))
        with open(os.path.join(tmp, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        if os.path.exists(out):
            shutil.rmtree(out)
        os.rename(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("generated %d transfer clips in %s", per_class * len(CLASSES), out)
    return meta


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--per-class", type=int, default=40)
    p.add_argument("--num-frames", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    generate(args.out, args.per_class, args.num_frames, args.size, args.seed)


if __name__ == "__main__":
    main()
