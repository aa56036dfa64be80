"""Train and/or test a Hiera video model (PySlowFast command line).

    hiera-run --cfg configs/Synthetic/HIERA_TINY_DEMO.yaml [KEY VALUE ...]
    hiera-run --cfg CFG TRAIN.ENABLE False TEST.CHECKPOINT_FILE_PATH ckpt.pyth
    # several machines: --init_method tcp://HOST:PORT --num_shards N --shard_id I; or torchrun

``python tools/run_net.py`` is the same command.
"""
import os
import sys

from hiera_video.config import ConfigError, parse_args
from hiera_video.data.loader import TooManyBadVideos
from hiera_video.engine import load_config, task_class
from hiera_video.engine.checkpoint import CheckpointError
from hiera_video.engine.distributed import DeviceError, LostProcessError, launch_job
from hiera_video.engine.runner import run
from hiera_video.engine.train import TrainingStopped
from hiera_video.visualization import make_run_plots


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args)
        launch_job(cfg, run, init_method=args.init_method)
        pictures = cfg.TRAIN.ENABLE or cfg.TEST.ENABLE and task_class(cfg.TASK).test_plots
        if pictures and cfg.SHARD_ID == 0 and os.environ.get("RANK", "0") == "0":  # one writer (torchrun too)
            for what, path in make_run_plots(cfg.OUTPUT_DIR).items():
                print(f"{what}: {path}")
    except (ConfigError, DeviceError, FileNotFoundError, TrainingStopped, TooManyBadVideos, CheckpointError,
            LostProcessError) as e:
        print(f"run_net: error: {e}", file=sys.stderr)
        return 1
    return 0
