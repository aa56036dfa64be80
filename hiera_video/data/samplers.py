"""Samplers and per-item randomness that make the loader reproducible.

Every sampler yields ``(index, epoch)`` pairs; the dataset derives all of an item's
randomness (clip start, crop, flip, replacement of a broken video) from
``item_seed(seed, epoch, index)``. So a run resumed at epoch E sees exactly the batches
of an uninterrupted run, whatever DATA_LOADER.NUM_WORKERS is and whether workers are
persistent. A run resumed inside an epoch starts the sampler at the position of its
checkpoint (``set_epoch(epoch, start)``), so it continues with the very next batch.
"""
import contextlib
import itertools
import random
from typing import Iterator, Tuple

import numpy as np
import torch
from torch.utils.data import DistributedSampler, Sampler


def item_seed(*keys: int) -> int:
    """A well-mixed 63-bit seed from integer keys (e.g. seed, epoch, index, attempt)."""
    return int(np.random.SeedSequence([int(k) & 0xFFFFFFFF for k in keys]).generate_state(2, np.uint64)[0] >> 1)


@contextlib.contextmanager
def seeded(seed: int):
    """Seed torch's, Python's and NumPy's global generators inside the block, restore them after.

    Libraries that draw from global generators (torchvision v2, timm RandAugment) become
    deterministic per item, and the caller's own random streams are left untouched.
    """
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


class EpochShuffleSampler(DistributedSampler):
    """Training order: a permutation drawn from (seed + epoch), split over ranks, drop_last.

    A ``DistributedSampler`` (``set_epoch`` as usual); with one process it is plain
    shuffling. Yields ``(index, epoch)``. If ``set_epoch`` is not called between epochs the
    epoch advances by itself after each full pass, so epochs never repeat an order.

    ``set_epoch(epoch, start)``: the next pass skips the first ``start`` items of this rank's
    share (those a mid-epoch checkpoint had consumed); later passes start at 0 again.
    ``len()`` stays the full share, so the loader's batches per epoch do not change.
    """

    def __init__(self, dataset, num_replicas: int, rank: int, seed: int):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed,
                         drop_last=True)
        self._explicit = False
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        if not 0 <= start <= self.num_samples:
            raise ValueError(f"sampler start {start} outside this rank's {self.num_samples} items per epoch")
        super().set_epoch(epoch)
        self._explicit = True
        self.start = start

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        # Read and reset the position now, not at the first next(): the pass owns it.
        epoch, start = self.epoch, self.start
        self.start = 0
        return self._iterate(epoch, start)

    def _iterate(self, epoch: int, start: int) -> Iterator[Tuple[int, int]]:
        for index in itertools.islice(super().__iter__(), start, None):
            yield index, epoch
        if not self._explicit:
            self.epoch = epoch + 1
        self._explicit = False


class ShardSampler(Sampler):
    """Evaluation order: items ``rank::world_size`` in order, no padding duplicates.

    Shards are disjoint and together cover every item exactly once (their sizes differ
    by at most one when the item count does not divide). Yields ``(index, 0)``.
    """

    def __init__(self, num_items: int, num_replicas: int = 1, rank: int = 0):
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside world size {num_replicas}")
        self.indices = list(range(rank, num_items, num_replicas))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        return ((i, 0) for i in self.indices)

    def __len__(self) -> int:
        return len(self.indices)
