"""TASK classification: finetuning and multi-view testing of a video (or image) classifier."""
import json
from typing import Tuple

import torch
import torch.nn.functional as F

from hiera_video.config import require
from hiera_video.evaluation.classification import evaluate_views, test_results, val_results
from hiera_video.utils.io import output_path, write_lines

from .base import Task, register_task


@register_task
class ClassificationTask(Task):
    """(Mixup-)soft-target loss, top-1/top-5, views of each video averaged in the test."""

    name = "classification"
    test_plots = True

    @classmethod
    def validate(cls, cfg) -> None:
        """MODEL.NUM_CLASSES 0 is counted from the data (folder, ucf101, hmdb51, classnames.txt)."""
        from hiera_video.data.folders import num_classes_from_data

        m, x = cfg.MODEL, cfg.MIXUP
        if m.NUM_CLASSES == 0:  # before the model is built: the dataset counts its classes
            m.NUM_CLASSES = num_classes_from_data(cfg)
        require(m.NUM_CLASSES >= 1, "MODEL.NUM_CLASSES", m.NUM_CLASSES, "must be >= 1 (0: from the data)")
        if x.ENABLE:
            require(x.ALPHA > 0 or x.CUTMIX_ALPHA > 0, "MIXUP.ALPHA/CUTMIX_ALPHA", (x.ALPHA, x.CUTMIX_ALPHA),
                    "MIXUP.ENABLE needs mixup or cutmix alpha > 0")
            require(m.LOSS_FUNC != "cross_entropy", "MODEL.LOSS_FUNC", m.LOSS_FUNC,
                    "mixup/cutmix give soft targets: use soft_cross_entropy or bce")

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
        return val_results(evaluate_views(model, loader, device, autocast, self.num_classes), loader.dataset)

    def test(self, model, loader, device, autocast, checkpoint):
        res = evaluate_views(model, loader, device, autocast, self.num_classes)
        return test_results(res, loader.dataset, checkpoint)

    def write_results(self, results, out_dir):
        """TEST.SAVE_PREDICTIONS_PATH: one JSON line per video (``predictions``), then the summary."""
        path = output_path(out_dir, self.cfg.TEST.SAVE_PREDICTIONS_PATH)
        write_lines(path, (json.dumps(row) for row in results.pop("predictions")))
        results["predictions_file"] = path
        return [path] + super().write_results(results, out_dir)

    def summary(self, results):
        return (f"top1 {results['top1']:.2f}%, top5 {results['top5']:.2f}% over {results['num_videos']} videos "
                f"x {results['num_views']} views")
