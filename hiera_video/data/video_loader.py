"""``VideoLoader``: the DataLoader every dataset's ``build_loader`` returns (``make_video_loader``)."""
import torch
from torch.utils.data import DataLoader


class TooManyBadVideos(RuntimeError):
    """More than DATA.MAX_BAD_FRACTION of an epoch's training videos failed to decode."""


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

    def close(self) -> None:
        """Stop the persistent workers now. Left to a garbage-collection pass (a trainer and its
        hooks are a reference cycle), the shutdown may find the workers' queues already
        finalised and wait out torch's 5 s join timeout per worker before killing them."""
        iterator, self._iterator = self._iterator, None
        if hasattr(iterator, "_shutdown_workers"):  # a multi-process iterator (None or in-process: nothing to stop)
            iterator._shutdown_workers()

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
                    f"reads per epoch ({self.dataset.split} list of {len(self.dataset)} videos under "
                    f"'{self.dataset.cfg.DATA.PATH_TO_DATA_DIR}'); the warnings above name each file and reason")
            yield batch
        self.last_epoch_failures = failures


def make_video_loader(cfg, dataset, split: str, batch: int, sampler, collate) -> VideoLoader:
    """``VideoLoader`` with DATA_LOADER.* settings; ``batch`` items (videos or keyframes) a batch."""
    workers = cfg.DATA_LOADER.NUM_WORKERS
    return VideoLoader(
        dataset, batch_size=batch, sampler=sampler, num_workers=workers, drop_last=split == "train",
        collate_fn=collate, pin_memory=bool(cfg.DATA_LOADER.PIN_MEMORY and torch.cuda.is_available()),
        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None,
        # its own generator: creating an iterator then leaves torch's global RNG alone
        generator=torch.Generator().manual_seed(cfg.RNG_SEED))
