"""``build_loader(cfg, split)``: the one entry point the engine uses for data.

The dataset class is the one ``registry.DATASETS`` holds for TRAIN.DATASET (train, val) or
TEST.DATASET (test) (``lookup``); it brings its items, its collate (``batch`` lists the keys)
and its ``build_loader(cfg, split, world, rank)``:
  * train: ``EpochShuffleSampler`` (a DistributedSampler: order from RNG_SEED + epoch,
    drop_last), TRAIN.BATCH_SIZE // world_size clips a batch. With repeated augmentation
    (R = DATA.TRAIN_CROP_NUM_TEMPORAL x AUG.NUM_SAMPLE > 1) a batch holds R clips of each of
    TRAIN.BATCH_SIZE // world_size // R videos, so TRAIN.BATCH_SIZE stays the number of clips
    per optimiser step. More than DATA.MAX_BAD_FRACTION broken videos in an epoch stop the
    iteration with ``TooManyBadVideos``. Call ``loader.set_epoch(epoch)`` before each epoch.
  * val / test: ``ShardSampler`` (items rank::world, no duplicates); a clip dataset's item holds
    all of a video's views (decoded in one pass), TEST.BATCH_SIZE // views videos a batch,
    flattened to clips; ``loader.views_per_batch`` = TEST.BATCH_SIZE (per process, as
    PySlowFast) is how many clips evaluation gives the model at a time.
All item randomness comes from RNG_SEED, the epoch and the item (``samplers``); the
loader never draws from the caller's global RNGs.
``loader.dataset`` of a clip dataset has ``num_videos``, ``video_paths``, ``labels``, ``class_names``.
"""
from hiera_video.utils.collectives import get_rank, get_world_size

# imported for their registration in registry.DATASETS
from . import ava, folders, hmdb51, kinetics, ssv2, ucf101  # noqa: F401
from .lookup import dataset_class, dataset_name
from .video_loader import TooManyBadVideos, VideoLoader

__all__ = ["TooManyBadVideos", "build_dataset", "build_loader"]


def build_dataset(cfg, split: str):
    """The dataset named by TRAIN.DATASET (train/val) or TEST.DATASET (test)."""
    return dataset_class(dataset_name(cfg, split))(cfg, split)


def build_loader(cfg, split: str) -> VideoLoader:
    """The loader of ``split`` in {"train", "val", "test"}; see the module docstring."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got '{split}'")
    return dataset_class(dataset_name(cfg, split)).build_loader(cfg, split, get_world_size(), get_rank())
