"""``ClipDataset``: a list of labelled videos as a map-style dataset of clips, for training,
validation and multi-view testing. Subclasses (``kinetics``, ``ssv2``, ``folders``,
``official_splits``) say where the videos come from (``_read_index``); which frames a clip takes
is their ``sampler_class`` (``clip_sampling``: uniform by default, SSv2's segments).

Items (the sampler passes ``(index, epoch)`` or a plain index):
  * train: DATA.TRAIN_CROP_NUM_TEMPORAL random clips per video (``sampler.random_clip``), each
    augmented AUG.NUM_SAMPLE times (repeated augmentation).
  * val: the centre clip, centre crop.
  * test: item ``i`` is every view of video ``i``, ``V = NUM_ENSEMBLE_VIEWS x
    NUM_SPATIAL_CROPS``, decoded in one pass over the file; view ``v``: temporal view
    ``v // NUM_SPATIAL_CROPS`` of NUM_ENSEMBLE_VIEWS (``sampler.view``), spatial crop
    ``v % NUM_SPATIAL_CROPS`` (cut from the same resized clip).

Returned dict (train): "video" float [C, T, H, W], "label" int, "index" int (video index in
the list), "decode_failures" int. With R = TRAIN_CROP_NUM_TEMPORAL x AUG.NUM_SAMPLE > 1 a
train item holds R clips: "video" [R, C, T, H, W] and the other keys [R]. Val and test items
hold a video's V views: "video" [V, C, T, H, W], "label", "index", "view", "decode_failures",
"ok" [V] (V = 1 for val). ``collate`` flattens both into a ``batch.ClipBatch`` of clips. A
video that fails to decode is logged (path and reason); in train it is replaced by another
video drawn from the item's seed (counted in "decode_failures"); in val and test the item has
ok=False and a zero "video", so evaluation leaves that video out of the metric and names it
(a replacement would count another video twice).

Why not ``pytorchvideo.data.LabeledVideoDataset``: it is an IterableDataset whose clip
samplers draw from the global RNG, so neither DistributedSampler sharding, exact resume
(order from seed + epoch, augmentation from seed + epoch + item) nor disjoint multi-view
test shards fall out of it; a map-style dataset gives all three with a standard sampler.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch.utils.data import Dataset, default_collate
from torchvision.transforms.v2 import functional as F

from hiera_video.errors import ConfigError

from . import transforms as T
from .batch import ClipBatch
from .clip_sampling import UniformClipSampler
from .samplers import EpochShuffleSampler, ShardSampler, item_seed, seeded
from .video_decoding import VideoDecodeError, decode_clips
from .video_loader import VideoLoader, make_video_loader

logger = logging.getLogger(__name__)

MAX_REPLACEMENTS = 20


def check_num_classes(cfg, classes: Sequence[str], source: str) -> None:
    """ConfigError unless MODEL.NUM_CLASSES is 0 (take it from the data) or ``len(classes)``."""
    if cfg.MODEL.NUM_CLASSES not in (0, len(classes)):
        raise ConfigError(f"MODEL.NUM_CLASSES={cfg.MODEL.NUM_CLASSES} but {source} has {len(classes)} classes "
                          f"({', '.join(classes[:10])}{' ...' if len(classes) > 10 else ''}); set it to "
                          f"{len(classes)}, or 0 to take it from the data")


def collate_repeated(items) -> ClipBatch:
    """Default collation, then [B, R, ...] -> [B * R, ...] for items of R clips (repeated
    augmentation, or a video's evaluation views)."""
    batch = default_collate(items)
    return {k: v.flatten(0, 1) for k, v in batch.items()}


class ClipDataset(Dataset):
    """Clips of labelled videos; see the module docstring for items."""

    names: Tuple[str, ...] = ()  # the TRAIN.DATASET / TEST.DATASET values meaning this class
    sampler_class = UniformClipSampler

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
        self.sampler = self.sampler_class.from_cfg(cfg)
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
        """(video paths, labels, class names or None) of the split."""
        raise NotImplementedError

    def _build_transforms(self) -> None:
        self.transform = T.build_train_transform(self.cfg) if self.train else T.build_eval_transform(self.cfg)

    def video_path(self, index: int) -> str:
        """The file of video ``index`` (SSv2 falls back to a resized ``.mp4``)."""
        return self.video_paths[index]

    # ---------------------------------------------------------------- items
    @property
    def num_videos(self) -> int:
        return len(self.video_paths)

    def __len__(self) -> int:
        return self.num_videos

    def clip_times(self, duration: float, fps: float, view: Optional[Tuple[int, int]]) -> List[float]:
        """Frame times (s) of a clip: random when ``view`` is None, else temporal view (j, n)."""
        return self.sampler.random_clip(duration, fps) if view is None else self.sampler.view(duration, fps, *view)

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

    def decode(self, index: int, view: Optional[Tuple[int, int]]) -> torch.Tensor:
        """uint8 [T, C, H, W] frames of one clip (``view`` as in ``clip_times``)."""
        frames = self._decode_views(index, [view])[0]
        if isinstance(frames, VideoDecodeError):
            raise frames
        return frames

    def _decode_views(self, index: int, views: Sequence) -> List:
        """The clips of several views of video ``index`` from one open file: per view uint8
        [T, C, H, W], or the ``VideoDecodeError`` that view met (a file that cannot be opened
        raises it for all). See ``video_decoding.decode_clips``."""
        return decode_clips(self.video_path(index), self.backend,
                            lambda duration, fps: [self.clip_times(duration, fps, v) for v in views])

    def _train_clips(self, index: int) -> List[Tuple[torch.Tensor, int]]:
        """[(float [C, T, H, W], label)] x repeats."""
        out = []
        for _ in range(self.train_clips):
            frames = self.decode(index, None)
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
        (False, with a zero clip, for a view that could not be decoded)."""
        try:
            clips = self._decode_views(index, [(j, self.num_temporal) for j in range(self.num_temporal)])
        except VideoDecodeError as e:
            clips = [e] * self.num_temporal
        views, ok = [], []  # per temporal view [num_spatial, C, T, S, S]
        for j, frames in enumerate(clips):
            if isinstance(frames, VideoDecodeError):
                logger.warning("decode failure (%s, video %d, temporal view %d): %s; left out of the metric",
                               self.split, index, j, frames)
                views.append(torch.zeros(self.num_spatial, 3, self.num_frames, self.crop_size, self.crop_size))
                ok += [False] * self.num_spatial
                continue
            views.append(T.eval_views(frames, self.transform, self.crop_size, self.num_spatial))
            ok += [True] * self.num_spatial
        n, ok_t = self.num_views, torch.tensor(ok)
        return {"video": torch.cat(views), "label": torch.full((n,), self.labels[index]),
                "index": torch.full((n,), index), "view": torch.arange(n),
                "decode_failures": (~ok_t).long(), "ok": ok_t}

    def collate(self, items: List[Dict]) -> ClipBatch:
        """Items -> a batch of clips (``batch.ClipBatch``)."""
        return collate_repeated(items) if not self.train or self.repeats > 1 else default_collate(items)

    # ---------------------------------------------------------------- loader
    @classmethod
    def build_loader(cls, cfg, split: str, world: int, rank: int) -> VideoLoader:
        """Per process: train: ``EpochShuffleSampler``, TRAIN.BATCH_SIZE // world clips (R of each
        of TRAIN.BATCH_SIZE // world // R videos), drop_last, the DATA.MAX_BAD_FRACTION budget;
        val / test: ``ShardSampler``, TEST.BATCH_SIZE // views videos a batch, and
        ``views_per_batch`` = TEST.BATCH_SIZE clips for evaluation to regroup by."""
        dataset = cls(cfg, split)
        if split != "train":  # an item is all views of one video, decoded once
            loader = make_video_loader(cfg, dataset, split, max(1, cfg.TEST.BATCH_SIZE // dataset.num_views),
                                       ShardSampler(len(dataset), world, rank), dataset.collate)
            loader.views_per_batch = cfg.TEST.BATCH_SIZE
            return loader
        clips = cfg.TRAIN.BATCH_SIZE // world
        if clips < 1:
            raise ValueError(f"TRAIN.BATCH_SIZE={cfg.TRAIN.BATCH_SIZE} is the global batch; it must be at "
                             f"least the number of processes ({world})")
        if clips % dataset.repeats:
            raise ValueError(f"the per-process batch {clips} (TRAIN.BATCH_SIZE / processes) must divide by the "
                             f"clips per video, DATA.TRAIN_CROP_NUM_TEMPORAL x AUG.NUM_SAMPLE = {dataset.repeats}")
        batch = clips // dataset.repeats
        if len(dataset) < batch * world:
            raise ValueError(f"the train list has {len(dataset)} videos, fewer than one global batch "
                             f"(TRAIN.BATCH_SIZE={cfg.TRAIN.BATCH_SIZE} clips, {dataset.repeats} per video)")
        loader = make_video_loader(cfg, dataset, split, batch, EpochShuffleSampler(dataset, world, rank, cfg.RNG_SEED),
                                   dataset.collate)
        loader.max_bad_fraction = cfg.DATA.MAX_BAD_FRACTION
        return loader
