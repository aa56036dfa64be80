"""The batch contract: every key a dataset's ``collate`` puts in a batch, written down once.

Both kinds of batch count clips: ``batch["video"].shape[0]`` is the unit of the logged
clips/s (a classification clip, or the clip around one AVA keyframe), never the boxes.
"""
from typing import List, Tuple, TypedDict

import torch


class ClipBatch(TypedDict, total=False):
    """A batch of B clips (``ClipDataset.collate``); "view" and "ok" in val / test only.

    video: float [B, C, T, H, W], normalised.
    label: long [B], the class of each clip.
    index: long [B], the clip's video in the dataset's list (a video's views share it).
    decode_failures: long [B]; train: videos that failed before this clip's one decoded
        (counted once per item); val / test: 1 for a view that could not be decoded.
    view: long [B], view ``temporal * NUM_SPATIAL_CROPS + spatial`` of its video.
    ok: bool [B], False for a view that could not be decoded (a zero clip, left out of the metric).
    """

    video: torch.Tensor
    label: torch.Tensor
    index: torch.Tensor
    decode_failures: torch.Tensor
    view: torch.Tensor
    ok: torch.Tensor


class AVABatch(TypedDict):
    """B keyframe clips with N person boxes in all (``ava.ava_collate``).

    video: float [B, C, T, H, W].
    boxes: float [N, 5], (batch index, x1, y1, x2, y2) in clip pixels.
    labels: float [N, K], multi-hot (column = action id - 1).
    norm_boxes: float [N, 4], the boxes as in the CSV, normalised to [0, 1] (what detections are reported with).
    metadata: N (video_id, timestamp) pairs, the keyframe of each box.
    index: long [B], the keyframe in the dataset.
    decode_failures: long [B], as in ``ClipBatch``.
    errors: "video,timestamp: reason" of each val / test keyframe whose frames could not be read.
    """

    video: torch.Tensor
    boxes: torch.Tensor
    labels: torch.Tensor
    norm_boxes: torch.Tensor
    metadata: List[Tuple[str, int]]
    index: torch.Tensor
    decode_failures: torch.Tensor
    errors: List[str]
