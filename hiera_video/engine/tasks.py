"""Tasks: what a TASK value means to the engine (model, weights, step, evaluation).

The train loop and run_net only talk to a ``Task``; a new task (``mae``, ``detection``)
registers a subclass with ``@register_task("name")`` and needs no change to the loop.
``pretrain.py`` (TASK mae) and ``detection.py`` (TASK detection) are examples.

The module defining it must be imported here (below) so that TASK validation knows it.
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .build import build_model, load_test_weights, load_train_init

TASKS: Dict[str, type] = {}


def register_task(name: str):
    def deco(cls):
        TASKS[name] = cls
        cls.name = name
        return cls
    return deco


class Task:
    """The interface the engine uses. Subclasses override what differs."""

    name = ""
    find_unused_parameters = False  # for DistributedDataParallel

    def __init__(self, cfg):
        self.cfg = cfg

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
        """Final test -> results dict (written by the caller)."""
        raise NotImplementedError

    def summary(self, results: Dict) -> Optional[str]:
        """One line for the log after the test, or None when the task logs its own."""
        return None


@register_task("classification")
class ClassificationTask(Task):
    """Video / image classification: (mixup-)soft-target loss, top-1/top-5, multi-view test."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.num_classes = cfg.MODEL.NUM_CLASSES
        self.loss_func = cfg.MODEL.LOSS_FUNC
        self.smoothing = cfg.MIXUP.LABEL_SMOOTH_VALUE if self.loss_func != "cross_entropy" else 0.0
        self.mixup = None
        if cfg.MIXUP.ENABLE:
            from timm.data import Mixup

            m = cfg.MIXUP
            self.mixup = Mixup(mixup_alpha=m.ALPHA, cutmix_alpha=m.CUTMIX_ALPHA, prob=m.PROB,
                               switch_prob=m.SWITCH_PROB, label_smoothing=self.smoothing,
                               num_classes=self.num_classes)

    def targets(self, video: torch.Tensor, label: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Training inputs and targets: mixup/cutmix (same box on every frame) or smoothed one-hot.

        video ``[B, C, T, H, W]`` (or ``[B, C, H, W]``), label ``[B]`` -> (video, target ``[B, K]``
        soft, or ``[B]`` class indices for cross_entropy)."""
        if self.mixup is not None:
            if video.shape[0] % 2:
                raise ValueError(f"mixup/cutmix pairs samples: the per-process batch ({video.shape[0]}) must be even")
            shape = video.shape
            # timm's Mixup is 2-D; folding time into channels keeps one cutmix box for all frames.
            flat, target = self.mixup(video.reshape(shape[0], -1, *shape[-2:]), label)
            return flat.reshape(shape), target
        if self.loss_func == "cross_entropy":
            return video, label
        off = self.smoothing / self.num_classes
        target = torch.full((label.shape[0], self.num_classes), off, device=label.device)
        target.scatter_(1, label[:, None], 1.0 - self.smoothing + off)
        return video, target

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if self.loss_func == "bce":
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.cross_entropy(logits, target)  # class indices or probabilities

    def training_step(self, model, batch, device):
        video = batch["video"].to(device, non_blocking=True)
        label = batch["label"].to(device, non_blocking=True)
        video, target = self.targets(video, label)
        logits = model(video)
        loss = self.loss(logits, target)
        with torch.no_grad():
            top1 = (logits.argmax(dim=1) == label).float().mean().item() * 100.0
        return loss, {"top1": top1}

    def evaluate(self, model, loader, device, autocast):
        from .evaluate import evaluate_views, val_results

        return val_results(evaluate_views(model, loader, device, autocast, self.num_classes), loader.dataset)

    def test(self, model, loader, device, autocast, checkpoint):
        from .evaluate import evaluate_views, test_results

        res = evaluate_views(model, loader, device, autocast, self.num_classes)
        return test_results(res, loader.dataset, checkpoint)

    def summary(self, results):
        return (f"top1 {results['top1']:.2f}%, top5 {results['top5']:.2f}% over {results['num_videos']} videos "
                f"x {results['num_views']} views")


from . import detection, pretrain  # noqa: E402,F401  (register "detection" and "mae")
