"""Train and/or test a Hiera video model (PySlowFast command line).

    python tools/run_net.py --cfg configs/Synthetic/HIERA_TINY_DEMO.yaml [KEY VALUE ...]
    python tools/run_net.py --cfg CFG TRAIN.ENABLE False TEST.CHECKPOINT_FILE_PATH ckpt.pyth
    # several machines: --init_method tcp://HOST:PORT --num_shards N --shard_id I; or torchrun
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hiera_video.config import ConfigError, load_config, parse_args  # noqa: E402
from hiera_video.data.loader import TooManyBadVideos  # noqa: E402
from hiera_video.engine.checkpoint import CheckpointError  # noqa: E402
from hiera_video.engine.distributed import DeviceError, LostProcessError, launch_job  # noqa: E402
from hiera_video.engine.runner import run  # noqa: E402
from hiera_video.engine.train import TrainingStopped  # noqa: E402
from hiera_video.visualization import make_run_plots  # noqa: E402


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args)
        launch_job(cfg, run, init_method=args.init_method)
        pictures = cfg.TRAIN.ENABLE or cfg.TASK == "classification" and cfg.TEST.ENABLE
        if pictures and cfg.SHARD_ID == 0 and os.environ.get("RANK", "0") == "0":  # one writer (torchrun too)
            for what, path in make_run_plots(cfg.OUTPUT_DIR).items():
                print(f"{what}: {path}")
    except (ConfigError, DeviceError, FileNotFoundError, TrainingStopped, TooManyBadVideos, CheckpointError,
            LostProcessError) as e:
        print(f"run_net: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
