"""``build_loader(cfg, split)``: the one entry point the engine uses for data.

Batches are dicts (default collation of the dataset's items):
  "video" float [B, C, T, H, W], "label" long [B], "index" long [B] (video index in the
  list), "decode_failures" long [B]; for splits "val" and "test" also "view" long [B], "ok" bool [B].

Per process (torch.distributed rank / world size when initialised):
  * train: ``EpochShuffleSampler`` (a DistributedSampler: order from RNG_SEED + epoch,
    drop_last), batch TRAIN.BATCH_SIZE // world_size clips, drop_last. With repeated
    augmentation (R = DATA.TRAIN_CROP_NUM_TEMPORAL x AUG.NUM_SAMPLE > 1) a batch holds R
    clips of each of TRAIN.BATCH_SIZE // world_size // R videos, so TRAIN.BATCH_SIZE stays
    the number of clips per optimiser step. More than DATA.MAX_BAD_FRACTION broken videos
    in an epoch stop the iteration with ``TooManyBadVideos``.
    Call ``loader.set_epoch(epoch)`` (or ``loader.sampler.set_epoch``) before each epoch.
  * val / test: ``ShardSampler`` (videos rank::world, no duplicates); an item holds all of a
    video's views (decoded in one pass), TEST.BATCH_SIZE // views videos a batch, flattened
    to clips; ``loader.views_per_batch`` = TEST.BATCH_SIZE (per process, as PySlowFast) is
    how many clips evaluation gives the model at a time.
All item randomness comes from RNG_SEED, the epoch and the item (``samplers``); the
loader never draws from the caller's global RNGs.
``loader.dataset`` has ``num_videos``, ``video_paths``, ``labels``, ``class_names``.
"""
import torch
from torch.utils.data import DataLoader, default_collate

from hiera_video.utils.dist import get_rank, get_world_size

from .samplers import EpochShuffleSampler, ShardSampler


def build_dataset(cfg, split: str):
    """The dataset named by TRAIN.DATASET (train/val) or TEST.DATASET (test)."""
    name = (cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET).lower()
    if name in ("kinetics", "synthetic"):
        from .kinetics import KineticsDataset

        return KineticsDataset(cfg, split)
    if name == "ssv2":
        from .ssv2 import SSv2Dataset

        return SSv2Dataset(cfg, split)
    if name == "folder":
        from .folders import FolderDataset

        return FolderDataset(cfg, split)
    if name in ("ucf101", "hmdb51"):
        from .official_splits import dataset_class

        return dataset_class(name)(cfg, split)
    raise ValueError(f"unknown dataset '{name}' (TRAIN.DATASET / TEST.DATASET): expected kinetics, ssv2, synthetic, "
                     "folder, ucf101 or hmdb51")


class TooManyBadVideos(RuntimeError):
    """More than DATA.MAX_BAD_FRACTION of an epoch's training videos failed to decode."""


def collate_repeated(items):
    """Default collation, then [B, R, ...] -> [B * R, ...] for items of R clips (repeated
    augmentation, or a video's evaluation views)."""
    batch = default_collate(items)
    return {k: v.flatten(0, 1) for k, v in batch.items()}


class VideoLoader(DataLoader):
    """A DataLoader with ``set_epoch`` forwarded to its sampler and a bad-video budget.

    While iterating a train loader it counts the samples whose video failed to decode
    ("decode_failures" > 0); once they exceed DATA.MAX_BAD_FRACTION of the epoch's samples
    (on this process) it raises ``TooManyBadVideos`` with a summary. ``last_epoch_failures``
    keeps the epoch's decode failures (attempts, replacements that failed too included).
    """

    max_bad_fraction = None  # train loaders only: evaluation leaves broken videos out instead
    last_epoch_failures = 0

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        failures, bad, seen = 0, 0, 0
        budget = len(self.sampler) * (self.max_bad_fraction if self.max_bad_fraction is not None else float("inf"))
        for batch in super().__iter__():
            failures += int(batch["decode_failures"].sum())
            # the budget counts samples whose video failed, not attempts (a replacement may fail too)
            bad += int((batch["decode_failures"] > 0).sum())
            seen += int(batch["index"].numel())
            if bad > budget:
                raise TooManyBadVideos(
                    f"{bad} videos failed to decode within the first {seen} samples of this epoch, more "
                    f"than DATA.MAX_BAD_FRACTION={self.max_bad_fraction} of the {len(self.sampler)} this process "
                    f"reads per epoch ({self.dataset.split} list of {self.dataset.num_videos} videos under "
                    f"'{self.dataset.cfg.DATA.PATH_TO_DATA_DIR}'); the warnings above name each file and reason")
            yield batch
        self.last_epoch_failures = failures


def make_video_loader(cfg, dataset, split: str, batch: int, sampler, collate) -> VideoLoader:
    """``VideoLoader`` with DATA_LOADER.* settings (shared by the video and AVA loaders)."""
    workers = cfg.DATA_LOADER.NUM_WORKERS
    return VideoLoader(
        dataset, batch_size=batch, sampler=sampler, num_workers=workers, drop_last=split == "train",
        collate_fn=collate, pin_memory=bool(cfg.DATA_LOADER.PIN_MEMORY and torch.cuda.is_available()),
        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None,
        # its own generator: creating an iterator then leaves torch's global RNG alone
        generator=torch.Generator().manual_seed(cfg.RNG_SEED))


def build_loader(cfg, split: str) -> VideoLoader:
    """The loader of ``split`` in {"train", "val", "test"}; see the module docstring."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got '{split}'")
    if (cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET).lower() == "ava":
        from .ava import build_ava_loader  # keyframes + person boxes: its own items and collate

        return build_ava_loader(cfg, split)
    if cfg.DATA.SYNTHETIC.ENABLE:
        from .synthetic import ensure_synthetic_dataset

        ensure_synthetic_dataset(cfg)
    dataset = build_dataset(cfg, split)
    world, rank = get_world_size(), get_rank()
    collate = default_collate
    if split == "train":
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
        sampler = EpochShuffleSampler(dataset, world, rank, cfg.RNG_SEED)
        if dataset.repeats > 1:
            collate = collate_repeated
    else:  # an item is all views of one video, decoded once; evaluation regroups views by TEST.BATCH_SIZE
        batch = max(1, cfg.TEST.BATCH_SIZE // dataset.num_views)
        sampler = ShardSampler(len(dataset), world, rank)
        collate = collate_repeated
    loader = make_video_loader(cfg, dataset, split, batch, sampler, collate)
    if split == "train":
        loader.max_bad_fraction = cfg.DATA.MAX_BAD_FRACTION
    else:
        loader.views_per_batch = cfg.TEST.BATCH_SIZE
    return loader
