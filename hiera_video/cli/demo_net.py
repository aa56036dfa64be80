"""``hiera-demo`` (or ``python tools/demo_net.py``): top-5 classes of a model on your own video (CPU is fine).

    hiera-demo --cfg configs/Synthetic/HIERA_TINY_DEMO.yaml --checkpoint CKPT --video clip.mp4
    hiera-demo --cfg ... --checkpoint CKPT --video clip.mp4 --output clip_top5.mp4
    hiera-demo --cfg ... --checkpoint CKPT --live /dev/video0 --display   # webcam
    ffmpeg -re -i clip.mp4 -f mpegts - | hiera-demo --cfg ... --checkpoint CKPT --live -
    hiera-demo --cfg ... --checkpoint CKPT --live udp://127.0.0.1:5000
    hiera-demo --cfg ... --checkpoint CKPT --timeline --video long.mp4 --out timeline/

Multi-view by default (TEST.NUM_ENSEMBLE_VIEWS clips x TEST.NUM_SPATIAL_CROPS crops, softmax
averaged); class names from the checkpoint (runs on class folders store them), else
DATA.CLASS_NAMES_FILE or the dataset's classnames.txt; MODEL.NUM_CLASSES 0 takes the checkpoint's.

--live SOURCE (a camera device, any URL FFmpeg opens, a file read at its own rate, or - for
stdin) prints one JSON line per prediction on the newest window (windows the model had no
time for are skipped, never queued) and a summary line at the end of the stream or on Ctrl-C.
--timeline slides the window over the whole video and writes timeline.jsonl, timeline.csv,
timeline.png and segments.json (runs of the same top class) into --out.
"""
import argparse
import json
import logging
import os
import signal
import sys

import torch

from hiera_video.engine import load_config
from hiera_video.data.video_decoding import VideoDecodeError
from hiera_video.engine.demo_model import load_classifier
from hiera_video.inference.extract import extract_features
from hiera_video.inference.live import run_live
from hiera_video.inference.live_display import open_display
from hiera_video.inference.live_source import LiveReader
from hiera_video.inference.precision import add_dtype_argument, for_inference
from hiera_video.inference.predict import predict_video, top_k, write_overlay
from hiera_video.inference.timeline import predict_timeline, write_timeline
from hiera_video.cli.common import user_errors

logger = logging.getLogger("demo")


@user_errors("hiera-demo")
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", dest="cfg_file", required=True, help="the config the checkpoint was trained with")
    p.add_argument("--checkpoint", default="", help="weights (official or this project's); default TEST.CHECKPOINT_FILE_PATH")
    p.add_argument("--video", default="", help="video file")
    p.add_argument("--output", default="", help="also write the video with the top-5 of each window overlaid (.mp4)")
    p.add_argument("--single-view", action="store_true", help="one centre clip and crop instead of the multi-view test")
    p.add_argument("--live", default="", metavar="SOURCE",
                   help="live source: /dev/videoN, an FFmpeg URL (udp://, rtsp://, http://), a file, or - (stdin)")
    p.add_argument("--format", default=None, help="--live: FFmpeg input format, e.g. v4l2, mpegts (default: guessed)")
    p.add_argument("--ffmpeg-option", action="append", default=[], metavar="KEY=VALUE",
                   help="--live: an FFmpeg input option, e.g. rtsp_transport=tcp, video_size=640x480 (repeatable)")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="--live: give up after this many seconds without a frame")
    p.add_argument("--display", action="store_true", help="--live: also draw the frames and top-5 in a window")
    p.add_argument("--timeline", action="store_true", help="scores over the whole --video into --out")
    p.add_argument("--out", default="timeline", help="--timeline: output folder")
    p.add_argument("--stride", type=float, default=None,
                   help="seconds between windows (--timeline default: the window length; --live: one model frame)")
    p.add_argument("--batch-size", type=int, default=8, help="--timeline: windows per forward pass")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads for the model (default: torch's; --live: all cores but one, left to decoding)")
    add_dtype_argument(p)
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    cfg = load_config(args.cfg_file, args.opts, validate=False)
    if bool(args.live) == bool(args.video):
        p.error("give --video FILE or --live SOURCE (one of them)")
    if args.timeline and not args.video:
        p.error("--timeline needs --video")
    if any("=" not in o for o in args.ffmpeg_option):
        p.error(f"--ffmpeg-option takes KEY=VALUE, got {[o for o in args.ffmpeg_option if '=' not in o]}")
    checkpoint = args.checkpoint or cfg.TEST.CHECKPOINT_FILE_PATH
    if not checkpoint:
        p.error("give --checkpoint (or TEST.CHECKPOINT_FILE_PATH in the config)")
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.NUM_GPUS > 0 else "cpu")
    model, names = load_classifier(cfg, checkpoint)  # names: stored, files, or the built-in K400 names
    model = for_inference(model, device, args.dtype)
    if args.threads or args.live:
        # Live: the reader thread decodes meanwhile; a model thread waiting on a busy core stalls every op.
        torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 2) - 1))
    if args.live:
        # Ctrl-C must stop a live run even when SIGINT came in ignored (a job started with `&`
        # by a non-interactive shell, or by a parent that ignores it): Python then installs no handler.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        code = live_demo(args, cfg, model, names)
        sys.stdout.flush()
        sys.stderr.flush()
        # The reader thread may sit inside FFmpeg's read of a pipe or socket that never closes; a
        # plain exit can wait on it at interpreter shutdown, so leave at once (all output is out).
        os._exit(code)
    if args.timeline:
        sys.exit(timeline_demo(args, cfg, model, names))
    views = (1, 1) if args.single_view else (cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS)
    try:
        probs = predict_video(model, args.video, cfg, *views)
    except VideoDecodeError as e:
        sys.exit(f"error: {e}")
    print(f"{args.video}: top-5 over {views[0]}x{views[1]} views")
    for rank, (idx, name, score) in enumerate(top_k(probs, names), 1):
        print(f"  {rank}. {name:30s} {score * 100:6.2f}%  (class {idx})")
    if args.output:
        result = extract_features(model, args.video, cfg, logits=True)
        labels = [top_k(torch.from_numpy(l).softmax(-1), names) for l in result["logits"]]
        write_overlay(args.video, args.output, [tuple(w) for w in result["clip_times"]], labels)
        print(f"wrote {args.output}")


def live_demo(args, cfg, model, names) -> int:
    """Run ``--live``; the exit status: 0 at the end of the stream or on Ctrl-C, 1 when it fails or stalls."""
    step = cfg.DATA.SAMPLING_RATE / cfg.DATA.TARGET_FPS
    stride = max(1, round((step if args.stride is None else args.stride) * cfg.DATA.TARGET_FPS))
    options = dict(o.split("=", 1) for o in args.ffmpeg_option)
    reader = LiveReader(args.live, cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TARGET_FPS, stride,
                        fmt=args.format, options=options, timeout=args.timeout)
    show = None
    if args.display:
        show, why = open_display(f"hiera_video: {args.live}")
        if show is None:
            logger.warning("--display: %s; printing JSON lines only", why)
    summary = run_live(model, reader, cfg, names, emit=lambda line: print(line, flush=True), show=show)
    s = summary.as_dict()
    print(json.dumps({"summary": s}), flush=True)
    if s["message"]:
        logger.log(logging.ERROR if s["stopped_by"] in ("error", "stalled") else logging.WARNING, s["message"])
    latency = f"{s['mean_latency_ms']} ms" if s["predicted"] else "n/a"
    logger.info("%s: %d windows, %d predicted, %d skipped, mean latency %s", s["stopped_by"], s["windows"],
                s["predicted"], s["skipped"], latency)
    return 1 if s["stopped_by"] in ("error", "stalled") else 0


def timeline_demo(args, cfg, model, names) -> int:
    """Run ``--timeline``: write the four files into ``--out`` and print the segments."""
    try:
        timeline = predict_timeline(model, args.video, cfg, stride_sec=args.stride or 0.0, batch_size=args.batch_size)
        paths, segments = write_timeline(args.out, args.video, timeline, names)
    except (VideoDecodeError, PermissionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{args.video}: {len(timeline['windows'])} windows, {len(segments)} segments")
    for seg in segments:
        print(f"  {seg['start']:8.2f} - {seg['end']:8.2f} s  {seg['class']:30s} mean score {seg['mean_score']:.3f}")
    print("wrote " + ", ".join(paths[k] for k in ("jsonl", "csv", "png", "segments")))
    return 0
