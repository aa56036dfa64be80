"""Re-encode a video tree to a short side of 320 px (H.264 MP4) with PyAV: parallel, resumable.

    python datasets_prep/resize_videos.py --src /data/k400/raw --dst /data/k400/videos_320 --workers 16

Every video under ``--src`` (any file FFmpeg reads as a video: .mp4 .webm .mkv .avi .gif ...)
becomes ``--dst/<same relative path>.mp4``: short side ``--short-side`` (never upscaled; sides kept even), the source's
timestamps (variable frame rates survive), yuv420p, x264 ``--crf`` / ``--preset``, no
audio (the models do not use it). Originals are only read; ``--dst`` may not be inside
``--src`` or the other way round.

Resumable: a file is written as a hidden temporary beside its target and renamed when
complete, so an interrupted run leaves no half files, and a re-run skips finished ones.
Videos that cannot be decoded are listed in ``--dst/resize_failures.txt`` (path and
reason) and the run goes on. A tqdm progress bar shows done / skipped / failed.
"""
import argparse
import multiprocessing
import os
import sys
from typing import List, Tuple

def find_videos(src: str) -> List[str]:
    """Paths (relative to ``src``, sorted) of every file under ``src``: whatever FFmpeg cannot
    read as a video is reported in resize_failures.txt rather than silently left out."""
    out = []
    for folder, _, files in os.walk(src):
        out += [os.path.relpath(os.path.join(folder, f), src) for f in files]
    return sorted(out)


def target_names(rel: List[str]) -> List[str]:
    """``a/b.webm`` -> ``a/b.mp4``; where two sources would share a target (``b.webm``, ``b.mkv``)
    each keeps its extension (``b.webm.mp4``)."""
    stems = [os.path.splitext(r)[0] + ".mp4" for r in rel]
    return [s if stems.count(s) == 1 else r + ".mp4" for r, s in zip(rel, stems)]


def target_size(width: int, height: int, short_side: int) -> Tuple[int, int]:
    """(w, h) with the short side at ``short_side`` (no upscaling), both even."""
    scale = min(1.0, short_side / min(width, height))
    w, h = max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)
    return w, h


def resize_one(job: Tuple[str, str, int, int, str]) -> Tuple[str, str, str]:
    """Re-encode one file. Returns (status in done|skipped|failed, source path, reason)."""
    import av

    src, dst, short_side, crf, preset = job
    if os.path.exists(dst):
        return "skipped", src, ""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = os.path.join(os.path.dirname(dst), f".{os.path.basename(dst)}.tmp.mp4")
    try:
        with av.open(src) as inp:
            if not inp.streams.video:
                raise ValueError("no video stream")
            ist = inp.streams.video[0]
            ist.thread_type = "AUTO"
            w, h = target_size(ist.codec_context.width, ist.codec_context.height, short_side)
            rate = ist.average_rate or ist.guessed_rate or 30
            frames = 0
            with av.open(tmp, "w", format="mp4") as out:
                ost = out.add_stream("libx264", rate=rate)
                ost.width, ost.height, ost.pix_fmt = w, h, "yuv420p"
                ost.codec_context.time_base = ist.time_base
                ost.options = {"crf": str(crf), "preset": preset, "threads": "1"}
                last = None
                for frame in inp.decode(ist):
                    small = frame.reformat(width=w, height=h, format="yuv420p", interpolation="AREA")
                    pts = frame.pts if frame.pts is not None else (0 if last is None else last + 1)
                    if last is not None and pts <= last:
                        pts = last + 1  # keep timestamps strictly increasing for the muxer
                    small.pts, small.time_base, last = pts, ist.time_base, pts
                    for packet in ost.encode(small):
                        out.mux(packet)
                    frames += 1
                for packet in ost.encode():
                    out.mux(packet)
            if frames == 0:
                raise ValueError("no decodable frame")
        os.replace(tmp, dst)
        return "done", src, ""
    except Exception as e:  # a broken source costs a line in the report, not the run
        if os.path.exists(tmp):
            os.remove(tmp)
        return "failed", src, f"{type(e).__name__}: {e}".replace("\n", " ")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__)
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--short-side", type=int, default=320)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--crf", type=int, default=23)
    p.add_argument("--preset", default="fast")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in logs)")
    args = p.parse_args(argv)
    src, dst = os.path.realpath(args.src), os.path.realpath(args.dst)
    if not os.path.isdir(src):
        raise SystemExit(f"--src '{args.src}' is not a folder")
    if src == dst or dst.startswith(src + os.sep) or src.startswith(dst + os.sep):
        raise SystemExit(f"--dst '{args.dst}' must be outside --src '{args.src}' (and not contain it): "
                         "originals are never overwritten")
    rel = find_videos(src)
    jobs = [(os.path.join(src, r), os.path.join(dst, t), args.short_side, args.crf, args.preset)
            for r, t in zip(rel, target_names(rel))]
    os.makedirs(dst, exist_ok=True)
    from tqdm import tqdm

    counts = {"done": 0, "skipped": 0, "failed": 0}
    failures = []
    bar = tqdm(total=len(jobs), unit="video", disable=args.no_progress, dynamic_ncols=True)
    if args.workers > 1:
        pool = multiprocessing.get_context("spawn").Pool(args.workers)
        results = pool.imap_unordered(resize_one, jobs, chunksize=4)
    else:
        pool, results = None, map(resize_one, jobs)
    try:
        for status, path, reason in results:
            counts[status] += 1
            if status == "failed":
                failures.append(f"{path}\t{reason}\n")
            bar.update()
            bar.set_postfix(counts, refresh=False)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    with open(os.path.join(dst, "resize_failures.txt"), "w") as f:
        f.writelines(failures)
    print(f"{len(jobs)} videos: {counts['done']} resized, {counts['skipped']} already done, "
          f"{counts['failed']} failed (see {os.path.join(dst, 'resize_failures.txt')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
