"""Kinetics-format clip dataset (map-style) for training, validation and multi-view testing.

Items (the sampler passes ``(index, epoch)`` or a plain index):
  * train: one random clip per video: start uniform over the video, DATA.NUM_FRAMES
    frames every DATA.SAMPLING_RATE frames at DATA.TARGET_FPS; random spatial transform.
  * val: the centre clip, centre crop.
  * test: item ``i`` is video ``i // V``, view ``i % V`` with ``V = NUM_ENSEMBLE_VIEWS x
    NUM_SPATIAL_CROPS``; temporal clip ``view // NUM_SPATIAL_CROPS`` of NUM_ENSEMBLE_VIEWS
    starts spread uniformly from the first to the last possible start; spatial crop
    ``view % NUM_SPATIAL_CROPS``.

Returned dict: "video" float [C, T, H, W], "label" int, "index" int (video index in the
list), "decode_failures" int; test adds "view" int and "ok" bool. A video that fails to
decode is logged (path and reason); in train/val it is replaced by another video drawn
from the item's seed (counted in "decode_failures"), in test the item has ok=False and a
zero "video".
"""
import logging
from typing import Dict, List, Optional

import torch
from torch.utils.data import Dataset

from . import transforms as T
from .samplers import item_seed, seeded
from .video_decoding import VideoDecodeError, decode_clip
from .video_lists import find_class_names, list_path, read_video_list

logger = logging.getLogger(__name__)

MAX_REPLACEMENTS = 20


class KineticsDataset(Dataset):
    """Videos of ``DATA.PATH_TO_DATA_DIR/<split>.csv``; see the module docstring for items."""

    def __init__(self, cfg, split: str):
        self.cfg = cfg
        self.split = split
        self.list_file = list_path(cfg.DATA.PATH_TO_DATA_DIR, split)
        self.video_paths, self.labels = read_video_list(
            self.list_file, cfg.DATA.PATH_LABEL_SEPARATOR, cfg.DATA.PATH_PREFIX, cfg.MODEL.NUM_CLASSES)
        self.class_names: Optional[List[str]] = find_class_names(cfg)
        self.backend = cfg.DATA.DECODING_BACKEND
        self.num_frames = cfg.DATA.NUM_FRAMES
        self.step_sec = cfg.DATA.SAMPLING_RATE / cfg.DATA.TARGET_FPS
        self.seed = cfg.RNG_SEED
        if split == "test":
            self.num_temporal = cfg.TEST.NUM_ENSEMBLE_VIEWS
            self.num_spatial = cfg.TEST.NUM_SPATIAL_CROPS
        else:
            self.num_temporal = self.num_spatial = 1
        self.num_views = self.num_temporal * self.num_spatial
        self.crop_size = cfg.DATA.TRAIN_CROP_SIZE if split == "train" else cfg.DATA.TEST_CROP_SIZE
        self.transform = T.build_train_transform(cfg) if split == "train" else T.build_eval_transform(cfg)

    @property
    def num_videos(self) -> int:
        return len(self.video_paths)

    def __len__(self) -> int:
        return self.num_videos * self.num_views

    def __getitem__(self, key) -> Dict:
        item, epoch = key if isinstance(key, (tuple, list)) else (key, 0)
        if self.split == "test":
            return self._test_item(item)
        failures, index = 0, item
        while True:
            try:
                with seeded(item_seed(self.seed, epoch, item, failures)):
                    video = self._load(index)
                break
            except VideoDecodeError as e:
                failures += 1
                logger.warning("decode failure (%s, item %d): %s; replacing it", self.split, item, e)
                if failures > MAX_REPLACEMENTS:
                    raise RuntimeError(f"{failures} videos in a row failed to decode; last: {e}") from e
                index = int(torch.randint(self.num_videos, (1,), generator=torch.Generator().manual_seed(
                    item_seed(self.seed, epoch, item, failures, 1))))
        return {"video": video, "label": self.labels[index], "index": index, "decode_failures": failures}

    def _load(self, index: int) -> torch.Tensor:
        """Decode + transform one train/val clip -> float [C, T, H, W]."""
        path = self.video_paths[index]
        position = float(torch.rand(())) if self.split == "train" else 0.5
        frames = decode_clip(path, self.backend, self.num_frames, self.step_sec, position=position)
        video = self.transform(T.as_video(frames))
        if self.split != "train":
            video = T.spatial_crop(video, self.crop_size, 1, 1)
        return T.to_model_layout(video)

    def _test_item(self, item: int) -> Dict:
        index, view = divmod(item, self.num_views)
        clip_idx, crop_idx = divmod(view, self.num_spatial)
        position = clip_idx / (self.num_temporal - 1) if self.num_temporal > 1 else 0.5
        ok = True
        try:
            frames = decode_clip(self.video_paths[index], self.backend, self.num_frames, self.step_sec,
                                 position=position)
            video = T.spatial_crop(self.transform(T.as_video(frames)), self.crop_size, crop_idx,
                                   self.num_spatial)
            video = T.to_model_layout(video)
        except VideoDecodeError as e:
            logger.warning("decode failure (test, video %d view %d): %s; marked not ok", index, view, e)
            ok = False
            video = torch.zeros(3, self.num_frames, self.crop_size, self.crop_size)
        return {"video": video, "label": self.labels[index], "index": index, "view": view,
                "decode_failures": int(not ok), "ok": ok}
