"""What each process of run_net does: set up, train (``run_training``, if TRAIN.ENABLE), then the
multi-view test (``run_test``, if TEST.ENABLE). Training is ``build_training`` -> ``resume`` ->
``default_hooks`` -> the ``Trainer``'s loop (``trainer.py``)."""
import gc
import logging
import os
import random
import shlex
import sys
from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np
import torch
import torch.nn as nn
from iopath.common.file_io import g_pathmgr

from hiera_video.utils.collectives import barrier, get_rank, get_world_size, is_main_process

from .build import checkpoint_exists
from .checkpoint import Checkpointer, set_rng_state
from .launch import device_for
from .hooks import CheckpointHook, EvalHook, LossGuard, MetricsHook, ProgressBar
from .optim import build_optimizer, build_scheduler
from .run_log import log_json_stats, setup_logging
from .tasks import task_class
from .trainer import HookBase, Trainer, make_autocast, trainer_class

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run(cfg, prepare: Optional[Callable] = None) -> Optional[dict]:
    """The whole job in this process; returns the test results (rank 0) if TEST.ENABLE.

    ``prepare(cfg)``: a step the caller needs done before anything reads data (``run_net``
    passes ``synthetic.prepare``, which generates the demo datasets): the first process runs
    it, then the others (where they share its disk it finds the work done)."""
    setup_logging(cfg.OUTPUT_DIR, get_rank())
    if is_main_process():
        logger.info("%d process(es); config:\n%s", get_world_size(), cfg.dump())
        with open(os.path.join(cfg.OUTPUT_DIR, "config.yaml"), "w") as f:
            f.write(cfg.dump())
    if prepare is not None:
        if is_main_process():
            prepare(cfg)
        barrier()
        if not is_main_process():
            prepare(cfg)
    task = task_class(cfg.TASK)(cfg)
    checkpoint = None
    if cfg.TRAIN.ENABLE:
        checkpoint = run_training(cfg, task)
    if cfg.TEST.ENABLE:
        # Training's loader iterators can sit in reference cycles; collected later, inside the test
        # loader's forked workers, they print "can only test a child process" tracebacks.
        gc.collect()
        # PySlowFast's order: the named file, else this run's (or an earlier run's) last checkpoint.
        last = checkpoint or Checkpointer(cfg.OUTPUT_DIR).last()
        return run_test(cfg, task, cfg.TEST.CHECKPOINT_FILE_PATH or last)
    return None


@dataclass
class Training:
    """What ``build_training`` makes: the trainer (over the DDP / compiled model), the bare model
    (what checkpoints hold) and the validation loader."""
    trainer: Trainer
    model: nn.Module
    val_loader: object


def run_training(cfg, task) -> Optional[str]:
    """Train (auto-resuming from OUTPUT_DIR/checkpoints); returns the last checkpoint's path."""
    seed_everything(cfg.RNG_SEED + get_rank())
    checkpointer = Checkpointer(cfg.OUTPUT_DIR, cfg.TRAIN.CHECKPOINT_KEEP)
    parts = build_training(cfg, task)
    state = checkpointer.load_last() if cfg.TRAIN.AUTO_RESUME else None
    if state is not None:
        resume(parts, state)
    trainer = parts.trainer
    trainer.register_hooks(default_hooks(cfg, task, parts, checkpointer))
    if state is not None:
        trainer.load_hooks_state(state.get("hooks") or {})
        del state
    try:
        if trainer.epoch >= cfg.SOLVER.MAX_EPOCH:
            logger.info("already trained for SOLVER.MAX_EPOCH=%d epochs; nothing to train", cfg.SOLVER.MAX_EPOCH)
        else:
            trainer.train()
    finally:
        trainer.loader.close()
        parts.val_loader.close()
    return checkpointer.last()


def build_training(cfg, task) -> Training:
    """Model (initialised from TRAIN.CHECKPOINT_FILE_PATH), optimizer, loaders, lr schedule, and
    the trainer (``AMPTrainer`` for float16) over the DDP-wrapped and/or compiled model."""
    from hiera_video.data import build_loader

    device = device_for(cfg)
    model = task.build_model().to(device)
    if cfg.TRAIN.CHECKPOINT_FILE_PATH:
        if not checkpoint_exists(cfg.TRAIN.CHECKPOINT_FILE_PATH):
            raise FileNotFoundError(f"TRAIN.CHECKPOINT_FILE_PATH not found: {cfg.TRAIN.CHECKPOINT_FILE_PATH}")
        task.load_train_init(model, cfg.TRAIN.CHECKPOINT_FILE_PATH)
    optimizer = build_optimizer(cfg, model)
    loader = build_loader(cfg, "train")
    val_loader = build_loader(cfg, "val")
    scheduler = build_scheduler(cfg, optimizer, len(loader) // cfg.TRAIN.GRAD_ACCUM_STEPS)
    train_model = model
    if get_world_size() > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=task.find_unused_parameters)
    if cfg.TRAIN.COMPILE:
        train_model = torch.compile(train_model)
    trainer = trainer_class(cfg)(cfg, task, train_model, optimizer, scheduler, loader, device,
                                 make_autocast(cfg, device))
    return Training(trainer, model, val_loader)


def resume(parts: Training, state: dict) -> None:
    """Continue from checkpoint ``state``: weights, optimizer, schedule (unless the config's
    differs), the trainer's own state, progress and every random stream."""
    t = parts.trainer
    parts.model.load_state_dict(state["model_state"])
    t.optimizer.load_state_dict(state["optimizer_state"])
    if state["scheduler_state"] == t.scheduler.state_dict():
        t.scheduler.load_state_dict(state["scheduler_state"])
    else:  # SOLVER.* or the batch changed since the checkpoint: the new schedule applies
        logger.warning("lr schedule differs from the checkpoint's; following this config's from iteration %d",
                       state["iteration"])
    t.load_state_dict(state)
    t.epoch, t.iteration = state["epoch"], state["iteration"]
    rngs = state.get("rng_states") or []
    if len(rngs) == get_world_size():
        set_rng_state(rngs[get_rank()], t.loader)
    else:
        logger.warning("checkpoint holds RNG states of %d process(es), this run has %d: random streams "
                       "restart from the seed", len(rngs), get_world_size())
    step = state.get("step_in_epoch", 0)
    where = f", update {step} of epoch {t.epoch + 1}" if step else ""
    logger.info("resumed from %s (epoch %d, iteration %d%s)", state["path"], t.epoch, t.iteration, where)
    t.start_step = _resume_step(state, t)


def _resume_step(state: dict, trainer: Trainer) -> int:
    """Updates already done in the epoch a mid-epoch checkpoint was saved in (0 at an epoch end).

    The sampler then starts at the saved position; if the per-process batch or the process
    count changed since, this run's order is used from the same update on, with a warning.
    """
    step = state.get("step_in_epoch", 0)
    if not step:
        return 0
    if step >= trainer.updates_per_epoch:
        logger.warning("the checkpoint is at update %d of an epoch of %d updates with this config; starting the "
                       "next epoch", step, trainer.updates_per_epoch)
        trainer.epoch += 1
        return 0
    saved = state.get("sampler") or {}
    here = {"position": trainer.samples_consumed(step), "batch_size": trainer.loader.batch_size,
            "num_replicas": get_world_size()}
    if any(saved.get(k) != v for k, v in here.items()):
        logger.warning("mid-epoch checkpoint's sampler position %s does not fit this run %s (batch or processes "
                       "changed): continuing at update %d of the epoch with this run's order", saved, here, step)
    return step


def default_hooks(cfg, task, parts: Training, checkpointer: Checkpointer) -> List[HookBase]:
    """Loss guard, metrics, progress bar, validation, checkpoints: in this order, so that at an
    epoch end the checkpoint comes last and saves the RNG state the next epoch starts from."""
    t, model = parts.trainer, parts.model
    class_names = getattr(t.loader.dataset, "class_names", None)

    def state_fn():
        return {"model_state": model.state_dict(), "optimizer_state": t.optimizer.state_dict(),
                "scheduler_state": t.scheduler.state_dict(), "cfg": cfg.dump(),
                # the training data's own names, so demo_net and extraction print them with no extra file
                "class_names": list(class_names) if class_names else None,
                "command": shlex.join([os.path.basename(sys.executable)] + sys.argv)}  # for a model card

    metrics = MetricsHook(cfg, t.device)
    return [
        LossGuard(cfg.TRAIN.KILL_LOSS_EXPLOSION_FACTOR), metrics, ProgressBar(),
        EvalHook(cfg.TRAIN.EVAL_PERIOD, lambda: task.evaluate(model, parts.val_loader, t.device, t.autocast),
                 metrics.tb),
        CheckpointHook(cfg.TRAIN.CHECKPOINT_PERIOD, checkpointer, state_fn, cfg.TRAIN.CHECKPOINT_PERIOD_ITERS),
    ]


def run_test(cfg, task, checkpoint: Optional[str]) -> Optional[dict]:
    """Multi-view test of ``checkpoint``; rank 0 writes the task's results (``task.write_results``)
    and returns them."""
    from hiera_video.data import build_loader

    if not checkpoint:
        raise FileNotFoundError(f"no weights to test: set TEST.CHECKPOINT_FILE_PATH (a checkpoint of this project "
                                f"or the official release), or train first ({cfg.OUTPUT_DIR}/checkpoints has none)")
    if not checkpoint_exists(checkpoint):
        raise FileNotFoundError(f"TEST.CHECKPOINT_FILE_PATH not found: {checkpoint}")
    device = device_for(cfg)
    model = task.build_model(for_test=True).to(device)
    task.load_test_weights(model, checkpoint)
    loader = build_loader(cfg, "test")
    results = task.test(model, loader, device, make_autocast(cfg, device), checkpoint)
    if is_main_process():
        g_pathmgr.mkdirs(cfg.OUTPUT_DIR)
        written = task.write_results(results, cfg.OUTPUT_DIR)
        log_json_stats({"_type": "test", **{k: v for k, v in results.items() if k != "failed_videos"},
                        "num_failed": len(results.get("failed_videos", []))})
        line = task.summary(results)
        if line:
            logger.info("test: %s; wrote %s", line, ", ".join(written))
    barrier()
    return results if is_main_process() else None
