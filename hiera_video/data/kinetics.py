"""Kinetics-format clip dataset (map-style) for training, validation and multi-view testing.

Items (the sampler passes ``(index, epoch)`` or a plain index):
  * train: DATA.TRAIN_CROP_NUM_TEMPORAL random clips per video (start uniform over the
    video, DATA.NUM_FRAMES frames every DATA.SAMPLING_RATE frames at DATA.TARGET_FPS),
    each augmented AUG.NUM_SAMPLE times (repeated augmentation).
  * val: the centre clip, centre crop.
  * test: item ``i`` is every view of video ``i``, ``V = NUM_ENSEMBLE_VIEWS x
    NUM_SPATIAL_CROPS``, decoded in one pass over the file; view ``v``: temporal clip
    ``v // NUM_SPATIAL_CROPS`` of NUM_ENSEMBLE_VIEWS starts spread uniformly from the first to
    the last possible start, spatial crop ``v % NUM_SPATIAL_CROPS`` (cut from the same
    resized clip).

Returned dict (train): "video" float [C, T, H, W], "label" int, "index" int (video index in
the list), "decode_failures" int. With R = TRAIN_CROP_NUM_TEMPORAL x AUG.NUM_SAMPLE > 1 a
train item holds R clips: "video" [R, C, T, H, W] and the other keys [R]. Val and test items
hold a video's V views: "video" [V, C, T, H, W], "label", "index", "view", "decode_failures",
"ok" [V] (V = 1 for val). The loader flattens both into batches of clips. A video that fails to
decode is logged (path and reason); in train it is replaced by another video drawn from
the item's seed (counted in "decode_failures"); in val and test the item has ok=False and a
zero "video", so evaluation leaves that video out of the metric and names it (a replacement
would count another video twice).

Why not ``pytorchvideo.data.LabeledVideoDataset``: it is an IterableDataset whose clip
samplers draw from the global RNG, so neither DistributedSampler sharding, exact resume
(order from seed + epoch, augmentation from seed + epoch + item) nor disjoint multi-view
test shards fall out of it; a map-style dataset gives all three with a standard sampler.

Subclasses (ssv2.py) change where videos come from (``_read_index``), which frames a clip
takes (``_clip_times``) and whether a flip changes the label (``flip_label_map``).
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as F

from . import transforms as T
from .samplers import item_seed, seeded
from .video_decoding import VideoDecodeError, clip_times, decode_clips
from .video_lists import find_class_names, list_path, read_video_list

logger = logging.getLogger(__name__)

MAX_REPLACEMENTS = 20


class KineticsDataset(Dataset):
    """Videos of ``DATA.PATH_TO_DATA_DIR/<split>.csv``; see the module docstring for items."""

    def __init__(self, cfg, split: str):
        self.cfg = cfg
        self.split = split
        self.train = split == "train"
        self.skipped_lines: List[str] = []  # list lines left out (bad label, no label), with the reason
        self.video_paths, self.labels, self.class_names = self._read_index(cfg, split)
        for line in self.skipped_lines:
            logger.warning("%s list: skipping %s", split, line)
        self.backend = cfg.DATA.DECODING_BACKEND
        self.num_frames = cfg.DATA.NUM_FRAMES
        self.step_sec = cfg.DATA.SAMPLING_RATE / cfg.DATA.TARGET_FPS
        self.seed = cfg.RNG_SEED
        self.num_temporal = cfg.TEST.NUM_ENSEMBLE_VIEWS if split == "test" else 1
        self.num_spatial = cfg.TEST.NUM_SPATIAL_CROPS if split == "test" else 1
        self.num_views = self.num_temporal * self.num_spatial
        self.train_clips = cfg.DATA.TRAIN_CROP_NUM_TEMPORAL if self.train else 1
        self.train_augs = cfg.AUG.NUM_SAMPLE if self.train else 1
        if self.train_clips < 1 or self.train_augs < 1:
            raise ValueError("DATA.TRAIN_CROP_NUM_TEMPORAL and AUG.NUM_SAMPLE must be >= 1, got "
                             f"{self.train_clips} and {self.train_augs}")
        self.repeats = self.train_clips * self.train_augs
        self.crop_size = cfg.DATA.TRAIN_CROP_SIZE if self.train else cfg.DATA.TEST_CROP_SIZE
        # label -> label after a horizontal flip (None: flipping that class is not allowed)
        self.flip_label_map: Optional[List[Optional[int]]] = None
        self._build_transforms()

    # ---------------------------------------------------------------- subclass hooks
    def _read_index(self, cfg, split: str) -> Tuple[List[str], List[int], Optional[List[str]]]:
        """(video paths, labels, class names) of the split."""
        lst = list_path(cfg.DATA.PATH_TO_DATA_DIR, split)
        paths, labels = read_video_list(lst, cfg.DATA.PATH_LABEL_SEPARATOR, cfg.DATA.PATH_PREFIX,
                                        cfg.MODEL.NUM_CLASSES, bad_lines=self.skipped_lines)
        return paths, labels, find_class_names(cfg)

    def _clip_times(self, duration: float, fps: float, view: Optional[Tuple[int, int]]) -> Sequence[float]:
        """Frame times (s) of a clip: random start when ``view`` is None, else temporal view (j, n)."""
        if view is None:
            position = float(torch.rand(()))
        else:
            j, n = view
            position = j / (n - 1) if n > 1 else 0.5
        start = max(duration - self.num_frames * self.step_sec, 0.0) * position
        return clip_times(start, self.num_frames, self.step_sec)

    def _build_transforms(self) -> None:
        if self.train:
            self.transform = T.build_train_transform(self.cfg)
        else:
            self.transform = T.build_eval_transform(self.cfg)

    # ---------------------------------------------------------------- items
    @property
    def num_videos(self) -> int:
        return len(self.video_paths)

    def __len__(self) -> int:
        return self.num_videos

    def __getitem__(self, key) -> Dict:
        item, epoch = key if isinstance(key, (tuple, list)) else (key, 0)
        if not self.train:
            return self._eval_item(item)
        failures, index = 0, item
        while True:
            try:
                with seeded(item_seed(self.seed, epoch, item, failures)):
                    clips = self._train_clips(index)
                break
            except VideoDecodeError as e:
                failures += 1
                logger.warning("decode failure (train, item %d): %s; replacing it", item, e)
                if failures > MAX_REPLACEMENTS:
                    raise RuntimeError(f"{failures} videos in a row failed to decode; last: {e}") from e
                index = int(torch.randint(self.num_videos, (1,), generator=torch.Generator().manual_seed(
                    item_seed(self.seed, epoch, item, failures, 1))))
        if self.repeats == 1:
            video, label = clips[0]
            return {"video": video, "label": label, "index": index, "decode_failures": failures}
        return {"video": torch.stack([v for v, _ in clips]),
                "label": torch.tensor([lab for _, lab in clips]),
                "index": torch.full((self.repeats,), index),
                "decode_failures": torch.tensor([failures] + [0] * (self.repeats - 1))}

    def _decode(self, index: int, view: Optional[Tuple[int, int]]) -> torch.Tensor:
        """uint8 [T, C, H, W] frames of one clip (``view`` as in ``_clip_times``)."""
        frames = self._decode_views(index, [view])[0]
        if isinstance(frames, VideoDecodeError):
            raise frames
        return frames

    def _decode_views(self, index: int, views: Sequence) -> List:
        """The clips of several views of video ``index`` from one open file: per view uint8
        [T, C, H, W], or the ``VideoDecodeError`` that view met (a file that cannot be opened
        raises it for all). See ``video_decoding.decode_clips``."""
        return decode_clips(self.video_paths[index], self.backend,
                            lambda duration, fps: [self._clip_times(duration, fps, v) for v in views])

    def _train_clips(self, index: int) -> List[Tuple[torch.Tensor, int]]:
        """[(float [C, T, H, W], label)] x repeats."""
        out = []
        for _ in range(self.train_clips):
            frames = self._decode(index, None)
            for _ in range(self.train_augs):
                out.append(self._augment(frames, self.labels[index]))
        return out

    def _augment(self, frames: torch.Tensor, label: int) -> Tuple[torch.Tensor, int]:
        if self.flip_label_map is not None and self.flip_label_map[label] is not None and float(torch.rand(())) < 0.5:
            frames, label = F.horizontal_flip(frames), self.flip_label_map[label]
        return T.to_model_layout(self.transform(T.as_video(frames))), label

    def _eval_item(self, index: int) -> Dict:
        """Every view of video ``index`` (val: the one centre view), decoded in one pass over the
        file: "video" [V, C, T, S, S] and [V] "label", "index", "view", "decode_failures", "ok"
        (False, with a zero clip, for a view that could not be decoded). ``loader`` flattens them."""
        try:
            clips = self._decode_views(index, [(j, self.num_temporal) for j in range(self.num_temporal)])
        except VideoDecodeError as e:
            clips = [e] * self.num_temporal
        crops, ok = [], []  # [T, C, S, S] views into the resized clips; copied once, by the stack below
        for j, frames in enumerate(clips):
            if isinstance(frames, VideoDecodeError):
                logger.warning("decode failure (%s, video %d, temporal view %d): %s; left out of the metric",
                               self.split, index, j, frames)
                blank = torch.zeros(self.num_frames, 3, self.crop_size, self.crop_size)
                crops += [blank] * self.num_spatial
                ok += [False] * self.num_spatial
                continue
            clip = self.transform(T.as_video(frames)).as_subclass(torch.Tensor)
            crops += [T.spatial_crop(clip, self.crop_size, c, self.num_spatial) for c in range(self.num_spatial)]
            ok += [True] * self.num_spatial
        views = self.num_views
        ok_t = torch.tensor(ok)
        video = torch.stack([c.transpose(0, 1) for c in crops])  # [V, C, T, S, S] in one copy (T.to_model_layout)
        return {"video": video, "label": torch.full((views,), self.labels[index]),
                "index": torch.full((views,), index), "view": torch.arange(views),
                "decode_failures": (~ok_t).long(), "ok": ok_t}
