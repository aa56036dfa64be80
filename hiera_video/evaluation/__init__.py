"""Evaluation metrics: AVA frame-level mAP (official ActivityNet protocol); view-averaged top-k
accuracy of classifiers in ``evaluation.classification``."""
from .ava_map import (AVABox, average_precision, box_iou, detections_from_predictions, evaluate_frame_map,
                      make_image_key, read_boxes_csv, read_exclusions, read_labelmap, write_detections_csv)

__all__ = ["AVABox", "average_precision", "box_iou", "detections_from_predictions", "evaluate_frame_map",
           "make_image_key", "read_boxes_csv", "read_exclusions", "read_labelmap", "write_detections_csv"]
