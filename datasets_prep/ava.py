"""AVA v2.2: frames at 30 fps from the raw movies (PyAV) and PySlowFast frame lists.

    # 1. frames/<vid>/<vid>_%06d.jpg of seconds 900-1800 (AVA's 15-minute window), short side 320
    python datasets_prep/ava.py extract --videos /data/ava/videos --out /data/ava/frames --short-side 320
    # 2. frame_lists/train.csv and val.csv for the videos of the official annotation files
    python datasets_prep/ava.py lists --frames /data/ava/frames --out /data/ava/frame_lists \\
        --train /data/ava/annotations/ava_train_v2.2.csv --val /data/ava/annotations/ava_val_v2.2.csv
    # 3. train / evaluate: python tools/run_net.py --cfg configs/AVA/HIERA_L_16x4_AVA.yaml DATA.PATH_TO_DATA_DIR /data/ava
    #    (annotations/ holds the official CSVs, predicted person boxes, label map and exclusions)

extract: every movie under ``--videos`` (``<video_id>.<ext>``, ext in mkv mp4 webm avi mov)
becomes ``--out/<video_id>/<video_id>_%06d.jpg``; image 000001 is second ``--start`` and
image k is ``--start + (k - 1) / --fps`` (the latest decoded frame at that time, as ffmpeg's
constant-rate output). ``--short-side`` scales (never up; 0 keeps the size). Resumable:
a video is written into a hidden temporary folder renamed when complete, so a re-run skips
finished videos and redoes interrupted ones. The movies are only read (``--out`` may not be
inside ``--videos`` or the other way round). Failures go to ``--out/extract_failures.txt``
and the run goes on; a tqdm bar shows progress.

lists: ``original_vido_id video_id frame_id path labels`` rows (space-separated, header
line, path relative to the frames folder, labels ``""``) for every video id of each
annotation CSV that has frames; ids without frames go to ``missing_<split>.txt``.
"""
import argparse
import csv
import multiprocessing
import os
import shutil
import sys
from typing import Dict, List, Tuple

VIDEO_EXTS = (".mkv", ".mp4", ".webm", ".avi", ".mov")


def find_movies(videos: str) -> Dict[str, str]:
    """``{video_id: path}`` of the movies under ``videos`` (id = file name without extension)."""
    out = {}
    for folder, _, files in os.walk(videos):
        for f in sorted(files):
            stem, ext = os.path.splitext(f)
            if ext.lower() in VIDEO_EXTS and stem not in out:
                out[stem] = os.path.join(folder, f)
    return dict(sorted(out.items()))


def _size(width: int, height: int, short_side: int) -> Tuple[int, int]:
    if short_side <= 0 or min(width, height) <= short_side:
        return width, height
    s = short_side / min(width, height)
    return max(1, int(round(width * s))), max(1, int(round(height * s)))


def extract_one(job: Tuple[str, str, str, float, float, float, int, int]) -> Tuple[str, str, str]:
    """Frames of one movie. Returns (status in done|skipped|failed, video id, reason)."""
    import av

    vid, path, out, start, end, fps, short_side, quality = job
    dst = os.path.join(out, vid)
    if os.path.isdir(dst):
        return "skipped", vid, ""
    tmp = os.path.join(out, f".{vid}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)  # left by an interrupted run
    os.makedirs(tmp)
    n_out = int(round((end - start) * fps))
    written = 0
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if start > 0:
                container.seek(int(max(0.0, start - 1.0) * av.time_base))  # a keyframe before start
            w, h = _size(stream.codec_context.width, stream.codec_context.height, short_side)
            held, image, last_time = None, None, None  # latest decoded frame, its RGB image (made lazily)

            def emit_until(t):  # outputs whose time is before t show the held frame
                nonlocal written, image
                while written < n_out and start + written / fps < t - 1e-6:
                    if image is None:
                        image = held.reformat(width=w, height=h, format="rgb24").to_image()
                    image.save(os.path.join(tmp, f"{vid}_{written + 1:06d}.jpg"), quality=quality)
                    written += 1

            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                if held is not None:
                    emit_until(frame.time)
                if written >= n_out:
                    break
                held, image, last_time = frame, None, frame.time
            if held is not None and written < n_out:  # the tail: the last frame lasts one source period
                rate = float(stream.average_rate or fps)
                emit_until(min(end, last_time + 1.0 / rate))
        if written == 0:
            raise ValueError(f"no frames between {start} s and {end} s")
        os.rename(tmp, dst)
        return "done", vid, "" if written == n_out else f"{written} of {n_out} frames (movie ends early)"
    except Exception as e:  # noqa: BLE001 - reported per file, the run goes on
        shutil.rmtree(tmp, ignore_errors=True)
        return "failed", vid, f"{type(e).__name__}: {e}"


def extract(videos: str, out: str, start: float = 900, end: float = 1800, fps: float = 30, short_side: int = 320,
            workers: int = 1, quality: int = 95, progress: bool = True) -> Dict[str, List]:
    """Extract every movie; returns ``{"done", "skipped", "failed"}`` lists (failed: (id, reason))."""
    videos, out = os.path.abspath(videos), os.path.abspath(out)
    for a, b in ((videos, out), (out, videos)):
        if os.path.commonpath([a, b]) == b:
            raise ValueError(f"--out {out} and --videos {videos} must not contain each other "
                             "(the movies are never written to)")
    movies = find_movies(videos)
    if not movies:
        raise FileNotFoundError(f"no movies ({' '.join(VIDEO_EXTS)}) under {videos}")
    os.makedirs(out, exist_ok=True)
    jobs = [(vid, p, out, start, end, fps, short_side, quality) for vid, p in movies.items()]
    from tqdm import tqdm

    res = {"done": [], "skipped": [], "failed": [], "short": []}
    bar = tqdm(total=len(jobs), unit="movie", disable=not progress, dynamic_ncols=True)
    pool = multiprocessing.get_context("spawn").Pool(workers) if workers > 1 else None
    try:
        for status, vid, reason in (pool.imap_unordered(extract_one, jobs) if pool else map(extract_one, jobs)):
            res[status].append((vid, reason) if status == "failed" else vid)
            if status == "done" and reason:
                res["short"].append((vid, reason))
            bar.update(1)
            bar.set_postfix(done=len(res["done"]), skipped=len(res["skipped"]), failed=len(res["failed"]))
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
    if res["failed"] or res["short"]:
        with open(os.path.join(out, "extract_failures.txt"), "a") as f:
            f.writelines(f"{vid}\t{why}\n" for vid, why in res["failed"] + res["short"])
    return res


def annotation_video_ids(path: str) -> List[str]:
    """Video ids of an official AVA CSV (first column), in first-seen order."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file not found: {path}")
    seen = {}
    with open(path) as f:
        for row in csv.reader(f):
            if row and row[0].strip():
                seen.setdefault(row[0].strip(), None)
    return list(seen)


def write_frame_list(frames: str, video_ids: List[str], path: str) -> List[str]:
    """PySlowFast frame list of ``video_ids`` (those with frames); returns the ids without frames."""
    missing, lines = [], ["original_vido_id video_id frame_id path labels\n"]
    index = 0
    for vid in video_ids:
        folder = os.path.join(frames, vid)
        names = sorted(n for n in os.listdir(folder) if n.endswith(".jpg")) if os.path.isdir(folder) else []
        if not names:
            missing.append(vid)
            continue
        lines += [f'{vid} {index} {i} {vid}/{n} ""\n' for i, n in enumerate(names)]
        index += 1
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.replace(tmp, path)
    return missing


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract", help="frames at --fps from the raw movies")
    e.add_argument("--videos", required=True)
    e.add_argument("--out", required=True, help="frames folder (frames/<vid>/<vid>_%%06d.jpg)")
    e.add_argument("--start", type=float, default=900.0, help="first second (AVA: 900)")
    e.add_argument("--end", type=float, default=1800.0, help="end second, exclusive (AVA: 1800)")
    e.add_argument("--fps", type=float, default=30.0)
    e.add_argument("--short-side", type=int, default=320, help="0 keeps the original size")
    e.add_argument("--quality", type=int, default=95, help="JPEG quality")
    e.add_argument("--workers", type=int, default=1)
    e.add_argument("--no-progress", action="store_true")
    li = sub.add_parser("lists", help="frame_lists/{train,val}.csv")
    li.add_argument("--frames", required=True)
    li.add_argument("--out", required=True, help="frame_lists folder")
    li.add_argument("--train", help="ava_train_v2.2.csv (its video ids)")
    li.add_argument("--val", help="ava_val_v2.2.csv")
    a = p.parse_args(argv)
    if a.cmd == "extract":
        res = extract(a.videos, a.out, a.start, a.end, a.fps, a.short_side, a.workers, a.quality, not a.no_progress)
        print(f"{sum(len(v) for k, v in res.items() if k != 'short')} movies: {len(res['done'])} extracted, "
              f"{len(res['skipped'])} already done, {len(res['failed'])} failed, {len(res['short'])} shorter than "
              f"the window" + (f" (see {os.path.join(a.out, 'extract_failures.txt')})"
                               if res["failed"] or res["short"] else ""))
        return 1 if res["failed"] else 0
    if not a.train and not a.val:
        p.error("lists needs --train and/or --val")
    for split, ann in (("train", a.train), ("val", a.val)):
        if not ann:
            continue
        ids = annotation_video_ids(ann)
        missing = write_frame_list(a.frames, ids, os.path.join(a.out, f"{split}.csv"))
        with open(os.path.join(a.out, f"missing_{split}.txt"), "w") as f:
            f.writelines(v + "\n" for v in missing)
        print(f"{split}: {len(ids) - len(missing)} of {len(ids)} videos listed"
              + (f", {len(missing)} without frames (missing_{split}.txt)" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
