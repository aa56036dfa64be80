"""TASK detection: AVA action detection with a Hiera backbone and the ROI head (paper A.1).

Model: ``HieraAVADetector`` = the classifier of MODEL.MODEL_NAME built by the engine (its
weights from TRAIN.CHECKPOINT_FILE_PATH, a Kinetics-finetuned official or project file,
loaded into the classifier first, then its head dropped) + ``AVAROIHead`` (RoIAlign of
DETECTION.ROI_XFORM_RESOLUTION at the last-stage stride, spatial max-pool, dropout
MODEL.DROPOUT_RATE, linear to MODEL.NUM_CLASSES). Loss MODEL.LOSS_FUNC: "bce" (sigmoid,
multi-label; default) or "cross_entropy" (softmax, as the paper's appendix says).

Evaluation (val during training, and test): scores of every detector box over the loader,
gathered from all processes, then the official frame-mAP at IoU 0.5 over the label map's
classes (AVA.LABEL_MAP_FILE, 60 for AVA) against AVA.GROUNDTRUTH_FILE without the keyframes
of AVA.EXCLUSION_FILE. Test also writes AVA.DETECTIONS_FILE (official CSV: video_id,
timestamp, x1, y1, x2, y2, action_id, score for the label map's classes) and
AVA.RESULTS_FILE (``mAP``, ``per_class`` AP, class names, counts, and ``random_score_mAP``:
the same boxes with uniform random scores, the chance level) under OUTPUT_DIR.
"""
import json
import logging
import warnings
from typing import Dict, List, Tuple

import numpy as np
import torch

from hiera_video.config import require
from hiera_video.errors import BadCheckpoint
from hiera_video.data.ava import ava_path
from hiera_video.evaluation.ava_map import (detections_from_predictions, evaluate_frame_map, read_labelmap,
                                            write_detections_csv)
from hiera_video.models.checkpoints import read_checkpoint
from hiera_video.models.roi_head import AVAROIHead, HieraAVADetector
from hiera_video.models.weights import MAE_ONLY, load_weights
from hiera_video.utils.collectives import all_gather_object
from hiera_video.utils.io import output_path, write_text

from ..build import build_model, checkpoint_path
from .base import Task, register_task

logger = logging.getLogger(__name__)


def _unwrap(model):
    """The ``HieraAVADetector`` inside DDP / torch.compile wrappers."""
    while not isinstance(model, HieraAVADetector):
        model = getattr(model, "module", None) or getattr(model, "_orig_mod")
    return model


@register_task
class DetectionTask(Task):
    """AVA frame-level action detection (see the module docstring)."""

    name = "detection"

    @classmethod
    def validate(cls, cfg) -> None:
        m, a, d = cfg.MODEL, cfg.AVA, cfg.DATA
        require(m.NUM_CLASSES >= 1, "MODEL.NUM_CLASSES", m.NUM_CLASSES, "must be >= 1 (the label map's ids)")
        require(m.LOSS_FUNC in ("bce", "cross_entropy"), "MODEL.LOSS_FUNC", m.LOSS_FUNC,
                "TASK detection expects bce (multi-label sigmoid) or cross_entropy (softmax)")
        for section in ("TRAIN", "TEST"):
            require(cfg[section].DATASET.lower() == "ava", f"{section}.DATASET", cfg[section].DATASET,
                    "TASK detection reads AVA data: set ava")
        require(not cfg.MIXUP.ENABLE, "MIXUP.ENABLE", cfg.MIXUP.ENABLE, "mixup/cutmix is not defined for person boxes")
        require(0 <= a.DETECTION_SCORE_THRESH <= 1, "AVA.DETECTION_SCORE_THRESH", a.DETECTION_SCORE_THRESH,
                "must be a score in [0, 1]")
        require(len(a.KEYFRAME_RANGE) == 2 and a.KEYFRAME_RANGE[0] <= a.KEYFRAME_RANGE[1], "AVA.KEYFRAME_RANGE",
                a.KEYFRAME_RANGE, "must be [first, last] seconds (902, 1798 for AVA)")
        require(a.FPS > 0, "AVA.FPS", a.FPS, "must be > 0 (frames extracted per second)")
        require(cfg.DETECTION.ROI_XFORM_RESOLUTION >= 1, "DETECTION.ROI_XFORM_RESOLUTION",
                cfg.DETECTION.ROI_XFORM_RESOLUTION, "must be >= 1")
        require(len(d.TRAIN_JITTER_SCALES) == 2 and d.TRAIN_JITTER_SCALES[0] >= d.TRAIN_CROP_SIZE,
                "DATA.TRAIN_JITTER_SCALES", d.TRAIN_JITTER_SCALES,
                f"must be [min, max] short sides >= DATA.TRAIN_CROP_SIZE={d.TRAIN_CROP_SIZE}")

    def __init__(self, cfg):
        super().__init__(cfg)
        a = cfg.AVA
        self.labelmap_path = ava_path(cfg, a.ANNOTATION_DIR, a.LABEL_MAP_FILE)
        self.gt_path = ava_path(cfg, a.ANNOTATION_DIR, a.GROUNDTRUTH_FILE)
        self.exclusions = ava_path(cfg, a.ANNOTATION_DIR, a.EXCLUSION_FILE) if a.EXCLUSION_FILE else None

    # ------------------------------------------------------------------ model and weights
    def build_model(self, for_test: bool = False):
        """Backbone (the engine's classifier of MODEL.MODEL_NAME) + ROI head at its last-stage stride."""
        backbone = build_model(self.cfg, for_test=for_test)
        return self._wrap(backbone)

    def _wrap(self, backbone) -> HieraAVADetector:
        cfg = self.cfg
        stride = backbone.input_size[1] / backbone.stage_grids[-1][1]
        head = AVAROIHead(backbone.stage_dims[-1], num_classes=cfg.MODEL.NUM_CLASSES, resolution=cfg.DETECTION.ROI_XFORM_RESOLUTION,
                          spatial_scale=1.0 / stride, aligned=cfg.DETECTION.ALIGNED, dropout=cfg.MODEL.DROPOUT_RATE,
                          loss=cfg.MODEL.LOSS_FUNC)
        return HieraAVADetector(backbone, head)

    def load_train_init(self, model, path: str) -> None:
        """Kinetics classifier (or MAE encoder) weights -> the backbone: MAE parts and the classifier
        head left out, position embeddings resized, anything else that does not fit is an error."""
        backbone = _unwrap(model).backbone
        load_weights(backbone, checkpoint_path(backbone, path), drop=MAE_ONLY + ("head.",), fresh=("norm.",),
                     hint="the detection backbone")
        logger.info("detection backbone initialised from %s (ROI head starts fresh)", path)

    def load_test_weights(self, model, path: str) -> None:
        """A detection checkpoint of this project (backbone.* and head.* keys)."""
        ckpt = read_checkpoint(path)
        if not any(k.startswith("backbone.") for k in ckpt.state_dict):
            raise BadCheckpoint(f"{path} is not a detection checkpoint (no backbone.* keys): test a checkpoint "
                             "trained with TASK detection; a Kinetics classifier goes in TRAIN.CHECKPOINT_FILE_PATH")
        load_weights(_unwrap(model), ckpt, hint="the detector built from the config")
        logger.info("testing detection weights from %s", path)

    # ------------------------------------------------------------------ training
    def training_step(self, model, batch, device):
        video = batch["video"].to(device, non_blocking=True)
        boxes = batch["boxes"].to(device, non_blocking=True)
        labels = batch["labels"].to(device, non_blocking=True)
        logits = model(video, boxes).float()
        if len(boxes) == 0:  # every box cropped away: no signal, but a graph for backward
            return logits.sum() * 0.0, {"boxes": 0.0}
        loss = _unwrap(model).head.loss(logits, labels)
        return loss, {"boxes": float(len(boxes))}

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def predict(self, model, loader, device, autocast) -> Tuple[List, np.ndarray, np.ndarray, List[str]]:
        """Scores of every box of ``loader`` on all processes: (keys [N], boxes [N, 4] normalised,
        scores [N, K]) in keyframe order, and the keyframes whose frames could not be read."""
        was_training = model.training
        model.eval()
        detector = _unwrap(model)
        rows, failed = [], []
        for batch in loader:
            failed += batch["errors"]
            if len(batch["boxes"]) == 0:
                continue
            with autocast():
                logits = model(batch["video"].to(device, non_blocking=True), batch["boxes"].to(device))
            scores = detector.head.predict(logits.float()).cpu().numpy()
            rows += list(zip(batch["metadata"], batch["norm_boxes"].numpy(), scores))
        model.train(was_training)
        parts = all_gather_object((rows, failed))
        rows = sorted((r for part, _ in parts for r in part), key=lambda r: (r[0][0], r[0][1]))
        failed = sorted(f for _, part in parts for f in part)
        if failed:
            logger.warning("AVA %s: %d keyframes could not be read and are left out of the mAP: %s",
                           loader.dataset.split, len(failed), "; ".join(failed))
        k = self.cfg.MODEL.NUM_CLASSES
        return ([r[0] for r in rows], np.array([r[1] for r in rows], np.float32).reshape(-1, 4),
                np.array([r[2] for r in rows], np.float32).reshape(-1, k), failed)

    def detections(self, keys, boxes, scores):
        """Detections of the label map's classes (score columns ``id - 1``)."""
        labelmap = read_labelmap(self.labelmap_path)
        ids = [c for c in labelmap if 1 <= c <= scores.shape[1]]
        if len(ids) < len(labelmap):
            raise ValueError(f"{self.labelmap_path} names class ids {sorted(set(labelmap) - set(ids))} beyond "
                             f"MODEL.NUM_CLASSES={scores.shape[1]}")
        return detections_from_predictions(keys, boxes, scores[:, [c - 1 for c in ids]], class_ids=ids), labelmap

    def _score(self, dets, labelmap) -> Dict:
        if not dets:
            raise ValueError("no detections to evaluate: the loader gave no box above AVA.DETECTION_SCORE_THRESH="
                             f"{self.cfg.AVA.DETECTION_SCORE_THRESH} (AVA.TEST_PREDICT_BOX_LISTS)")
        return evaluate_frame_map(self.gt_path, dets, labelmap, exclusions=self.exclusions)

    def evaluate(self, model, loader, device, autocast):
        keys, boxes, scores, failed = self.predict(model, loader, device, autocast)
        dets, labelmap = self.detections(keys, boxes, scores)
        res = self._score(dets, labelmap)
        return {"mAP": res["mAP"], "num_keyframes": len(dets), "num_boxes": len(keys), "num_failed": len(failed),
                "failed_keyframes": failed}

    def test(self, model, loader, device, autocast, checkpoint):
        keys, boxes, scores, failed = self.predict(model, loader, device, autocast)
        dets, labelmap = self.detections(keys, boxes, scores)
        res = self._score(dets, labelmap)
        # What the same boxes score without the model: uniform random scores (fixed seed).
        rand = np.random.default_rng(0).random(scores.shape).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the same warnings as above
            chance = self._score(self.detections(keys, boxes, rand)[0], labelmap)["mAP"]
        dataset = loader.dataset
        return {
            "mAP": res["mAP"], "random_score_mAP": chance,
            "per_class": {str(c): ap for c, ap in res["per_class"].items()},
            "class_names": {str(c): n for c, n in labelmap.items()},
            "num_keyframes": len(dets), "num_boxes": len(keys),
            "skipped_keyframes": [f"{v},{t:04d}: {why}" for v, t, why in getattr(dataset, "skipped", [])],
            "failed_keyframes": failed,
            "checkpoint": checkpoint, "groundtruth": self.gt_path, "exclusions": self.exclusions,
            "detections": dets,
        }

    def write_results(self, results, out_dir):
        """AVA.DETECTIONS_FILE (official CSV, from ``detections``) and AVA.RESULTS_FILE, then the summary."""
        results["detections_file"] = output_path(out_dir, self.cfg.AVA.DETECTIONS_FILE)
        write_detections_csv(results["detections_file"], results.pop("detections"))
        written = [results["detections_file"], output_path(out_dir, self.cfg.AVA.RESULTS_FILE)]
        write_text(written[1], json.dumps(results, indent=2))
        return written + super().write_results(results, out_dir)

    def summary(self, results):
        classes = sum(ap is not None for ap in results["per_class"].values())
        return (f"AVA frame-mAP@0.5 {results['mAP']:.4f} (random scores: {results['random_score_mAP']:.4f}) over "
                f"{classes} classes with ground truth, {results['num_keyframes']} keyframes, "
                f"{results['num_boxes']} boxes")
