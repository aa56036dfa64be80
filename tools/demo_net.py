"""Top-5 classes of a model on your own video (CPU is fine).

    python tools/demo_net.py --cfg configs/Synthetic/HIERA_TINY_DEMO.yaml --checkpoint CKPT --video clip.mp4
    python tools/demo_net.py --cfg ... --checkpoint CKPT --video clip.mp4 --output clip_top5.mp4

Multi-view by default (TEST.NUM_ENSEMBLE_VIEWS clips x TEST.NUM_SPATIAL_CROPS crops, softmax
averaged); class names from DATA.CLASS_NAMES_FILE or the dataset's classnames.txt.
"""
import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from hiera_video.config import load_config  # noqa: E402
from hiera_video.data.video_decoding import VideoDecodeError  # noqa: E402
from hiera_video.data.video_lists import find_class_names  # noqa: E402
from hiera_video.engine.build import build_model, load_test_weights  # noqa: E402
from hiera_video.inference.extract import extract_features  # noqa: E402
from hiera_video.inference.predict import predict_video, top_k, write_overlay  # noqa: E402

logger = logging.getLogger("demo")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", dest="cfg_file", required=True, help="the config the checkpoint was trained with")
    p.add_argument("--checkpoint", default="", help="weights (official or this project's); default TEST.CHECKPOINT_FILE_PATH")
    p.add_argument("--video", required=True, help="video file")
    p.add_argument("--output", default="", help="also write the video with the top-5 of each window overlaid (.mp4)")
    p.add_argument("--single-view", action="store_true", help="one centre clip and crop instead of the multi-view test")
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    cfg = load_config(argparse.Namespace(cfg_file=args.cfg_file, opts=args.opts, init_method=None, num_shards=None,
                                         shard_id=None), validate=False)
    checkpoint = args.checkpoint or cfg.TEST.CHECKPOINT_FILE_PATH
    if not checkpoint:
        p.error("give --checkpoint (or TEST.CHECKPOINT_FILE_PATH in the config)")
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.NUM_GPUS > 0 else "cpu")
    model = build_model(cfg, for_test=True)
    load_test_weights(model, checkpoint)
    model = model.to(device).eval()
    names = find_class_names(cfg)
    if names is not None and len(names) != cfg.MODEL.NUM_CLASSES:
        logger.warning("the class-name file has %d names but the model has %d classes; printing indices",
                       len(names), cfg.MODEL.NUM_CLASSES)
        names = None
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


if __name__ == "__main__":
    main()
