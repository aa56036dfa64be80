"""Logging: ``OUTPUT_DIR/stdout.log`` + console on rank 0, ``json_stats: {...}`` lines, TensorBoard."""
import logging
import os
import sys
from typing import Dict, Optional

import simplejson

logger = logging.getLogger("hiera_video")

_FORMAT = "[%(asctime)s %(levelname).1s %(filename)s:%(lineno)d] %(message)s"


def setup_logging(output_dir: str, rank: int = 0) -> None:
    """Rank 0 logs INFO to stdout and appends to ``output_dir/stdout.log``; other ranks
    print warnings and errors only, tagged with their rank."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_hiera_video", False):
            root.removeHandler(h)
            h.close()
    fmt = logging.Formatter(_FORMAT if rank == 0 else f"[rank {rank}] " + _FORMAT, datefmt="%H:%M:%S")
    handlers = [logging.StreamHandler(sys.stdout)]
    if rank == 0:
        os.makedirs(output_dir, exist_ok=True)
        handlers.append(logging.FileHandler(os.path.join(output_dir, "stdout.log"), mode="a"))
    for h in handlers:
        h.setFormatter(fmt)
        h._hiera_video = True
        root.addHandler(h)
    level = logging.INFO if rank == 0 else logging.WARNING
    root.setLevel(level)
    logger.setLevel(level)


def log_json_stats(stats: Dict) -> None:
    """One ``json_stats: {...}`` line (keys sorted) for tools that parse the log."""
    logger.info("json_stats: %s", simplejson.dumps(stats, sort_keys=True, ignore_nan=True))


class TensorboardWriter:
    """Scalars to TensorBoard (rank 0, TENSORBOARD.ENABLE); a no-op otherwise."""

    def __init__(self, cfg, rank: int = 0):
        self.writer = None
        if cfg.TENSORBOARD.ENABLE and rank == 0:
            from torch.utils.tensorboard import SummaryWriter

            log_dir = cfg.TENSORBOARD.LOG_DIR or os.path.join(cfg.OUTPUT_DIR, "tensorboard")
            self.writer = SummaryWriter(log_dir)

    def add_scalars(self, prefix: str, stats: Dict, step: int) -> None:
        if self.writer is None:
            return
        for k, v in stats.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(f"{prefix}/{k}", v, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def peak_memory_mb(device: Optional[object] = None) -> float:
    """Peak CUDA memory allocated (GPU runs) or peak resident set size of this process (CPU)."""
    import torch

    if device is not None and getattr(device, "type", "cpu") == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
