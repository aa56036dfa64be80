"""The train loop (detectron2 style): ``Trainer`` runs epochs of optimizer updates; checkpoints,
validation, logging, progress bars and the loss guard hang off it as hooks."""
import contextlib
import logging
import math
import time
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn

from hiera_video.utils.dist import get_world_size

from .distributed import all_reduce_sum

logger = logging.getLogger(__name__)


class TrainingStopped(RuntimeError):
    """Training was stopped on purpose (diverging loss); the message says where and what to resume."""


class HookBase:
    """Override what you need; ``self.trainer`` is set by ``Trainer.register_hooks``.

    ``state_dict``/``load_state_dict``: what a hook must carry over a resume (saved in
    checkpoints under its class name; empty for stateless hooks).
    """

    trainer: "Trainer" = None

    def before_train(self): ...

    def after_train(self): ...

    def before_epoch(self): ...

    def after_epoch(self): ...

    def after_step(self): ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None: ...


class Trainer:
    """Optimizer updates over ``loader`` for SOLVER.MAX_EPOCH epochs.

    One update = TRAIN.GRAD_ACCUM_STEPS micro-batches (``task.training_step`` each, under
    ``autocast``), then gradient clipping and the optimizer step; the lr follows
    ``scheduler.step_update(iteration)``. ``epoch`` counts completed epochs and
    ``iteration`` completed updates, so both can be restored from a checkpoint;
    ``start_step`` > 0 (from a mid-epoch checkpoint) makes the first epoch begin at that
    update, with the sampler started where those updates left it.
    After each update ``step_stats`` holds the global loss and the step's metrics.
    """

    def __init__(self, cfg, task, model: nn.Module, optimizer, scheduler, loader, device, autocast: Callable,
                 scaler=None):
        self.cfg, self.task, self.model = cfg, task, model
        self.optimizer, self.scheduler, self.loader = optimizer, scheduler, loader
        self.device, self.autocast, self.scaler = device, autocast, scaler
        self.accum = cfg.TRAIN.GRAD_ACCUM_STEPS
        self.clip = cfg.SOLVER.CLIP_GRAD_L2NORM
        self.max_epoch = cfg.SOLVER.MAX_EPOCH
        self.updates_per_epoch = len(loader) // self.accum
        self.epoch = 0
        self.iteration = 0
        self.step_in_epoch = 0
        self.start_step = 0
        self.step_stats: Dict[str, float] = {}
        self.hooks: List[HookBase] = []

    def register_hooks(self, hooks: List[Optional[HookBase]]) -> None:
        for h in hooks:
            if h is not None:
                h.trainer = self
                self.hooks.append(h)

    def _call(self, name: str) -> None:
        for h in self.hooks:
            getattr(h, name)()

    def hooks_state(self) -> Dict[str, dict]:
        return {type(h).__name__: st for h in self.hooks if (st := h.state_dict())}

    def load_hooks_state(self, states: Dict[str, dict]) -> None:
        for h in self.hooks:
            if type(h).__name__ in states:
                h.load_state_dict(states[type(h).__name__])

    def samples_consumed(self, updates: int) -> int:
        """Items this rank's sampler has given to ``updates`` updates of an epoch."""
        return updates * self.accum * self.loader.batch_size

    def train(self) -> None:
        if self.updates_per_epoch < 1:
            raise ValueError(f"the train loader gives {len(self.loader)} batches per epoch, fewer than one "
                             f"update of TRAIN.GRAD_ACCUM_STEPS={self.accum}")
        self._call("before_train")
        try:
            while self.epoch < self.max_epoch:
                self._call("before_epoch")
                self.run_epoch()
                self.epoch += 1
                self._call("after_epoch")
        finally:
            self._call("after_train")

    def run_epoch(self) -> None:
        first, self.start_step = self.start_step, 0
        if first:  # resumed inside this epoch: the sampler skips what was consumed
            self.loader.sampler.set_epoch(self.epoch, start=self.samples_consumed(first))
        elif hasattr(self.loader, "set_epoch"):
            self.loader.set_epoch(self.epoch)
        elif hasattr(self.loader.sampler, "set_epoch"):
            self.loader.sampler.set_epoch(self.epoch)
        self.model.train()
        # Starting the loader draws worker seeds from the global generator; forking keeps the
        # training stream (dropout, drop path, mixup) independent of how often that happens,
        # so a resumed run sees the same random numbers as an uninterrupted one.
        with torch.random.fork_rng(devices=[]):
            batches = iter(self.loader)
        for self.step_in_epoch in range(first, self.updates_per_epoch):
            self.run_step(batches)
            self._call("after_step")

    def run_step(self, batches) -> None:
        self.scheduler.step_update(self.iteration)
        t0 = time.perf_counter()
        data_time, loss_sum, metrics, clips, failures = 0.0, 0.0, {}, 0, 0
        for k in range(self.accum):
            t = time.perf_counter()
            batch = next(batches)
            data_time += time.perf_counter() - t
            clips += len(batch["label"])
            last = k == self.accum - 1
            sync = self.model.no_sync() if hasattr(self.model, "no_sync") and not last else contextlib.nullcontext()
            with sync:
                with self.autocast():
                    loss, step_metrics = self.task.training_step(self.model, batch, self.device)
                # The global loss decides whether to stop, so every rank stops together.
                failed = batch["decode_failures"].sum() if "decode_failures" in batch else 0
                reduced = all_reduce_sum(torch.stack([loss.detach().float(), torch.as_tensor(
                    failed, dtype=torch.float32, device=loss.device)])).tolist()
                global_loss = reduced[0] / get_world_size()
                failures += int(reduced[1])
                self._check_loss(global_loss)
                scaled = loss / self.accum
                (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
            loss_sum += global_loss
            for key, v in step_metrics.items():
                metrics[key] = metrics.get(key, 0.0) + v / self.accum
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        grad_norm = None
        if self.clip > 0:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip))
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.iteration += 1
        self.step_stats = dict(
            loss=loss_sum / self.accum, lr=max(g["lr"] for g in self.optimizer.param_groups),
            data_time=data_time, iter_time=time.perf_counter() - t0,
            clips=clips * get_world_size(), decode_failures=failures,
            **metrics)
        if grad_norm is not None:
            self.step_stats["grad_norm"] = grad_norm

    def _check_loss(self, loss: float) -> None:
        for h in self.hooks:
            if hasattr(h, "check_loss"):
                h.check_loss(loss)
        if not math.isfinite(loss):
            self.stop(f"loss is {loss}")

    def stop(self, reason: str) -> None:
        last = getattr(self, "checkpointer", None)
        last = last.last() if last is not None else None
        raise TrainingStopped(
            f"{reason} at epoch {self.epoch + 1}, iteration {self.iteration + 1} (update {self.step_in_epoch + 1} "
            f"of the epoch); training stopped. Last good checkpoint: {last or 'none saved yet'} "
            "(lower SOLVER.BASE_LR or raise SOLVER.WARMUP_EPOCHS, then resume with TRAIN.AUTO_RESUME)")
