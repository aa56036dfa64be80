"""The train loop (detectron2 style): ``Trainer`` runs epochs of optimizer updates; checkpoints,
validation, logging, progress bars and the loss guard hang off it as hooks. ``AMPTrainer``
adds float16's gradient scaling; ``make_autocast`` gives the autocast both use."""
import contextlib
import functools
import logging
import math
import time
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn

from hiera_video.utils.collectives import all_reduce_sum, get_world_size


logger = logging.getLogger(__name__)


class TrainingStopped(RuntimeError):
    """Training was stopped on purpose (diverging loss); the message says where and what to resume."""


class HookBase:
    """What a hook may do, in the order the trainer calls it; override what you need.

    ``before_train``; per epoch ``before_epoch``, then per update ``before_step``,
    ``check_loss(loss)`` for each micro-batch's loss (averaged over ranks, before backward:
    call ``trainer.stop(reason)`` to stop), ``after_step``; then ``after_epoch``; finally
    ``after_train`` (also when training fails). ``self.trainer`` is set by ``register_hooks``.
    ``state_dict``/``load_state_dict``: what a hook carries over a resume (saved in checkpoints
    under its class name; empty for stateless hooks).
    """

    trainer: "Trainer" = None

    def before_train(self): ...

    def after_train(self): ...

    def before_epoch(self): ...

    def after_epoch(self): ...

    def before_step(self): ...

    def check_loss(self, loss: float) -> None: ...

    def after_step(self): ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None: ...


def make_autocast(cfg, device) -> Callable[[], contextlib.AbstractContextManager]:
    """A zero-argument factory of the autocast context for TRAIN.MIXED_PRECISION (CPU too)."""
    if not cfg.TRAIN.MIXED_PRECISION:
        return contextlib.nullcontext
    dtype = torch.bfloat16 if cfg.TRAIN.MIXED_PRECISION_DTYPE == "bfloat16" else torch.float16
    return functools.partial(torch.autocast, device_type=device.type, dtype=dtype)


class Trainer:
    """Optimizer updates over ``loader`` for SOLVER.MAX_EPOCH epochs.

    One update = TRAIN.GRAD_ACCUM_STEPS micro-batches (``task.training_step`` each, under
    ``autocast``), then gradient clipping and the optimizer step; the lr follows
    ``scheduler.step_update(iteration)``. ``epoch`` counts completed epochs and
    ``iteration`` completed updates, so both can be restored from a checkpoint;
    ``start_step`` > 0 (from a mid-epoch checkpoint) makes the first epoch begin at that
    update, with the sampler started where those updates left it.
    After each update ``step_stats`` holds the global loss and the step's metrics; its
    ``clips`` counts the clips of the update (``batch["video"]`` ``[B, ...]``) over all ranks.
    ``last_checkpoint`` (kept by the checkpoint hook) is named when training stops.
    """

    def __init__(self, cfg, task, model: nn.Module, optimizer, scheduler, loader, device,
                 autocast: Callable = contextlib.nullcontext):
        self.cfg, self.task, self.model = cfg, task, model
        self.optimizer, self.scheduler, self.loader = optimizer, scheduler, loader
        self.device, self.autocast = device, autocast
        self.accum = cfg.TRAIN.GRAD_ACCUM_STEPS
        self.clip = cfg.SOLVER.CLIP_GRAD_L2NORM
        self.max_epoch = cfg.SOLVER.MAX_EPOCH
        self.updates_per_epoch = len(loader) // self.accum
        self.epoch = 0
        self.iteration = 0
        self.step_in_epoch = 0
        self.start_step = 0
        self.step_stats: Dict[str, float] = {}
        self.last_checkpoint: Optional[str] = None
        self.hooks: List[HookBase] = []

    def register_hooks(self, hooks: List[Optional[HookBase]]) -> None:
        for h in hooks:
            if h is not None:
                h.trainer = self
                self.hooks.append(h)

    def _call(self, name: str, *args) -> None:
        for h in self.hooks:
            getattr(h, name)(*args)

    def hooks_state(self) -> Dict[str, dict]:
        return {type(h).__name__: st for h in self.hooks if (st := h.state_dict())}

    def load_hooks_state(self, states: Dict[str, dict]) -> None:
        for h in self.hooks:
            if type(h).__name__ in states:
                h.load_state_dict(states[type(h).__name__])

    def state_dict(self) -> dict:
        """Training state beyond model, optimizer and schedule (checkpoint keys); none here."""
        return {}

    def load_state_dict(self, state: dict) -> None: ...

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
            self._call("before_step")
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
            clips += batch["video"].shape[0]
            last = k == self.accum - 1
            sync = self.model.no_sync() if hasattr(self.model, "no_sync") and not last else contextlib.nullcontext()
            with sync:
                with self.autocast():
                    loss, step_metrics = self.task.training_step(self.model, batch, self.device)
                # The global loss decides whether to stop, so every rank stops together.
                failed = batch.get("decode_failures", torch.zeros(1)).sum()
                reduced = all_reduce_sum(torch.stack([loss.detach().float(), torch.as_tensor(
                    failed, dtype=torch.float32, device=loss.device)])).tolist()
                global_loss = reduced[0] / get_world_size()
                failures += int(reduced[1])
                self._call("check_loss", global_loss)
                if not math.isfinite(global_loss):  # never applied, whatever the hooks
                    self.stop(f"loss is {global_loss}")
                self.backward(loss / self.accum)
            loss_sum += global_loss
            for key, v in step_metrics.items():
                metrics[key] = metrics.get(key, 0.0) + v / self.accum
        grad_norm = self.optimizer_step()
        self.optimizer.zero_grad(set_to_none=True)
        self.iteration += 1
        self.step_stats = dict(
            loss=loss_sum / self.accum, lr=max(g["lr"] for g in self.optimizer.param_groups),
            data_time=data_time, iter_time=time.perf_counter() - t0,
            clips=clips * get_world_size(), decode_failures=failures,
            **metrics)
        if grad_norm is not None:
            self.step_stats["grad_norm"] = grad_norm

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def clip_grad(self) -> Optional[float]:
        """SOLVER.CLIP_GRAD_L2NORM > 0: clip the gradients' global L2 norm; returns the norm before."""
        if self.clip <= 0:
            return None
        return float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip))

    def optimizer_step(self) -> Optional[float]:
        """Clip, then step; returns the gradient norm when clipping."""
        grad_norm = self.clip_grad()
        self.optimizer.step()
        return grad_norm

    def stop(self, reason: str) -> None:
        raise TrainingStopped(
            f"{reason} at epoch {self.epoch + 1}, iteration {self.iteration + 1} (update {self.step_in_epoch + 1} "
            f"of the epoch); training stopped. Last good checkpoint: {self.last_checkpoint or 'none saved yet'} "
            "(lower SOLVER.BASE_LR or raise SOLVER.WARMUP_EPOCHS, then resume with TRAIN.AUTO_RESUME)")


class AMPTrainer(Trainer):
    """TRAIN.MIXED_PRECISION with float16: a ``GradScaler`` scales the loss before backward and
    unscales the gradients before clipping and the step (bfloat16 needs none: plain ``Trainer``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scaler = torch.amp.GradScaler(self.device.type)

    def backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss).backward()

    def optimizer_step(self) -> Optional[float]:
        self.scaler.unscale_(self.optimizer)
        grad_norm = self.clip_grad()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return grad_norm

    def state_dict(self) -> dict:
        return {"scaler_state": self.scaler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if state.get("scaler_state"):
            self.scaler.load_state_dict(state["scaler_state"])


def trainer_class(cfg) -> type:
    """``AMPTrainer`` for float16 mixed precision, else ``Trainer``."""
    fp16 = cfg.TRAIN.MIXED_PRECISION and cfg.TRAIN.MIXED_PRECISION_DTYPE == "float16"
    return AMPTrainer if fp16 else Trainer
