"""``hiera-extract`` (or ``python tools/extract_features.py``): clip features of whole videos, for retrieval,
localisation or linear probes.

    hiera-extract --cfg CFG --checkpoint CKPT --videos DIR_OR_LIST_OR_FILE --out OUT
    torchrun --nproc_per_node 4 tools/extract_features.py ...        # the video list split over processes

For every video, windows of DATA.NUM_FRAMES frames DATA.SAMPLING_RATE apart slide over the
whole video (--stride seconds, default non-overlapping; the last window padded) at
DATA.TEST_CROP_SIZE. Writes OUT/<video>.npy ([num_clips, C]; --logits and --stage add
OUT/<video>.logits.npy and OUT/<video>.stage<k>.npy; --logits also prints each video's top-5
classes, by name when known), a record OUT/<video>.json and
OUT/index.json; --format hdf5 also packs everything into OUT/features.h5. Rerunning skips
finished videos; a video that fails to decode is listed with the reason and the run goes on.
"""
import argparse
import logging
import os
import sys

import numpy as np
import torch
import torch.distributed as dist

from hiera_video.engine import load_config
from hiera_video.data.video_lists import find_class_names
from hiera_video.engine.build import build_model, load_train_init
from hiera_video.inference.pipeline import list_videos, run_extraction
from hiera_video.inference.precision import add_dtype_argument, for_inference
from hiera_video.inference.predict import top_k
from hiera_video.inference.writer import NpyWriter, video_name, write_hdf5, write_index
from hiera_video.utils.collectives import get_rank, get_world_size
from hiera_video.utils.io import check_writable
from hiera_video.cli.common import user_errors

logger = logging.getLogger("extract")


@user_errors("hiera-extract")
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", dest="cfg_file", required=True)
    p.add_argument("--checkpoint", required=True, help="official or project checkpoint (a classifier or MAE encoder)")
    p.add_argument("--videos", required=True, help="a folder, a list file (one path per line) or one video")
    p.add_argument("--out", required=True)
    p.add_argument("--stride", type=float, default=0.0, help="seconds between window starts (0 = window length)")
    p.add_argument("--crops", type=int, default=1, choices=[1, 3], help="centre crop, or 3 crops averaged")
    p.add_argument("--stage", type=int, default=0, choices=[0, 1, 2, 3, 4], help="also save this stage's maps")
    p.add_argument("--logits", action="store_true", help="also save the classifier's logits")
    p.add_argument("--format", default="npy", choices=["npy", "hdf5"])
    p.add_argument("--batch-size", type=int, default=8, help="clips per forward, mixed across videos")
    p.add_argument("--workers", type=int, default=None, help="decoding workers (default DATA_LOADER.NUM_WORKERS)")
    add_dtype_argument(p)
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    cfg = load_config(args.cfg_file, args.opts, validate=False)
    if os.path.isdir(args.videos) and os.path.realpath(args.out) == os.path.realpath(args.videos):
        p.error("--out must not be the --videos folder (the outputs would mix with your videos)")
    videos = list_videos(args.videos, exclude=[args.out])
    check_writable(args.out)

    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:  # torchrun
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank, world = get_rank(), get_world_size()
    if torch.cuda.is_available() and cfg.NUM_GPUS > 0:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    else:
        device = torch.device("cpu")
    model = build_model(cfg, for_test=True)
    load_train_init(model, args.checkpoint)
    model = for_inference(model, device, args.dtype)

    counts = run_extraction(model, videos, cfg, args.out, stride_sec=args.stride, num_crops=args.crops,
                            stage=args.stage or None, logits=args.logits, batch_size=args.batch_size,
                            num_workers=cfg.DATA_LOADER.NUM_WORKERS if args.workers is None else args.workers,
                            rank=rank, world_size=world, progress=sys.stderr.isatty())
    logger.info("rank %d: %s", rank, counts)
    if world > 1:
        dist.barrier()
    if rank == 0:
        records = write_index(args.out, videos, NpyWriter(args.out, videos))
        status = [r["status"] for r in records]
        print(f"{status.count('ok')}/{len(records)} videos extracted, {status.count('failed')} failed, "
              f"{status.count('skipped')} skipped; index: {os.path.join(args.out, 'index.json')}")
        if args.format == "hdf5":
            print(f"wrote {write_hdf5(args.out, records)}")
        if args.logits:
            print_top_classes(records, find_class_names(cfg, args.checkpoint))
    if world > 1:
        dist.destroy_process_group()


def print_top_classes(records, names) -> None:
    """One line per extracted video: the top-5 classes of its clips' mean logits, by name when known."""
    for r in records:
        if r.get("status") == "ok" and r.get("logits"):
            probs = torch.from_numpy(np.load(r["logits"])).float().mean(0).softmax(-1)
            print(f"{r.get('name') or video_name(r['video'])}: " + ", ".join(f"{name} {p:.2f}" for _, name, p in top_k(probs, names)))
