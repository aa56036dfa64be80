"""``build_loader(cfg, split)``: the one entry point the engine uses for data.

Batches are dicts (default collation of the dataset's items):
  "video" float [B, C, T, H, W], "label" long [B], "index" long [B] (video index in the
  list), "decode_failures" long [B]; for split "test" also "view" long [B], "ok" bool [B].

Per process (torch.distributed rank / world size when initialised):
  * train: ``EpochShuffleSampler`` (a DistributedSampler: order from RNG_SEED + epoch,
    drop_last), batch TRAIN.BATCH_SIZE // world_size, drop_last.
    Call ``loader.set_epoch(epoch)`` (or ``loader.sampler.set_epoch``) before each epoch.
  * val / test: ``ShardSampler`` (items rank::world, no duplicates), batch TEST.BATCH_SIZE
    (per process, as PySlowFast).
All item randomness comes from RNG_SEED, the epoch and the item (``samplers``); the
loader never draws from the caller's global RNGs.
``loader.dataset`` has ``num_videos``, ``video_paths``, ``labels``, ``class_names``.
"""
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from .samplers import EpochShuffleSampler, ShardSampler


def _world():
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def build_dataset(cfg, split: str):
    """The dataset named by TRAIN.DATASET (train/val) or TEST.DATASET (test)."""
    name = (cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET).lower()
    if name in ("kinetics", "synthetic"):
        from .kinetics import KineticsDataset

        return KineticsDataset(cfg, split)
    raise ValueError(f"unknown dataset '{name}' (TRAIN.DATASET / TEST.DATASET): expected kinetics or synthetic")


class VideoLoader(DataLoader):
    """A DataLoader with ``set_epoch`` forwarded to its sampler."""

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)


def build_loader(cfg, split: str) -> VideoLoader:
    """The loader of ``split`` in {"train", "val", "test"}; see the module docstring."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got '{split}'")
    if cfg.DATA.SYNTHETIC.ENABLE:
        from .synthetic import ensure_synthetic_dataset

        ensure_synthetic_dataset(cfg)
    dataset = build_dataset(cfg, split)
    world, rank = _world()
    if split == "train":
        batch = cfg.TRAIN.BATCH_SIZE // world
        if batch < 1:
            raise ValueError(f"TRAIN.BATCH_SIZE={cfg.TRAIN.BATCH_SIZE} is the global batch; it must be at "
                             f"least the number of processes ({world})")
        if len(dataset) < cfg.TRAIN.BATCH_SIZE:
            raise ValueError(f"the train list has {len(dataset)} videos, fewer than one global batch "
                             f"(TRAIN.BATCH_SIZE={cfg.TRAIN.BATCH_SIZE})")
        sampler = EpochShuffleSampler(dataset, world, rank, cfg.RNG_SEED)
    else:
        batch = cfg.TEST.BATCH_SIZE
        sampler = ShardSampler(len(dataset), world, rank)
    workers = cfg.DATA_LOADER.NUM_WORKERS
    return VideoLoader(
        dataset, batch_size=batch, sampler=sampler, num_workers=workers, drop_last=split == "train",
        pin_memory=bool(cfg.DATA_LOADER.PIN_MEMORY and torch.cuda.is_available()),
        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None,
        # its own generator: creating an iterator then leaves torch's global RNG alone
        generator=torch.Generator().manual_seed(cfg.RNG_SEED))
