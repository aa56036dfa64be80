"""Extraction over many videos: clips batched across videos, decode in loader workers,
one shard of the video list per process, resumable (see ``writer``)."""
import logging
import os
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from tqdm import tqdm

from hiera_video.data.video_decoding import VideoDecodeError

from .extract import run_clips, window_clips
from .writer import NpyWriter, output_names

logger = logging.getLogger(__name__)
FOLDER_REASON = "a folder: extraction does not search subfolders (pass it as --videos to extract its files)"


def list_videos(spec: str, exclude: Sequence[str] = ()) -> List[str]:
    """A folder (every entry in it, so that each one ends up in index.json: files that are not
    videos are reported as failed, subfolders as skipped; ``exclude`` leaves paths such as the
    output folder out), a text list (one path per line, optional label after it) or one video."""
    if os.path.isdir(spec):
        skip = {os.path.realpath(p) for p in exclude}
        videos = sorted(os.path.join(spec, f) for f in os.listdir(spec)
                        if os.path.realpath(os.path.join(spec, f)) not in skip)
    elif spec.lower().endswith((".txt", ".csv", ".lst")):
        with open(spec) as f:
            videos = [line.split()[0] for line in f if line.strip()]
    elif os.path.isfile(spec):
        videos = [spec]
    else:
        raise FileNotFoundError(f"--videos '{spec}' is neither a folder, a list file (.txt/.csv) nor a video file")
    if not videos:
        raise ValueError(f"--videos '{spec}' is an empty folder or list")
    output_names(videos)  # fails early when two videos would write the same files
    return videos


class WindowStream(IterableDataset):
    """Yields, per video, its clips ``[crops, C, T, S, S]`` (with info), or one failure item."""

    def __init__(self, videos: List[str], cfg, stride_sec: float, num_crops: int):
        self.videos, self.cfg, self.stride_sec, self.num_crops = videos, cfg, stride_sec, num_crops

    def __iter__(self):
        worker = get_worker_info()
        ids = range(len(self.videos)) if worker is None else range(worker.id, len(self.videos), worker.num_workers)
        for i in ids:
            path = self.videos[i]
            try:
                info, clips = window_clips(path, self.cfg, self.stride_sec, self.num_crops)
                for j, clip in enumerate(clips):
                    yield dict(video=i, clip=j, data=clip, info=info)
            except VideoDecodeError as e:
                yield dict(video=i, error=e.reason)
            except Exception as e:  # noqa: BLE001 - one bad file must not stop the run
                yield dict(video=i, error=f"{type(e).__name__}: {e}")


def run_extraction(model, videos: List[str], cfg, out_dir: str, stride_sec: float = 0.0, num_crops: int = 1,
                   stage: Optional[int] = None, logits: bool = False, batch_size: int = 8, num_workers: int = 0,
                   rank: int = 0, world_size: int = 1, progress: bool = True) -> Dict[str, int]:
    """Extract every video of this process's shard into ``out_dir``; skip finished ones.

    Returns counts: ``done`` (this run), ``skipped`` (already finished), ``failed``, ``clips``.
    """
    os.makedirs(out_dir, exist_ok=True)
    writer = NpyWriter(out_dir, videos)
    shard = videos[rank::world_size]
    for folder in [v for v in shard if os.path.isdir(v)]:
        writer.write_record(folder, dict(video=folder, status="skipped", reason=FOLDER_REASON, num_clips=0, fps=None,
                                         duration=None, features=None))
    todo = [v for v in shard if not os.path.isdir(v) and writer.done(v) is None]
    counts = dict(done=0, skipped=len(shard) - len(todo), failed=0, clips=0)
    if counts["skipped"]:
        logger.info("%d of %d entries already extracted or not videos' files (folders)", counts["skipped"], len(shard))
    if not todo:
        return counts
    device = next(model.parameters()).device
    loader = DataLoader(WindowStream(todo, cfg, stride_sec, num_crops), batch_size=None, num_workers=num_workers)
    pending: Dict[int, Dict] = {}  # video -> {"info", "parts": {clip: outputs}}
    batch: List[Dict] = []
    start = time.time()
    bar = tqdm(total=len(todo), unit="video", disable=not progress, dynamic_ncols=True)

    def flush():
        if not batch:
            return
        outputs = run_clips(model, torch.stack([b["data"] for b in batch]).to(device), stage, logits)
        for k, item in enumerate(batch):
            entry = pending.setdefault(item["video"], dict(info=item["info"], parts={}))
            entry["parts"][item["clip"]] = {key: value[k].float().cpu().numpy() for key, value in outputs.items()}
            if len(entry["parts"]) == len(entry["info"]["windows"]):
                finish(item["video"], pending.pop(item["video"]))
        batch.clear()

    def finish(i, entry):
        info, parts = entry["info"], entry["parts"]
        arrays = {key: np.stack([parts[c][key] for c in range(len(parts))]) for key in parts[0]}
        record = dict(video=todo[i], status="ok", reason=None, num_clips=len(parts), fps=info["fps"],
                      duration=info["duration"], padded=info["padded"], clip_times=[list(w) for w in info["windows"]])
        if info["padded"]:
            record["reason"] = "shorter than one window: frames padded by repeating the last one"
        writer.write(todo[i], arrays, record)
        counts["done"] += 1
        counts["clips"] += len(parts)
        tick()

    def tick():
        bar.update(1)
        elapsed = max(time.time() - start, 1e-9)
        bar.set_postfix(videos_s=f"{(counts['done'] + counts['failed']) / elapsed:.2f}",
                        clips_s=f"{counts['clips'] / elapsed:.2f}")

    for item in loader:
        if "error" in item:
            # A video can fail after some of its clips were queued: forget them.
            pending.pop(item["video"], None)
            batch[:] = [b for b in batch if b["video"] != item["video"]]
            logger.warning("skipping %s: %s", todo[item["video"]], item["error"])
            writer.write_record(todo[item["video"]], dict(video=todo[item["video"]], status="failed",
                                                           reason=item["error"], num_clips=0, fps=None,
                                                           duration=None, features=None))
            counts["failed"] += 1
            tick()
            continue
        batch.append(item)
        if len(batch) == batch_size:
            flush()
    flush()
    bar.close()
    counts["seconds"] = time.time() - start
    return counts
