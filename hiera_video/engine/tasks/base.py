"""The ``Task`` interface: what a TASK value means to the engine, and its registration.

The train loop, the runner and run_net only talk to a ``Task``; a new task is a subclass
decorated with ``@register_task`` (registered in ``hiera_video.registry.TASKS`` under its
``name``, the TASK value) in a module that ``engine/tasks/__init__.py`` imports.
"""
import json
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from hiera_video.errors import ConfigError
from hiera_video.registry import TASKS
from hiera_video.utils.io import output_path, write_text

from ..build import build_model, load_test_weights, load_train_init


def register_task(cls: type) -> type:
    """Class decorator: ``TASKS`` entry ``cls.name`` -> ``cls``.

    fvcore's ``Registry.register`` keys by ``__name__`` (``ClassificationTask``); TASK values
    are short names (``classification``), so this registers under ``cls.name`` instead."""
    TASKS._do_register(cls.name, cls)
    return cls


def task_class(name: str) -> type:
    """The ``Task`` subclass registered as ``name``; ``ConfigError`` naming the registered ones."""
    if name not in TASKS:
        raise ConfigError(f"TASK={name!r}: expected one of {sorted(n for n, _ in TASKS)}")
    return TASKS.get(name)


class Task:
    """The interface the engine uses; subclasses override what differs.

    * ``validate(cfg)`` (class method, before anything is built): the task's own keys;
      may fill in derived values (an unfrozen cfg).
    * ``build_model``, ``load_train_init``, ``load_test_weights``: the model and its weights.
    * ``training_step``: one micro-batch -> loss; the task reads the batch keys it needs.
    * ``evaluate`` (periodic validation), ``test`` (final test -> results), then
      ``write_results`` (rank 0) and ``summary`` (one log line).
    """

    name = ""
    find_unused_parameters = False  # for DistributedDataParallel
    test_plots = False  # make_run_plots can draw the test results (predictions per video)

    def __init__(self, cfg):
        self.cfg = cfg

    @classmethod
    def validate(cls, cfg) -> None:
        """Raise ``ConfigError`` on a value of this task's keys that cannot work."""

    def build_model(self, for_test: bool = False) -> nn.Module:
        return build_model(self.cfg, for_test=for_test)

    def load_train_init(self, model: nn.Module, path: str) -> None:
        """TRAIN.CHECKPOINT_FILE_PATH: initialise before training (head may be re-initialised)."""
        load_train_init(model, path)

    def load_test_weights(self, model: nn.Module, path: str) -> None:
        """Weights to test; everything must fit."""
        load_test_weights(model, path)

    def training_step(self, model: nn.Module, batch: Dict, device) -> Tuple[torch.Tensor, Dict[str, float]]:
        """One micro-batch -> (scalar loss, extra per-step metrics). Runs inside autocast."""
        raise NotImplementedError

    def evaluate(self, model: nn.Module, loader, device, autocast) -> Dict[str, float]:
        """Periodic validation during training -> metrics (all ranks return the same)."""
        raise NotImplementedError

    def test(self, model: nn.Module, loader, device, autocast, checkpoint: str) -> Dict:
        """Final test -> results (all ranks); ``write_results`` puts them on disk."""
        raise NotImplementedError

    def write_results(self, results: Dict, out_dir: str) -> List[str]:
        """Rank 0: the results summary to TEST.SAVE_RESULTS_PATH (JSON); returns the paths written.
        Subclasses first take out and write their per-item rows."""
        path = output_path(out_dir, self.cfg.TEST.SAVE_RESULTS_PATH)
        write_text(path, json.dumps(results, indent=2))
        return [path]

    def summary(self, results: Dict) -> Optional[str]:
        """One line for the log after the test, or None."""
        return None
