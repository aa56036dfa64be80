"""TRAIN.DATASET / TEST.DATASET -> the dataset class, from ``registry.DATASETS`` (each class
lists the names it answers to in ``names``). The dataset modules register themselves when
imported, and ``hiera_video.data`` imports them all, so any import of the package fills the table."""
from hiera_video.registry import DATASETS

from .clip_sampling import UniformClipSampler


def dataset_name(cfg, split: str) -> str:
    """TEST.DATASET for the test split, else TRAIN.DATASET, lower-cased."""
    return (cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET).lower()


def dataset_class(name: str):
    """The class registered for ``name``; ValueError naming the known ones."""
    by_name = {n: cls for _, cls in DATASETS for n in cls.names}
    if name.lower() not in by_name:
        raise ValueError(f"unknown dataset '{name}' (TRAIN.DATASET / TEST.DATASET): expected "
                         f"{', '.join(sorted(by_name)[:-1])} or {sorted(by_name)[-1]}")
    return by_name[name.lower()]


def clip_sampler(cfg, split: str = "test"):
    """The clip sampler of the split's dataset (``clip_sampling``), for the demo and extraction to
    sample as that dataset does; uniform for a dataset without one (AVA's keyframe clips)."""
    return getattr(dataset_class(dataset_name(cfg, split)), "sampler_class", UniformClipSampler).from_cfg(cfg)
