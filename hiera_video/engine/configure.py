"""A config ready to run: the checks every task needs (``hiera_video.config``) plus the task's own.

    cfg = load_config("configs/Kinetics/HIERA_B_16x4_K400.yaml", ["NUM_GPUS", "0"])
"""
import argparse
from typing import Optional, Sequence, Union

from fvcore.common.config import CfgNode

from hiera_video.config import read_config
from hiera_video.config import validate_cfg as validate_common

from .tasks import task_class


def validate_cfg(cfg: CfgNode) -> None:
    """``ConfigError`` on the first impossible value: common keys, then ``task.validate`` (which may
    fill in derived values such as MODEL.NUM_CLASSES 0, so ``cfg`` must not be frozen)."""
    task = task_class(cfg.TASK)
    validate_common(cfg)
    task.validate(cfg)


def load_config(cfg_file: Union[str, argparse.Namespace, None] = None, opts: Sequence[str] = (), *,
                num_shards: Optional[int] = None, shard_id: Optional[int] = None, validate: bool = True) -> CfgNode:
    """Defaults <- ``cfg_file`` (YAML, ``_BASE_`` allowed) <- ``opts`` (``KEY VALUE`` pairs) <-
    ``num_shards``/``shard_id``; validated (``validate_cfg``) and frozen. ``cfg_file`` may also be
    the namespace of ``hiera_video.config.parse_args``."""
    cfg = read_config(cfg_file, opts, num_shards=num_shards, shard_id=shard_id)
    if validate:
        validate_cfg(cfg)
    cfg.freeze()
    return cfg
