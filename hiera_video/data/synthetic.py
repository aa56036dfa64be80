"""The generated demo dataset: real H.264 MP4 clips of a task that needs time to solve.

Six classes: a shape moves left / right / up / down, or turns clockwise /
counter-clockwise in place. Every clip draws its *appearance* (shape among triangle, L, T,
ellipse, bar; size; stripes; start position and orientation; speed; colours; textured
background; an optional static distractor shape; per-frame noise) independently of its
class; the class only sets the dynamics. The moving shape is always lighter than the
background (any hue): with random contrast polarity the direction of motion is only a
second-order cue, and neither a small Hiera nor a small 3-D CNN got above chance on it
within a CPU demo's budget; with fixed polarity a tiny Hiera reaches 100% in ~200 steps. Frame 0 of a clip is therefore the same image
whatever the class, and since positions and orientations are uniform (the frame wraps
around like a torus) every later frame has the same distribution too: no single frame
gives the answer, only motion does. Playing a clip backwards gives a clip of the opposite
class (left<->right, up<->down, cw<->ccw); tests check both properties.

Layout written under ``out``: ``videos/<split>/<n>.mp4`` (``DATA.SYNTHETIC.SIZE`` px square,
``DATA.SYNTHETIC.NUM_FRAMES`` frames at 30 fps), ``train.csv`` / ``val.csv`` / ``test.csv``
(``path label``, paths relative to ``out``), ``classnames.txt``, ``meta.json``.
Deterministic from the seed; written into a temporary folder and then moved into place,
lists last, so an interrupted generation is simply redone. It only writes into a missing or
empty folder or its own earlier output (``meta.json``): see ``generated_folder``.

CLI: ``python -m hiera_video.data.synthetic --out data/synthetic [--num-train 600 ...]``.
"""
import argparse
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from typing import Dict, Optional, Tuple

import numpy as np

from .generated_folder import check_generator_target, read_meta

logger = logging.getLogger(__name__)

CLASSES = ("move_left", "move_right", "move_up", "move_down", "rotate_clockwise", "rotate_counterclockwise")
OPPOSITE = {0: 1, 1: 0, 2: 3, 3: 2, 4: 5, 5: 4}
SHAPES = ("triangle", "L", "T", "ellipse", "bar")
FPS = 30
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
GENERATOR = "hiera_video.data.synthetic"


@dataclass(frozen=True)
class Appearance:
    """Everything about a clip except its class. Lengths in pixels, angles in degrees."""

    shape: str
    radius: float
    pos0: Tuple[float, float]  # (x, y) at frame 0
    angle0: float
    speed: float  # px per frame, for the move classes
    spin: float  # degrees per frame, for the rotate classes
    fg: Tuple[int, int, int]
    background_seed: int
    distractor: bool
    noise_sigma: float
    noise_seed: int
    stripe_period: float = 6.0  # the shape is striped (in its own frame), so motion shows inside it too
    stripe_contrast: float = 0.0
    grating_amp: float = 10.0  # background gratings: amplitude drawn in [0, grating_amp] per grating
    num_gratings: int = 2


# Appearance variants (``DATA.SYNTHETIC.VARIANT``; "" is the demo's). "textured": the same draws,
# then a background of four stronger gratings (amplitude up to 40 of 255 instead of 10): a texture
# that persists over the clip and continues across mask units, so it can be predicted from the
# visible context, as real backgrounds can (what an MAE needs to learn; see docs/mae.md).
VARIANTS = {"": {}, "textured": {"grating_amp": 40.0, "num_gratings": 4}}


def sample_appearance(rng: np.random.Generator, size: int, variant: str = "") -> Appearance:
    """Draw an appearance; its distribution does not depend on the class. ``variant``: a key of
    ``VARIANTS`` (the same draws from ``rng`` for every variant)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown synthetic variant '{variant}'; expected one of {sorted(VARIANTS)}")
    s = size / 64.0
    fg = 150 + rng.integers(0, 106, 3)  # light shape on a dark background (see module docstring)
    app = Appearance(
        shape=str(rng.choice(SHAPES)), radius=float(rng.uniform(12, 17) * s),
        pos0=(float(rng.uniform(0, size)), float(rng.uniform(0, size))), angle0=float(rng.uniform(0, 360)),
        speed=float(rng.uniform(1.2, 2.4) * s), spin=float(rng.uniform(6.0, 12.0)),
        fg=tuple(int(c) for c in fg), background_seed=int(rng.integers(2**31)),
        distractor=bool(rng.random() < 0.25), noise_sigma=float(rng.uniform(0, 5)),
        noise_seed=int(rng.integers(2**31)), stripe_period=float(rng.uniform(4, 8) * s),
        stripe_contrast=float(rng.uniform(0.1, 0.3)))
    return replace(app, **VARIANTS[variant])


def trajectory(app: Appearance, label: int, num_frames: int) -> np.ndarray:
    """[T, 3] (x, y, angle) per frame. Image axes: x right, y down; +angle turns clockwise on screen."""
    t = np.arange(num_frames, dtype=np.float64)
    vx, vy, w = {0: (-app.speed, 0, 0), 1: (app.speed, 0, 0), 2: (0, -app.speed, 0), 3: (0, app.speed, 0),
                 4: (0, 0, app.spin), 5: (0, 0, -app.spin)}[label]
    return np.stack([app.pos0[0] + vx * t, app.pos0[1] + vy * t, app.angle0 + w * t], axis=1)


def reversed_appearance(app: Appearance, label: int, num_frames: int) -> Appearance:
    """The appearance whose clip of class OPPOSITE[label] is this clip played backwards (noise aside)."""
    x, y, a = trajectory(app, label, num_frames)[-1]
    return replace(app, pos0=(float(x), float(y)), angle0=float(a))


def _shape_sdf(shape: str, u: np.ndarray, v: np.ndarray, r: float) -> np.ndarray:
    """Signed distance (approx., px) to the shape in its own frame; negative inside."""
    def box(cu, cv, hu, hv):
        return np.maximum(np.abs(u - cu) - hu, np.abs(v - cv) - hv)

    if shape == "bar":
        return box(0, 0, r, 0.45 * r)
    if shape == "ellipse":
        a, b = r, 0.5 * r
        return (np.sqrt((u / a) ** 2 + (v / b) ** 2) - 1.0) * b
    if shape == "triangle":  # isosceles, pointing along +u: no rotational symmetry
        n = [(1.0, 0.0, 0.55 * r), (-0.6, 0.8, 0.55 * r), (-0.6, -0.8, 0.55 * r)]
        return np.max([nu * u + nv * v - d for nu, nv, d in n], axis=0)
    w = 0.35 * r
    if shape == "L":
        return np.minimum(box(-r + w, 0, w, r), box(0, r - w, r, w))
    if shape == "T":
        return np.minimum(box(0, -r + w, r, w), box(0, 0, w, r))
    raise ValueError(f"unknown shape '{shape}'")


def _background(app: Appearance, size: int) -> np.ndarray:
    """Static textured background, float [H, W, 3], plus an optional static distractor shape."""
    rng = np.random.default_rng(app.background_seed)
    bg = rng.integers(0, 90, 3).astype(np.float64)  # dark: the shape (>= 150) stays visible
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    img = np.broadcast_to(bg, (size, size, 3)).copy()
    for _ in range(app.num_gratings):  # low-frequency gratings
        theta, freq, phase = rng.uniform(0, np.pi), rng.uniform(0.5, 3) * 2 * np.pi / size, rng.uniform(0, 6.3)
        amp = rng.uniform(0, app.grating_amp) * rng.choice([-1, 1], 3)
        img += np.sin(freq * (xx * np.cos(theta) + yy * np.sin(theta)) + phase)[..., None] * amp
    if app.distractor:
        col = rng.integers(40, 130, 3)  # darker than the moving shape
        cx, cy, ang = rng.uniform(0, size), rng.uniform(0, size), np.deg2rad(rng.uniform(0, 360))
        dx, dy = (xx - cx + size / 2) % size - size / 2, (yy - cy + size / 2) % size - size / 2
        u, v = dx * np.cos(ang) + dy * np.sin(ang), -dx * np.sin(ang) + dy * np.cos(ang)
        alpha = np.clip(0.5 - _shape_sdf(str(rng.choice(SHAPES)), u, v, app.radius * rng.uniform(0.6, 1.0)), 0, 1)
        img = img * (1 - alpha[..., None]) + col * alpha[..., None]
    return img


def render_clip(app: Appearance, label: int, num_frames: int, size: int) -> np.ndarray:
    """uint8 [T, H, W, 3] frames of one clip."""
    traj = trajectory(app, label, num_frames)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    traj = traj.astype(np.float32)
    dx = (xx[None] - traj[:, 0, None, None] + size / 2) % size - size / 2  # wrap around (torus)
    dy = (yy[None] - traj[:, 1, None, None] + size / 2) % size - size / 2
    ang = np.deg2rad(traj[:, 2])[:, None, None]
    u, v = dx * np.cos(ang) + dy * np.sin(ang), -dx * np.sin(ang) + dy * np.cos(ang)
    alpha = np.clip(0.5 - _shape_sdf(app.shape, u, v, app.radius), 0, 1)[..., None]
    shade = 1 - app.stripe_contrast * 0.5 * (1 + np.sin(2 * np.pi * (u + v) / app.stripe_period))
    colour = np.array(app.fg, np.float32) * shade[..., None].astype(np.float32)
    frames = _background(app, size).astype(np.float32)[None] * (1 - alpha) + colour * alpha
    if app.noise_sigma > 0:
        noise = np.random.default_rng(app.noise_seed).standard_normal(frames.shape, dtype=np.float32)
        frames += noise * np.float32(app.noise_sigma)
    return np.clip(frames + 0.5, 0, 255).astype(np.uint8)


def rgb_to_yuv420p(frames: np.ndarray) -> np.ndarray:
    """uint8 [T, H, W, 3] RGB -> uint8 [T, H * 3 // 2, W] planar yuv420p (BT.601, limited range)."""
    t, h, w, _ = frames.shape
    r, g, b = (frames[..., c].astype(np.float32) for c in range(3))
    y = 0.257 * r + 0.504 * g + 0.098 * b + 16
    pool = lambda x: (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2]) / 4  # noqa: E731
    r, g, b = pool(r), pool(g), pool(b)
    u = -0.148 * r - 0.291 * g + 0.439 * b + 128
    v = 0.439 * r - 0.368 * g - 0.071 * b + 128
    planes = np.concatenate([y.reshape(t, -1), u.reshape(t, -1), v.reshape(t, -1)], axis=1)
    return np.clip(planes + 0.5, 0, 255).astype(np.uint8).reshape(t, h * 3 // 2, w)


def write_mp4(path: str, frames: np.ndarray, fps: int = FPS, crf: int = 18) -> None:
    """Encode uint8 [T, H, W, 3] (H, W even) as H.264 / yuv420p MP4 with PyAV (deterministic)."""
    import av

    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        # x264's lookahead / macroblock tree made the output vary from run to run for the
        # same frames; without them (and with one thread) files are byte-identical.
        stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1",
                          "x264-params": "mbtree=0:rc-lookahead=0"}
        for i, plane in enumerate(rgb_to_yuv420p(frames)):
            frame = av.VideoFrame.from_ndarray(plane, format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def clip_spec(seed: int, split: str, n: int, size: int, variant: str = "") -> Tuple[Appearance, int]:
    """Appearance and label of clip ``n`` of ``split`` (balanced labels, deterministic from the seed)."""
    rng = np.random.default_rng([seed, SPLIT_IDS[split], n])
    return sample_appearance(rng, size, variant), n % len(CLASSES)


def _write_clips(job: Tuple[str, str, int, int, int, int, int, str]) -> None:
    """Render and encode clips ``lo..hi-1`` of one split into ``root`` (one pool task)."""
    root, split, lo, hi, seed, num_frames, size, variant = job
    for n in range(lo, hi):
        app, label = clip_spec(seed, split, n, size, variant)
        write_mp4(os.path.join(root, f"videos/{split}/{n:05d}.mp4"), render_clip(app, label, num_frames, size))


def generate(out: str, num_train: int = 600, num_val: int = 120, num_test: int = 120, num_frames: int = 32,
             size: int = 64, seed: int = 0, workers: Optional[int] = None, variant: str = "") -> Dict:
    """Write the dataset into ``out`` (atomically; see module docstring). Returns the meta dict.

    ``workers`` processes render and encode (default: up to 2, the CPU count permitting);
    the files do not depend on it. ``variant``: a key of ``VARIANTS`` (recorded in meta.json
    when not the default).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown synthetic variant '{variant}'; expected one of {sorted(VARIANTS)}")
    if size % 2 or size < 16:
        raise ValueError(f"DATA.SYNTHETIC.SIZE must be even and >= 16, got {size}")
    if num_frames < 2:
        raise ValueError(f"DATA.SYNTHETIC.NUM_FRAMES must be >= 2, got {num_frames}")
    counts = {"train": num_train, "val": num_val, "test": num_test}
    meta = dict(generator=GENERATOR, classes=list(CLASSES), counts=counts, num_frames=num_frames, size=size,
                seed=seed, fps=FPS, **({"variant": variant} if variant else {}))
    out = os.path.abspath(out)
    check_generator_target(out, is_own_meta, "synthetic dataset")
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.tmp-", dir=parent)
    workers = workers or min(2, os.cpu_count() or 1)
    t0 = time.time()
    try:
        jobs = []
        for split, count in counts.items():
            os.makedirs(os.path.join(tmp, "videos", split))
            jobs += [(tmp, split, lo, min(lo + 20, count), seed, num_frames, size, variant)
                     for lo in range(0, count, 20)]
        if workers > 1:
            ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
            with ctx.Pool(workers) as pool:
                pool.map(_write_clips, jobs, chunksize=1)
        else:
            for job in jobs:
                _write_clips(job)
        for split, count in counts.items():
            with open(os.path.join(tmp, f"{split}.csv"), "w") as f:
                f.writelines(f"videos/{split}/{n:05d}.mp4 {clip_spec(seed, split, n, size, variant)[1]}\n"
                             for n in range(count))
        with open(os.path.join(tmp, "classnames.txt"), "w") as f:
            f.write("\n".join(CLASSES) + "\n")
        with open(os.path.join(tmp, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        _publish(tmp, out)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info("generated %d synthetic clips in %s in %.1f s", sum(counts.values()), out, time.time() - t0)
    return meta


def _publish(tmp: str, out: str) -> None:
    """Move the finished folder into place; the lists (what marks a dataset complete) go last."""
    if not os.path.exists(out):
        os.rename(tmp, out)
        return
    lists = [f"{s}.csv" for s in SPLIT_IDS]
    for name in sorted(os.listdir(tmp), key=lambda n: n in lists):
        dst = os.path.join(out, name)
        if name == "videos" and os.path.isdir(dst):
            shutil.rmtree(dst)  # left by an older, incomplete generation
        os.replace(os.path.join(tmp, name), dst)


def is_own_meta(meta: Dict) -> bool:
    """meta.json written by this generator (older ones lack "generator" but list these classes)."""
    return meta.get("generator") == GENERATOR or (meta.get("classes") == list(CLASSES) and "counts" in meta)


def is_complete(data_dir: str) -> bool:
    """This generator's finished output: its meta.json and the three lists (written last)."""
    return is_own_meta(read_meta(data_dir)) and all(os.path.isfile(os.path.join(data_dir, f"{s}.csv"))
                                                    for s in SPLIT_IDS)


def ensure_synthetic_dataset(cfg) -> Optional[Dict]:
    """Generate the dataset into DATA.PATH_TO_DATA_DIR unless its lists are already there.

    Under torch.distributed, rank 0 generates while the others wait at a barrier (a rank
    that still finds nothing, e.g. on another machine's disk, then generates its own copy).
    Returns the meta dict when it generated, else None.
    """
    import torch.distributed as dist

    sc, data_dir = cfg.DATA.SYNTHETIC, cfg.DATA.PATH_TO_DATA_DIR
    if not data_dir:
        raise ValueError("DATA.PATH_TO_DATA_DIR is empty: set where the synthetic dataset goes")
    distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1

    def make():
        check_generator_target(data_dir, is_own_meta, "synthetic dataset")
        if is_complete(data_dir):
            _check_meta(cfg)
            return None
        logger.info("synthetic dataset not found in %s: generating it", data_dir)
        return generate(data_dir, sc.NUM_TRAIN, sc.NUM_VAL, sc.NUM_TEST, sc.NUM_FRAMES, sc.SIZE, sc.SEED,
                        variant=_variant(cfg))

    if not distributed:
        return make()
    meta = make() if dist.get_rank() == 0 else None
    dist.barrier()
    return meta if dist.get_rank() == 0 else make()


def _variant(cfg) -> str:
    """DATA.SYNTHETIC.VARIANT ("" where the config has no such key)."""
    return str(cfg.DATA.SYNTHETIC.get("VARIANT", "") or "")


def _check_meta(cfg) -> None:
    meta = read_meta(cfg.DATA.PATH_TO_DATA_DIR)
    sc = cfg.DATA.SYNTHETIC
    want = dict(num_frames=sc.NUM_FRAMES, size=sc.SIZE, seed=sc.SEED,
                counts={"train": sc.NUM_TRAIN, "val": sc.NUM_VAL, "test": sc.NUM_TEST})
    diff = {k: (meta.get(k), v) for k, v in want.items() if meta.get(k) != v}
    if meta.get("variant", "") != _variant(cfg):
        diff["variant"] = (meta.get("variant", ""), _variant(cfg))
    if diff:
        logger.warning("synthetic dataset in %s was generated with other settings %s (found, wanted); "
                       "using it as is (delete the folder to regenerate)", cfg.DATA.PATH_TO_DATA_DIR, diff)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="folder to write (lists, classnames.txt, videos/)")
    p.add_argument("--num-train", type=int, default=600)
    p.add_argument("--num-val", type=int, default=120)
    p.add_argument("--num-test", type=int, default=120)
    p.add_argument("--num-frames", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None, help="processes (default: up to 2)")
    p.add_argument("--variant", default="", choices=sorted(VARIANTS), help="appearance variant (default: the demo's)")
    p.add_argument("--force", action="store_true", help="regenerate even if the lists exist")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if is_complete(args.out) and not args.force:
        print(f"{args.out} already holds a dataset (use --force to regenerate)")
        return
    try:
        check_generator_target(os.path.abspath(args.out), is_own_meta, "synthetic dataset")
    except ValueError as e:
        raise SystemExit(f"error: {e}")
    generate(args.out, args.num_train, args.num_val, args.num_test, args.num_frames, args.size, args.seed,
             args.workers, args.variant)


if __name__ == "__main__":
    main()
