"""``hiera-app`` (or ``python tools/app.py``): a local web page to try a model on your own videos.

    hiera-app --cfg configs/Synthetic/HIERA_TINY_DEMO.yaml \\
        --checkpoint runs/synthetic_demo/checkpoints/checkpoint_epoch_00020.pyth     # http://127.0.0.1:7860
    hiera-app --cfg configs/Kinetics/HIERA_B_16x4_K400.yaml --checkpoint mae_k400_ft_k400
    hiera-app --cfg configs/Synthetic/MAE_TINY_DEMO.yaml --checkpoint runs/synthetic_mae/checkpoints/...

Upload a video (or record one with the webcam, or pick an example) and see the top-5 with the
frames the model saw, the timeline of a long video, its clip features (.npy) or, for an MAE
checkpoint, its reconstruction. The checkpoint is loaded as hiera-demo, hiera-extract and
hiera-visualize-mae load it (a release tag, a release file, a project checkpoint); class names
come from the checkpoint. One job runs at a time; others wait in a queue of --queue-size.
Uploads and results live in one temporary folder: a session's files are deleted when its tab
closes, the folder when the app stops. Needs the [app] extra: pip install -e ".[app]".
"""
import argparse
import importlib.util
import logging
import os
import sys

import torch

from hiera_video.data.video_lists import list_path, read_video_list
from hiera_video.engine import load_config
from hiera_video.inference.precision import add_dtype_argument


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", dest="cfg_file", required=True, help="the config the checkpoint was trained with")
    p.add_argument("--checkpoint", default="", help="weights (release tag or file, project checkpoint); "
                                                     "default TEST.CHECKPOINT_FILE_PATH")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--example", action="append", default=None, metavar="VIDEO_OR_FOLDER",
                   help="an example video, or a folder of them (repeatable; default: the first 6 videos of "
                        "DATA.PATH_TO_DATA_DIR/test.csv)")
    p.add_argument("--max-upload-mb", type=float, default=500.0, help="largest video accepted, in MB")
    p.add_argument("--max-duration", type=float, default=600.0, help="longest video accepted, in seconds")
    p.add_argument("--queue-size", type=int, default=8, help="jobs that may wait while one runs; more are refused")
    p.add_argument("--max-file-age", type=int, default=3600,
                   help="seconds after which uploads that no session end removed are swept away")
    p.add_argument("--workdir", default="", help="where the app's temporary folder goes (default: the system's)")
    add_dtype_argument(p)
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up probes
    for name in ("max_upload_mb", "max_duration", "queue_size", "max_file_age"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if importlib.util.find_spec("gradio") is None:  # not imported here: it must see the app's folder first
        sys.exit('error: hiera-app needs Gradio: pip install -e ".[app]"')
    cfg = load_config(args.cfg_file, args.opts, validate=False)
    checkpoint = args.checkpoint or cfg.TEST.CHECKPOINT_FILE_PATH
    if not checkpoint:
        p.error("give --checkpoint (or TEST.CHECKPOINT_FILE_PATH in the config)")
    examples = find_examples(cfg, args.example)
    from hiera_video.app.checks import Limits
    from hiera_video.app.server import ServeOptions, serve

    device = "cuda" if torch.cuda.is_available() and cfg.NUM_GPUS > 0 else "cpu"
    options = ServeOptions(args.host, args.port, Limits(args.max_upload_mb, args.max_duration), args.queue_size,
                           args.max_file_age, args.workdir, device, args.dtype)
    try:
        serve(cfg, checkpoint, examples, options, args.cfg_file)
    except ValueError as e:
        sys.exit(f"error: {e}")


def find_examples(cfg, given, limit: int = 6):
    """The videos given (folders: their files, sorted), or the first ``limit`` of the config's test
    (else val) list when it exists; missing paths are an error."""
    if given is not None:
        videos = []
        for path in given:
            if os.path.isdir(path):
                videos += sorted(os.path.join(path, f) for f in os.listdir(path)
                                 if os.path.isfile(os.path.join(path, f)))
            elif os.path.isfile(path):
                videos.append(path)
            else:
                raise SystemExit(f"error: --example: '{path}' is neither a video file nor a folder")
        return videos
    for split in ("test", "val"):
        try:
            paths, _ = read_video_list(list_path(cfg.DATA.PATH_TO_DATA_DIR, split), cfg.DATA.PATH_LABEL_SEPARATOR,
                                       cfg.DATA.PATH_PREFIX)
        except (OSError, ValueError):
            continue
        return [v for v in paths[:limit] if os.path.isfile(v)]
    return []


if __name__ == "__main__":
    main()
