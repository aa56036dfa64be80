"""Look at what an MAE checkpoint reconstructs.

    python tools/visualize_mae.py --checkpoint runs/synthetic_mae/checkpoints/checkpoint_epoch_00020.pyth \\
        --video data/synthetic/videos/val/00000.mp4 --out mae.png
    python tools/visualize_mae.py --checkpoint mae_hiera_base_16x224.pth --video clip.mp4 --out mae.png
    python tools/visualize_mae.py --cfg configs/MAE/MAE_HIERA_B_16x4_K400.yaml --checkpoint run/ckpt.pyth --video clip.mp4

Writes a PNG grid with one column per predicted time step (the first frame of each
2-frame token) and three rows: the original frames, the masked input (deleted mask
units filled with the dataset mean colour) and the reconstruction (predicted masked
patches, visible patches pasted back). The drawing is ``inference/mae_reconstruction``'s,
which the web app (``hiera-app``) shows too.

Where the settings come from, later wins:

1. a checkpoint of this project's runs carries its ``cfg``: the model is built from it as
   ``TASK mae`` built it (MODEL.*, HIERA.* sizes and decoder, MASK.MASK_RATIO / TARGET /
   NORM_PIX_LOSS, the clip shape DATA.NUM_FRAMES / TRAIN_CROP_SIZE), and the clip is read
   with its DATA.SAMPLING_RATE and normalised with its DATA.MEAN / DATA.STD;
   a file without one (the release's) is read from its tensor shapes (heads leave no
   trace there: the release's 16 decoder heads, normalised pixels, mask ratio 0.9 for
   video, 16x4 sampling, ImageNet mean / std), or from ``--model``'s named config;
2. ``--cfg FILE``: that config instead of the stored one;
3. ``--override KEY=VALUE`` (any constructor argument, e.g. ``decoder_num_heads=8`` or
   ``norm_pix_loss=False``), ``--mask-ratio``, ``--sampling-rate``.

Plain-pixel predictions are drawn as they are; normalised-pixel predictions
(``norm_pix_loss``) are un-normalised with each original patch's own mean and std, as in
the MAE papers' figures. The tool prints the settings it used.
"""

import argparse
import ast
import logging
import os
import sys

from hiera_video.cli.common import user_errors
from hiera_video.data.video_decoding import VideoDecodeError
from hiera_video.inference.mae_reconstruction import cfg_from_file, describe, load_mae, picture
# Names scripts and tests reach through this tool since the drawing lived here.
from hiera_video.inference.mae_reconstruction import build_model, read_clip, render, stored_cfg  # noqa: F401


def parse_overrides(items, parser) -> dict:
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--override expects KEY=VALUE, got '{item}'")
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    return overrides


@user_errors("hiera-visualize-mae")
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", default="", help="project config (YAML) to use instead of the checkpoint's own")
    parser.add_argument("--checkpoint", required=True, help="MAE checkpoint {'model_state': state_dict[, 'cfg']}")
    parser.add_argument("--video", required=True, help="video file to reconstruct")
    parser.add_argument("--out", default="mae_reconstruction.png", help="PNG to write")
    parser.add_argument("--model", default="", help="named MAE config (default: from the cfg or the checkpoint)")
    parser.add_argument("--override", nargs="*", default=[], metavar="KEY=VALUE",
                        help="constructor overrides, Python literals, e.g. decoder_num_heads=16")
    parser.add_argument("--mask-ratio", type=float, default=None, help="default: the cfg's MASK.MASK_RATIO")
    parser.add_argument("--sampling-rate", type=int, default=None, help="default: the cfg's DATA.SAMPLING_RATE")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random mask")
    parser.add_argument("--scale", type=int, default=1, help="draw each pixel as SCALE x SCALE (small inputs)")
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error(f"--scale must be a positive integer, got {args.scale}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    overrides = parse_overrides(args.override, parser)
    try:
        cfg = cfg_from_file(args.cfg) if args.cfg else None
        model, settings = load_mae(args.checkpoint, cfg, args.cfg, args.model, overrides)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        sys.exit(f"hiera-visualize-mae: error: {e}")
    settings.sampling_rate = args.sampling_rate or settings.sampling_rate
    mask_ratio = args.mask_ratio if args.mask_ratio is not None else model.mask_ratio
    try:
        grid = picture(model, args.video, settings, mask_ratio, args.seed, args.scale)
    except VideoDecodeError as e:
        sys.exit(f"hiera-visualize-mae: error: {e}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    plt.imsave(args.out, grid)
    steps = grid.shape[1] // (model.input_size[-1] * args.scale)
    print(describe(model, settings, mask_ratio))
    print(f"wrote {args.out}: rows original / masked input / reconstruction, {steps} time steps")


if __name__ == "__main__":
    sys.exit(main())
