"""Hooks of the train loop: loss guard, metrics/json_stats/TensorBoard, progress bar,
periodic validation and checkpoints. Order matters at epoch end: metrics, validation,
then the checkpoint, so the saved RNG state is the one the next epoch starts from."""
import logging
import sys
import time
from collections import deque
from typing import Callable

from hiera_video.utils.collectives import all_gather_object, get_rank, is_main_process

from .checkpoint import CheckpointError, Checkpointer, rng_state
from .run_log import TensorboardWriter, log_json_stats, peak_memory_mb
from .meters import MeterGroup
from .trainer import HookBase

logger = logging.getLogger(__name__)


class LossGuard(HookBase):
    """Stop when a micro-batch's loss exceeds TRAIN.KILL_LOSS_EXPLOSION_FACTOR x the mean of the
    last 20 losses (after 5); NaN/inf is always caught by the trainer."""

    def __init__(self, factor: float, window: int = 20, warmup: int = 5):
        self.factor, self.warmup = factor, warmup
        self.history = deque(maxlen=window)

    def check_loss(self, loss: float) -> None:
        if self.factor > 0 and len(self.history) >= self.warmup:
            mean = sum(self.history) / len(self.history)
            if loss > self.factor * mean:
                self.trainer.stop(f"loss exploded: {loss:.4g} > TRAIN.KILL_LOSS_EXPLOSION_FACTOR "
                                  f"{self.factor} x recent mean {mean:.4g}")
        self.history.append(loss)

    def state_dict(self) -> dict:
        return {"history": list(self.history)}

    def load_state_dict(self, state: dict) -> None:
        self.history.clear()
        self.history.extend(state.get("history", []))


class MetricsHook(HookBase):
    """``json_stats`` every LOG_PERIOD updates and per epoch (rank 0), TensorBoard scalars.

    ``train_iter``: loss and lr of that update (loss averaged over all ranks), other values
    averaged over the last LOG_PERIOD updates; decode failures summed over the epoch so far.
    ``train_epoch``: epoch averages. Peak memory: CUDA allocations on GPU, resident set on CPU.
    """

    def __init__(self, cfg, device):
        self.period = cfg.LOG_PERIOD
        self.device = device
        self.meters = MeterGroup(window=cfg.LOG_PERIOD)
        self.tb = TensorboardWriter(cfg, get_rank())
        self.epoch_start = time.perf_counter()
        self.clips = 0
        self.failures = 0

    def before_epoch(self):
        self.meters.reset()
        self.epoch_start = time.perf_counter()
        self.clips = self.failures = 0

    def after_step(self):
        t = self.trainer
        s = dict(t.step_stats)
        self.clips += s.pop("clips")
        self.failures += s.pop("decode_failures")
        s["clips_per_s"] = t.step_stats["clips"] / max(1e-9, s["iter_time"])
        self.meters.add(**s)
        if (t.step_in_epoch + 1) % self.period == 0 or t.step_in_epoch + 1 == t.updates_per_epoch:
            stats = {"_type": "train_iter", "epoch": f"{t.epoch + 1}/{t.max_epoch}",
                     "iter": f"{t.step_in_epoch + 1}/{t.updates_per_epoch}", "global_iter": t.iteration,
                     **self.meters.recent(), "loss": s["loss"], "lr": s["lr"], "decode_failures": self.failures,
                     "peak_mem_mb": peak_memory_mb(self.device)}
            if is_main_process():
                log_json_stats(stats)
            self.tb.add_scalars("train", {"loss": s["loss"], "lr": s["lr"]}, t.iteration)

    def after_epoch(self):
        t = self.trainer
        elapsed = time.perf_counter() - self.epoch_start
        stats = {"_type": "train_epoch", "epoch": f"{t.epoch}/{t.max_epoch}", **self.meters.avg(),
                 "lr": t.step_stats.get("lr"), "clips_per_s": self.clips / max(1e-9, elapsed), "epoch_time": elapsed,
                 "decode_failures": self.failures, "peak_mem_mb": peak_memory_mb(self.device)}
        if is_main_process():
            log_json_stats(stats)
        self.tb.add_scalars("train_epoch", stats, t.epoch)

    def after_train(self):
        self.tb.close()


class ProgressBar(HookBase):
    """A tqdm bar per epoch, only when rank 0's stdout is a terminal."""

    def __init__(self):
        self.bar = None
        self.enabled = is_main_process() and sys.stdout.isatty()

    def before_epoch(self):
        if self.enabled:
            from tqdm import tqdm

            t = self.trainer
            self.bar = tqdm(total=t.updates_per_epoch, initial=t.start_step, desc=f"epoch {t.epoch + 1}/{t.max_epoch}",
                            leave=False)

    def after_step(self):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{self.trainer.step_stats['loss']:.4f}")

    def after_epoch(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    after_train = after_epoch


class EvalHook(HookBase):
    """Single-view validation every TRAIN.EVAL_PERIOD epochs and after the last one."""

    def __init__(self, period: int, evaluate: Callable[[], dict], tb: TensorboardWriter = None):
        self.period, self.evaluate, self.tb = period, evaluate, tb
        self.last = None

    def after_epoch(self):
        t = self.trainer
        if t.epoch % self.period and t.epoch != t.max_epoch:
            return
        start = time.perf_counter()
        metrics = self.evaluate()
        self.last = {"_type": "val_epoch", "epoch": f"{t.epoch}/{t.max_epoch}", **metrics,
                     "eval_time": time.perf_counter() - start}
        if is_main_process():
            log_json_stats(self.last)
        if self.tb is not None:
            self.tb.add_scalars("val", metrics, t.epoch)


class CheckpointHook(HookBase):
    """Save every TRAIN.CHECKPOINT_PERIOD epochs and after the last one; with
    TRAIN.CHECKPOINT_PERIOD_ITERS > 0 also every that many updates inside an epoch, with the
    sampler's position, so a resumed run continues with the next batch.

    A file holds ``state_fn()`` (model, optimizer, schedule, ...), the trainer's own state,
    the hooks' states, the progress and every rank's RNG state. Rank 0 writes; a failed write
    stops every rank with the same ``CheckpointError`` (the others would otherwise wait for
    rank 0 forever). Keeps ``trainer.last_checkpoint`` up to date.
    """

    def __init__(self, period: int, checkpointer: Checkpointer, state_fn: Callable[[], dict], period_iters: int = 0):
        self.period, self.checkpointer, self.state_fn = period, checkpointer, state_fn
        self.period_iters = period_iters

    def before_train(self):
        self.trainer.last_checkpoint = self.checkpointer.last()

    def after_step(self):
        t = self.trainer
        done = t.step_in_epoch + 1
        if self.period_iters and t.iteration % self.period_iters == 0 and done < t.updates_per_epoch:
            self._save(done)

    def after_epoch(self):
        t = self.trainer
        if t.epoch % self.period and t.epoch != t.max_epoch:
            return
        self._save(0)

    def _save(self, step_in_epoch: int) -> None:
        t = self.trainer
        rngs = all_gather_object(rng_state(t.loader))
        error = None
        if is_main_process():
            state = {**self.state_fn(), **t.state_dict()}
            state.update(epoch=t.epoch, iteration=t.iteration, step_in_epoch=step_in_epoch, rng_states=rngs,
                         hooks=t.hooks_state(),
                         sampler={"epoch": t.epoch, "position": t.samples_consumed(step_in_epoch),
                                  "batch_size": t.loader.batch_size, "num_replicas": len(rngs)})
            try:
                self.checkpointer.save(state, t.epoch, step_in_epoch)
            except CheckpointError as e:
                error = str(e)
        # Doubles as the barrier: nobody runs ahead (or reads the folder) before the file is in place.
        errors = [e for e in all_gather_object(error) if e]
        if errors:
            raise CheckpointError(errors[0])
        t.last_checkpoint = self.checkpointer.path(t.epoch, step_in_epoch)
