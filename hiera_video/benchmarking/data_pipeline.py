"""What one CPU core can feed: this project's input pipeline against pytorchvideo's, same files.

Three kinds of work, each as a model consumes it:

* ``train``: one training item of the config's recipe (the Kinetics Hiera-B recipe: 16x4 frames,
  224 random-resized crop, RandAugment, random erasing, repeated augmentation 2): decode once,
  augment ``AUG.NUM_SAMPLE`` times. Counted in clips.
* ``test``: one 5x3-view test video (5 temporal clips x 3 spatial crops). Counted in videos
  (x15 views).
* ``extract``: sliding windows over a whole video at a stride of one window (feature
  extraction). Counted in windows.

pytorchvideo's side does the same work its own way: ``EncodedVideo`` (its pyav or decord
decoder) and its clip samplers (``random``, ``constant_clips_per_video``, ``uniform``), every
frame of the window decoded to float, then the same frame subsampling and the same transforms
(``ProjectClipTransform``), so the ratio measures decoding and sampling.

Per core: the process is pinned to one CPU and torch uses one thread; a DataLoader worker is
such a process, so a machine with N cores for loading feeds about N x the rate. Timing:
``rounds`` rounds, each running every variant once over the same videos in turn (interleaved),
after one warm-up item per variant; the figure is the median of the rounds' rates.
"""
import contextlib
import os
import statistics
import tempfile
import time
from typing import Callable, Dict, Iterator, List, Sequence

import numpy as np
import torch

from hiera_video.synthetic.mp4 import write_mp4

WORK = ("train", "test", "extract")
UNITS = {"train": "clips", "test": "videos", "extract": "windows"}


@contextlib.contextmanager
def one_core():
    """Pin this process to one CPU and torch to one thread, restoring both after."""
    threads = torch.get_num_threads()
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    torch.set_num_threads(1)
    if cpus:
        os.sched_setaffinity(0, {min(cpus)})
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        if cpus:
            os.sched_setaffinity(0, cpus)


def write_sample_videos(out_dir: str, num_videos: int = 1, seconds: float = 4.0, short_side: int = 320,
                        fps: int = 30, seed: int = 0) -> List[str]:
    """Smooth moving-texture H.264 clips of ``short_side`` x 16:9 (a stand-in for resized Kinetics)."""
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


def benchmark_videos(out_dir: str, num_generated: int, seconds: float, real_dir: str = "") -> List[str]:
    """``num_generated`` 320p H.264 files of ``seconds`` (a stand-in for resized Kinetics) and
    every video file in ``real_dir``."""
    paths = write_sample_videos(out_dir, num_videos=num_generated, seconds=seconds)
    if real_dir and os.path.isdir(real_dir):
        paths += sorted(os.path.join(real_dir, f) for f in os.listdir(real_dir)
                        if f.lower().endswith((".mp4", ".webm", ".mkv", ".avi")))
    return paths


def _ours(cfg, work: str, backend: str, videos: Sequence[str]) -> Callable[[int], int]:
    """Item ``i`` -> units of work done, through this project's dataset (train/test) or extractor."""
    from hiera_video.data.loader import build_dataset
    from hiera_video.inference.extract import window_clips

    cfg = cfg.clone()
    cfg.defrost()
    cfg.DATA.DECODING_BACKEND = backend
    if work == "extract":
        stride = cfg.DATA.NUM_FRAMES * cfg.DATA.SAMPLING_RATE / cfg.DATA.TARGET_FPS

        def extract(i):
            _, clips = window_clips(videos[i], cfg, stride, 1)
            return sum(1 for _ in clips)
        return extract
    folder = tempfile.mkdtemp(prefix="hiera_video_data_bench_")
    split = "train" if work == "train" else "test"
    with open(os.path.join(folder, f"{split}.csv"), "w") as f:
        f.writelines(f"{os.path.abspath(v)} 0\n" for v in videos)
    cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.PATH_PREFIX = folder, ""
    dataset = build_dataset(cfg, split)
    if work == "train":
        return lambda i: max(cfg.AUG.NUM_SAMPLE, 1) if dataset[i] is not None else 0
    return lambda i: 1 if dataset[i] is not None else 0


def _pytorchvideo(cfg, work: str, backend: str, videos: Sequence[str]) -> Callable[[int], int]:
    """The same work through pytorchvideo's ``EncodedVideo`` and clip samplers."""
    from pytorchvideo.data import make_clip_sampler
    from pytorchvideo.data.encoded_video import EncodedVideo

    from hiera_video.data import transforms as T
    from hiera_video.data.pytorchvideo_interop import ProjectClipTransform

    seconds = cfg.DATA.NUM_FRAMES * cfg.DATA.SAMPLING_RATE / cfg.DATA.TARGET_FPS
    train = work == "train"
    transform = ProjectClipTransform(cfg, train=train)
    resize = T.build_eval_transform(cfg)
    crops = cfg.TEST.NUM_SPATIAL_CROPS
    sampler = {"train": make_clip_sampler("random", seconds),
               "test": make_clip_sampler("constant_clips_per_video", seconds, cfg.TEST.NUM_ENSEMBLE_VIEWS),
               "extract": make_clip_sampler("uniform", seconds)}[work]

    def clips(video) -> Iterator[torch.Tensor]:
        """float [C, T', H, W] windows as the sampler picks them, each decoded on its own."""
        last = 0.0
        while True:
            info = sampler(last, float(video.duration), None)
            start, end, last_clip = info[0], info[1], info[4]
            clip = video.get_clip(float(start), float(end))
            if clip["video"] is not None:
                yield clip["video"]
            last = float(end)
            if last_clip or train:
                return

    def item(i: int) -> int:
        video = EncodedVideo.from_path(videos[i], decode_audio=False, decoder=backend)
        try:
            if work == "train":
                frames = next(clips(video))
                for _ in range(cfg.AUG.NUM_SAMPLE):
                    transform({"video": frames})
                return cfg.AUG.NUM_SAMPLE
            done = 0
            for frames in clips(video):
                idx = torch.linspace(0, frames.shape[1] - 1, cfg.DATA.NUM_FRAMES).round().long()
                uint8 = frames[:, idx].permute(1, 0, 2, 3).round().clamp(0, 255).to(torch.uint8)
                clip = resize(T.as_video(uint8))
                n = crops if work == "test" else 1
                for c in range(n):
                    T.to_model_layout(T.spatial_crop(clip, cfg.DATA.TEST_CROP_SIZE, c if n > 1 else 1, max(n, 1)))
                done += 1
            return 1 if work == "test" else done
        finally:
            video.close()
    return item


def _rate(run: Callable[[int], int], items: Sequence[int], pyav_threads: str) -> float:
    from hiera_video.data import video_decoding

    video_decoding.PYAV_THREAD_TYPE = pyav_threads
    try:
        start, units = time.perf_counter(), 0
        for i in items:
            units += run(i)
        return units / (time.perf_counter() - start)
    finally:
        video_decoding.PYAV_THREAD_TYPE = "SLICE"


PYTORCHVIDEO_DECODERS = ("pyav", "decord")


def variants_for(backends: Sequence[str], pyav_threads: Sequence[str]) -> List[Dict]:
    """(pipeline, backend, FFmpeg threading) to time: ours for every backend (pyav once per
    thread type), pytorchvideo's for the decoders it has."""
    out = []
    for backend in backends:
        for threads in (pyav_threads if backend == "pyav" else ["-"]):
            out.append(dict(pipeline="hiera_video", backend=backend, pyav_threads=threads))
    out += [dict(pipeline="pytorchvideo", backend=b, pyav_threads="pytorchvideo's")
            for b in PYTORCHVIDEO_DECODERS if b in backends]
    return out


def measure_pipelines(cfg, videos: Sequence[str], work: Sequence[str] = WORK,
                      backends: Sequence[str] = ("pyav", "decord"), pyav_threads: Sequence[str] = ("SLICE",),
                      rounds: int = 3) -> List[Dict]:
    """One row per (work, variant): units/s on one core, the median over ``rounds`` rounds in
    which every variant runs once over ``videos`` (interleaved), and the ratio to
    pytorchvideo's pipeline on the same decoder (pyav's for a decoder pytorchvideo lacks)."""
    rows = []
    with one_core():
        for kind in work:
            variants = variants_for(backends, pyav_threads)
            runs = [(_ours if v["pipeline"] == "hiera_video" else _pytorchvideo)(cfg, kind, v["backend"], videos)
                    for v in variants]
            for run, v in zip(runs, variants):
                _rate(run, [0], v["pyav_threads"] if v["pipeline"] == "hiera_video" else "SLICE")  # warm-up
            rates = [[] for _ in variants]
            for _ in range(rounds):
                for run, v, r in zip(runs, variants, rates):
                    r.append(_rate(run, range(len(videos)),
                                   v["pyav_threads"] if v["pipeline"] == "hiera_video" else "SLICE"))
            medians = [statistics.median(r) for r in rates]
            theirs = {v["backend"]: m for v, m in zip(variants, medians) if v["pipeline"] == "pytorchvideo"}
            for v, m, r in zip(variants, medians, rates):
                base = theirs.get(v["backend"], theirs.get("pyav"))
                rows.append(dict(work=kind, unit=UNITS[kind], **v, per_core=round(m, 3),
                                 rounds=[round(x, 3) for x in r], videos=len(videos),
                                 ratio_vs_pytorchvideo=round(m / base, 2) if base else None))
    return rows


# Model side of the budget: the paper's table 17 (A100, fp16, inference, clips/s). A training
# step (forward + backward) costs about 3 forwards, so a GPU trains about a third as many clips.
PAPER_A100_FP16_CLIPS_PER_S = {"B": 133.6, "L": 40.8}
TRAIN_COST_IN_FORWARDS = 3.0
SETUPS = {"1 GPU + 16 cores": (1, 16), "8 GPUs + 96 cores": (8, 96)}


def budget_rows(per_core: Dict[str, float], views_per_video: int = 15,
                model_clips_per_s: Dict[str, float] = PAPER_A100_FP16_CLIPS_PER_S) -> List[Dict]:
    """Where the loader becomes the bottleneck. ``per_core``: the loader's rate on one core per
    work (train clips/s, test videos/s, extract windows/s). One row per (setup, size, work):
    what the GPUs consume, what the cores supply (all of them loading), which is the bottleneck
    and how many cores would keep the GPUs fed."""
    rows = []
    for setup, (gpus, cores) in SETUPS.items():
        for size, infer in model_clips_per_s.items():
            need = {"train": gpus * infer / TRAIN_COST_IN_FORWARDS,
                    "test": gpus * infer / views_per_video,
                    "extract": gpus * infer}
            for work, rate in per_core.items():
                supply = cores * rate
                rows.append(dict(setup=setup, size=size, work=work, unit=UNITS[work],
                                 model_needs=round(need[work], 1), loader_supplies=round(supply, 1),
                                 bottleneck="loader" if supply < need[work] else "model",
                                 cores_to_feed=round(need[work] / rate, 1)))
    return rows


def default_backends() -> List[str]:
    backends = ["pyav", "decord"]
    try:
        import torchcodec.decoders as decoders  # needs FFmpeg's shared libraries too
        backends += ["torchcodec"] if hasattr(decoders, "VideoDecoder") else []
    except (ImportError, RuntimeError, OSError):
        pass
    return backends


def run_data_benchmark(args) -> List[Dict]:
    """``tools/benchmark.py --data``: time, print both tables, return the rows (pipeline rows,
    then budget rows with ``budget=True``)."""
    from hiera_video.config.defaults import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(args.data_cfg)
    with tempfile.TemporaryDirectory(prefix="hiera_video_data_bench_") as folder:
        videos = benchmark_videos(folder, args.data_videos, args.data_seconds, args.data_real)
        rows = measure_pipelines(cfg, videos, backends=args.backends or default_backends(),
                                 pyav_threads=args.pyav_threads, rounds=args.repeats)
    print(f"\nper core ({len(videos)} videos: {args.data_videos} generated 320p x {args.data_seconds:g} s"
          f"{', + ' + args.data_real if args.data_real else ''}; {cfg.DATA.NUM_FRAMES}x{cfg.DATA.SAMPLING_RATE}, "
          f"{cfg.DATA.TRAIN_CROP_SIZE} crop, AUG.NUM_SAMPLE {cfg.AUG.NUM_SAMPLE}; median of {args.repeats} rounds)")
    print(f"{'work':8s} {'pipeline':13s} {'backend':11s} {'threads':15s} {'per core':>9s} {'unit':8s} {'vs pytorchvideo':>16s}")
    for r in rows:
        ratio = f"{r['ratio_vs_pytorchvideo']:.2f}x" if r["ratio_vs_pytorchvideo"] else "-"
        print(f"{r['work']:8s} {r['pipeline']:13s} {r['backend']:11s} {r['pyav_threads']:15s} {r['per_core']:9.2f} "
              f"{r['unit']:8s} {ratio:>16s}")
    best = {}
    for r in rows:
        if r["pipeline"] == "hiera_video":
            best[r["work"]] = max(best.get(r["work"], 0.0), r["per_core"])
    budget = budget_rows(best, cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS)
    print("\nGPU budget (model: paper table 17, A100 fp16; training = inference / 3; loader: the best per-core rate "
          "above x all cores)")
    print(f"{'setup':18s} {'size':4s} {'work':8s} {'model needs':>12s} {'loader gives':>13s} {'unit':8s} "
          f"{'bottleneck':10s} {'cores to feed':>13s}")
    for r in budget:
        print(f"{r['setup']:18s} {r['size']:4s} {r['work']:8s} {r['model_needs']:12.1f} {r['loader_supplies']:13.1f} "
              f"{r['unit']:8s} {r['bottleneck']:10s} {r['cores_to_feed']:13.1f}")
    return rows + [dict(r, budget=True) for r in budget]
