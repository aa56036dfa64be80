"""Train and/or test a Hiera video model (PySlowFast command line).

    hiera-run --cfg configs/Synthetic/HIERA_TINY_DEMO.yaml [KEY VALUE ...]
    hiera-run --cfg CFG TRAIN.ENABLE False TEST.CHECKPOINT_FILE_PATH ckpt.pyth
    # several machines: --init_method tcp://HOST:PORT --num_shards N --shard_id I; or torchrun

``python tools/run_net.py`` is the same command.
"""
import os

from hiera_video import synthetic
from hiera_video.cli.common import user_errors
from hiera_video.config import parse_args
from hiera_video.data.loader import TooManyBadVideos
from hiera_video.engine import load_config, task_class
from hiera_video.engine.checkpoint import CheckpointError
from hiera_video.engine.launch import DeviceError, LostProcessError, launch_job
from hiera_video.engine.runner import run
from hiera_video.engine.trainer import TrainingStopped
from hiera_video.visualization import make_run_plots


def job(cfg):
    """What every process of the job runs: the engine, with the demo data generated first where the
    config asks for it (``synthetic.prepare``; ``data/`` only reads)."""
    return run(cfg, prepare=synthetic.prepare)


@user_errors("run_net", also=(DeviceError, TrainingStopped, TooManyBadVideos, CheckpointError, LostProcessError))
def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_config(args)
    launch_job(cfg, job, init_method=args.init_method)
    pictures = cfg.TRAIN.ENABLE or cfg.TEST.ENABLE and task_class(cfg.TASK).test_plots
    if pictures and cfg.SHARD_ID == 0 and os.environ.get("RANK", "0") == "0":  # one writer (torchrun too)
        for what, path in make_run_plots(cfg.OUTPUT_DIR).items():
            print(f"{what}: {path}")
    return 0
