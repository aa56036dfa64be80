"""What each process of ``tools/run_net.py`` does: set up, train (if TRAIN.ENABLE), then the
multi-view test (if TEST.ENABLE)."""
import contextlib
import functools
import gc
import json
import logging
import os
import random
from typing import Callable, Optional

import numpy as np
import torch
from iopath.common.file_io import g_pathmgr

from .build import checkpoint_exists
from .checkpoint import Checkpointer, set_rng_state
from hiera_video.utils.dist import get_rank, get_world_size, is_main_process

from .distributed import barrier, device_for
from .hooks import CheckpointHook, EvalHook, LossGuard, MetricsHook, ProgressBar
from .logging import log_json_stats, setup_logging
from .optim import build_optimizer, build_scheduler
from .tasks import TASKS
from .train import Trainer

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_autocast(cfg, device) -> Callable[[], contextlib.AbstractContextManager]:
    """A zero-argument factory of the autocast context for TRAIN.MIXED_PRECISION (CPU too)."""
    if not cfg.TRAIN.MIXED_PRECISION:
        return contextlib.nullcontext
    dtype = torch.bfloat16 if cfg.TRAIN.MIXED_PRECISION_DTYPE == "bfloat16" else torch.float16
    return functools.partial(torch.autocast, device_type=device.type, dtype=dtype)


def _resolve(cfg, path: str) -> str:
    return path if os.path.isabs(path) or "://" in path else os.path.join(cfg.OUTPUT_DIR, path)


def run(cfg) -> Optional[dict]:
    """The whole job in this process; returns the test results (rank 0) if TEST.ENABLE."""
    setup_logging(cfg.OUTPUT_DIR, get_rank())
    if is_main_process():
        logger.info("%d process(es); config:\n%s", get_world_size(), cfg.dump())
        with open(os.path.join(cfg.OUTPUT_DIR, "config.yaml"), "w") as f:
            f.write(cfg.dump())
    if cfg.DATA.SYNTHETIC.ENABLE:
        from hiera_video.data import ensure_synthetic_dataset

        ensure_synthetic_dataset(cfg)  # rank 0 writes, the others wait at its barrier
    task = TASKS[cfg.TASK](cfg)
    checkpoint = None
    if cfg.TRAIN.ENABLE:
        checkpoint = train(cfg, task)
    if cfg.TEST.ENABLE:
        # Training's loader iterators can sit in reference cycles; collected later, inside the test
        # loader's forked workers, they print "can only test a child process" tracebacks.
        gc.collect()
        # PySlowFast's order: the named file, else this run's (or an earlier run's) last checkpoint.
        last = checkpoint or Checkpointer(cfg.OUTPUT_DIR).last()
        return test(cfg, task, cfg.TEST.CHECKPOINT_FILE_PATH or last)
    return None


def train(cfg, task) -> Optional[str]:
    """Train (auto-resuming from OUTPUT_DIR/checkpoints); returns the last checkpoint's path."""
    from hiera_video.data import build_loader

    device = device_for(cfg)
    seed_everything(cfg.RNG_SEED + get_rank())
    model = task.build_model().to(device)
    if cfg.TRAIN.CHECKPOINT_FILE_PATH:
        if not checkpoint_exists(cfg.TRAIN.CHECKPOINT_FILE_PATH):
            raise FileNotFoundError(f"TRAIN.CHECKPOINT_FILE_PATH not found: {cfg.TRAIN.CHECKPOINT_FILE_PATH}")
        task.load_train_init(model, cfg.TRAIN.CHECKPOINT_FILE_PATH)
    optimizer = build_optimizer(cfg, model)
    loader = build_loader(cfg, "train")
    val_loader = build_loader(cfg, "val")
    scheduler = build_scheduler(cfg, optimizer, len(loader) // cfg.TRAIN.GRAD_ACCUM_STEPS)
    fp16 = cfg.TRAIN.MIXED_PRECISION and cfg.TRAIN.MIXED_PRECISION_DTYPE == "float16"
    scaler = torch.amp.GradScaler(device.type) if fp16 else None
    checkpointer = Checkpointer(cfg.OUTPUT_DIR, cfg.TRAIN.CHECKPOINT_KEEP)

    start_epoch = iteration = 0
    state = checkpointer.load_last() if cfg.TRAIN.AUTO_RESUME else None
    if state is not None:
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        if state["scheduler_state"] == scheduler.state_dict():
            scheduler.load_state_dict(state["scheduler_state"])
        else:  # SOLVER.* or the batch changed since the checkpoint: the new schedule applies
            logger.warning("lr schedule differs from the checkpoint's; following this config's from iteration %d",
                           state["iteration"])
        if scaler is not None and state.get("scaler_state"):
            scaler.load_state_dict(state["scaler_state"])
        start_epoch, iteration = state["epoch"], state["iteration"]
        rngs = state.get("rng_states") or []
        if len(rngs) == get_world_size():
            set_rng_state(rngs[get_rank()], loader)
        else:
            logger.warning("checkpoint holds RNG states of %d process(es), this run has %d: random streams "
                           "restart from the seed", len(rngs), get_world_size())
        step = state.get("step_in_epoch", 0)
        where = f", update {step} of epoch {start_epoch + 1}" if step else ""
        logger.info("resumed from %s (epoch %d, iteration %d%s)", state["path"], start_epoch, iteration, where)

    train_model = model
    if get_world_size() > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=task.find_unused_parameters)
    if cfg.TRAIN.COMPILE:
        train_model = torch.compile(train_model)
    autocast = make_autocast(cfg, device)

    trainer = Trainer(cfg, task, train_model, optimizer, scheduler, loader, device, autocast, scaler)
    trainer.epoch, trainer.iteration = start_epoch, iteration
    trainer.checkpointer = checkpointer
    if state is not None:
        trainer.start_step = _resume_step(state, trainer)

    def state_fn():
        return {"model_state": model.state_dict(), "optimizer_state": optimizer.state_dict(),
                "scheduler_state": scheduler.state_dict(),
                "scaler_state": scaler.state_dict() if scaler is not None else None, "cfg": cfg.dump(),
                # the training data's own names, so demo_net and extraction print them with no extra file
                "class_names": list(class_names) if class_names else None}

    class_names = getattr(loader.dataset, "class_names", None)

    metrics = MetricsHook(cfg, device)
    trainer.register_hooks([
        LossGuard(cfg.TRAIN.KILL_LOSS_EXPLOSION_FACTOR), metrics, ProgressBar(),
        EvalHook(cfg.TRAIN.EVAL_PERIOD, lambda: task.evaluate(model, val_loader, device, autocast), metrics.tb),
        CheckpointHook(cfg.TRAIN.CHECKPOINT_PERIOD, checkpointer, state_fn, cfg.TRAIN.CHECKPOINT_PERIOD_ITERS),
    ])
    if state is not None:
        trainer.load_hooks_state(state.get("hooks") or {})
        del state
    if start_epoch >= cfg.SOLVER.MAX_EPOCH:
        logger.info("already trained for SOLVER.MAX_EPOCH=%d epochs; nothing to train", cfg.SOLVER.MAX_EPOCH)
    else:
        trainer.train()
    return checkpointer.last()


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


def test(cfg, task, checkpoint: Optional[str]) -> Optional[dict]:
    """Multi-view test of ``checkpoint``; rank 0 writes TEST.SAVE_RESULTS_PATH (summary) and
    TEST.SAVE_PREDICTIONS_PATH (one JSON line per video) and returns the summary."""
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
    predictions = results.pop("predictions", None)
    if is_main_process():
        g_pathmgr.mkdirs(cfg.OUTPUT_DIR)
        results_path = _resolve(cfg, cfg.TEST.SAVE_RESULTS_PATH)
        if predictions is not None:  # per-video rows (classification)
            pred_path = _resolve(cfg, cfg.TEST.SAVE_PREDICTIONS_PATH)
            results["predictions_file"] = pred_path
            with g_pathmgr.open(pred_path, "w") as f:
                for row in predictions:
                    f.write(json.dumps(row) + "\n")
        with g_pathmgr.open(results_path, "w") as f:
            json.dump(results, f, indent=2)
        log_json_stats({"_type": "test", **{k: v for k, v in results.items() if k != "failed_videos"},
                        "num_failed": len(results.get("failed_videos", []))})
        line = task.summary(results)
        if line:
            logger.info("test: %s; wrote %s", line, results_path)
    barrier()
    return results if is_main_process() else None

