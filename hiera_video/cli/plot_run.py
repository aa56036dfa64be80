"""Pictures of a finished (or running) run: training curves, confusion matrix, per-class accuracy.

    hiera-plot runs/synthetic_demo

Writes OUTPUT_DIR/training_curves.png (loss, lr, top-1 per epoch, from the json_stats lines of
stdout.log), and after a test OUTPUT_DIR/confusion_matrix.png and per_class_accuracy.csv.
hiera-run (tools/run_net.py) does this by itself at the end of a test.
"""
import argparse
import os
import sys

from hiera_video.visualization import make_run_plots
from hiera_video.cli.common import user_errors


@user_errors("hiera-plot")
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output_dir", help="the run's OUTPUT_DIR")
    p.add_argument("--predictions", default=None, help="per-video predictions (default: from test_results.json)")
    args = p.parse_args(argv)
    if not os.path.isdir(args.output_dir):
        sys.exit(f"error: {args.output_dir} is not a folder (give a run's OUTPUT_DIR)")
    written = make_run_plots(args.output_dir, args.predictions)
    if not written:
        sys.exit(f"error: nothing to plot in {args.output_dir}: no json_stats epochs in stdout.log, no test predictions")
    for what, path in written.items():
        print(f"{what}: {path}")

