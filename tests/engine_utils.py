"""Shared bits of the engine tests: a tiny generated dataset and a tiny-model config."""
import os
import subprocess
import sys
from typing import List

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_NET = os.path.join(REPO_ROOT, "tools", "run_net.py")

# Real H.264 clips (16 frames, 64 px); 12 train videos = 3 batches of 4.
SYNTH = dict(NUM_TRAIN=12, NUM_VAL=6, NUM_TEST=5, NUM_FRAMES=16, SIZE=64, SEED=0)

# A 4-block video Hiera on 4 x 64 x 64 clips (2x2 mask units of 2x32x32 px).
TINY = [
    "NUM_GPUS", "0", "RNG_SEED", "3",
    "MODEL.MODEL_NAME", "hiera_tiny_16x224", "MODEL.NUM_CLASSES", "6", "MODEL.DROPOUT_RATE", "0.0",
    "HIERA.EMBED_DIM", "16", "HIERA.NUM_HEADS", "1", "HIERA.STAGES", "[1,1,1,1]", "HIERA.DROP_PATH_RATE", "0.0",
    "DATA.NUM_FRAMES", "4", "DATA.SAMPLING_RATE", "2", "DATA.TRAIN_CROP_SIZE", "64", "DATA.TEST_CROP_SIZE", "64",
    "DATA.TRAIN_JITTER_SCALES", "[64,72]", "DATA.RANDOM_FLIP", "False",
    "DATA.SYNTHETIC.ENABLE", "True", *[x for k, v in SYNTH.items() for x in (f"DATA.SYNTHETIC.{k}", str(v))],
    "DATA_LOADER.NUM_WORKERS", "0", "DATA_LOADER.PIN_MEMORY", "False",
    "TRAIN.BATCH_SIZE", "4", "TEST.BATCH_SIZE", "4", "TEST.NUM_ENSEMBLE_VIEWS", "2", "TEST.NUM_SPATIAL_CROPS", "3",
    "SOLVER.BASE_LR", "0.05", "SOLVER.MAX_EPOCH", "2", "SOLVER.WARMUP_EPOCHS", "0.5",
    "TRAIN.EVAL_PERIOD", "1", "TRAIN.CHECKPOINT_PERIOD", "1", "LOG_PERIOD", "1",
]


def synthetic_dir(tmp_path_factory) -> str:
    """The tiny generated dataset, written once per test session."""
    from hiera_video.synthetic.motion import generate, is_complete

    path = str(tmp_path_factory.getbasetemp() / "engine_synthetic")
    if not is_complete(path):
        generate(path, SYNTH["NUM_TRAIN"], SYNTH["NUM_VAL"], SYNTH["NUM_TEST"], SYNTH["NUM_FRAMES"],
                 SYNTH["SIZE"], SYNTH["SEED"], workers=1)
    return path


def tiny_opts(data_dir: str, out_dir: str, *extra: str) -> List[str]:
    return [*TINY, "DATA.PATH_TO_DATA_DIR", str(data_dir), "OUTPUT_DIR", str(out_dir), *extra]


def tiny_cfg(data_dir: str, out_dir: str, *extra: str):
    from hiera_video.config import parse_args
    from hiera_video.engine import load_config

    return load_config(parse_args(tiny_opts(data_dir, out_dir, *extra)))


def run_net(args: List[str], timeout: int = 240) -> subprocess.CompletedProcess:
    """``python tools/run_net.py ARGS`` in a fresh interpreter."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    return subprocess.run([sys.executable, RUN_NET, *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def json_stats(log_path: str, kind: str) -> List[dict]:
    """The ``json_stats`` records of one ``_type`` in a stdout.log."""
    import json

    out = []
    with open(log_path) as f:
        for line in f:
            if "json_stats: " in line:
                rec = json.loads(line.split("json_stats: ", 1)[1])
                if rec.get("_type") == kind:
                    out.append(rec)
    return out


def run_in_process(opts: List[str]):
    """``tools/run_net.py OPTS`` in this interpreter (one process); returns the config."""
    import logging

    from hiera_video.config import parse_args
    from hiera_video.engine import load_config
    from hiera_video.engine.launch import launch_job
    from hiera_video.cli.run_net import job

    root = logging.getLogger()
    level = root.level
    cfg = load_config(parse_args(opts))
    try:
        launch_job(cfg, job)
    finally:
        for h in list(root.handlers):
            if getattr(h, "_hiera_video", False):
                root.removeHandler(h)
                h.close()
        root.setLevel(level)
    return cfg
