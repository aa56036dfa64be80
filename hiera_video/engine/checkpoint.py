"""Checkpoints: atomic save (temp file + rename), last K kept, auto-resume, RNG states.

A file is ``{"model_state", "optimizer_state", "scheduler_state", "scaler_state" (float16), "epoch"
(completed epochs), "iteration" (optimizer updates), "step_in_epoch" (updates done in the
epoch in progress: 0 at an epoch end), "sampler" (its position in that epoch), "hooks"
(train-loop hook states), "rng_states" (one per rank), "cfg", "class_names"}``; ``model_state`` makes it
loadable wherever an official ``{"model_state": ...}`` file is.

Names: ``checkpoint_epoch_00002.pyth`` after epoch 2, ``checkpoint_epoch_00003_iter_000500.pyth``
after update 500 of epoch 3 (TRAIN.CHECKPOINT_PERIOD_ITERS). A write that fails (disk full,
file size limit) leaves no partial file and every older checkpoint as it was; a file that
cannot be read (cut short) is named in the error, and auto-resume falls back to the one before.
"""
import errno
import logging
import math
import os
import random
import re
import shutil
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from iopath.common.file_io import g_pathmgr

from hiera_video.models.checkpoints import UnsafeCheckpointError, load_torch_file
from hiera_video.utils.io import atomic_write

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^checkpoint_epoch_(\d+)(?:_iter_(\d+))?\.pyth$")

_WRITE_ERRORS = {errno.ENOSPC: "no space left on the device (disk full)",
                 errno.EFBIG: "file size limit reached (ulimit -f / RLIMIT_FSIZE)",
                 errno.EDQUOT: "disk quota exceeded"}


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or read; the message names the file and the cause."""


def _os_error(e: BaseException) -> Optional[OSError]:
    """The OSError behind ``e``: torch.save reports a failed write as a RuntimeError whose
    context is the file object's OSError."""
    seen = 0
    while e is not None and seen < 10:
        if isinstance(e, OSError) and e.errno is not None:
            return e
        e, seen = e.__cause__ or e.__context__, seen + 1
    return None


def _write_failure(path: str, e: BaseException) -> CheckpointError:
    cause = _os_error(e)
    if cause is not None:
        why = _WRITE_ERRORS.get(cause.errno, os.strerror(cause.errno))
    else:
        why = f"{type(e).__name__}: {e}"
    if "://" not in path:
        try:
            free = shutil.disk_usage(os.path.dirname(path) or ".").free
            why += f"; {free / 2**20:.1f} MiB free on its file system"
        except OSError:
            pass
    return CheckpointError(f"could not write checkpoint {path}: {why}. Nothing was written in its place and "
                           "older checkpoints are untouched; free space (or lower TRAIN.CHECKPOINT_KEEP), "
                           "then run the same command again to resume from the last checkpoint")


def save_atomic(obj, path: str) -> None:
    """``torch.save`` to a temp file beside ``path``, then rename: a kill mid-write leaves
    ``path`` (and any older checkpoint) untouched; a failed write (disk full, file size limit)
    removes the temp file and raises ``CheckpointError`` saying why."""
    try:
        atomic_write(path, lambda f: torch.save(obj, f), fsync=True)
    except (OSError, RuntimeError) as e:
        raise _write_failure(path, e) from e


def load_checkpoint_file(path: str) -> Dict:
    """The checkpoint at ``path``, read as data only (``models.checkpoints.load_torch_file``). A file
    that asks for code raises ``UnsafeCheckpointError``; one that does not load raises
    ``CheckpointError``; each names the file."""
    try:
        state = load_torch_file(path)
    except (UnsafeCheckpointError, FileNotFoundError):
        raise
    except Exception as e:  # noqa: BLE001 - torch.load fails in many ways on a damaged file
        size = os.path.getsize(path) if "://" not in path else "?"
        raise CheckpointError(f"cannot read checkpoint {path} ({size} bytes): it is damaged or incomplete (cut "
                              f"short by a crash or a full disk?) - {type(e).__name__}: {e}") from e
    if not isinstance(state, dict):
        raise CheckpointError(f"cannot read checkpoint {path}: it holds a {type(state).__name__}, not a dict")
    return state


def _order(name: str) -> Optional[Tuple[int, float]]:
    """Training progress of a checkpoint name: (epoch in its name, update in it; inf at the end)."""
    m = _NAME.match(name)
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)) if m.group(2) else math.inf


class Checkpointer:
    """Periodic checkpoints in ``OUTPUT_DIR/checkpoints`` (names in the module docstring).

    Kept: the last ``keep`` epoch-end checkpoints, and the last ``keep`` mid-epoch ones newer
    than the newest epoch end (an epoch end supersedes the mid-epoch files before it).
    """

    def __init__(self, output_dir: str, keep: int = 3):
        self.dir = os.path.join(output_dir, "checkpoints")
        self.keep = keep

    def path(self, epoch: int, step_in_epoch: int = 0) -> str:
        """After ``epoch`` completed epochs and ``step_in_epoch`` updates of the next one."""
        if step_in_epoch:
            return os.path.join(self.dir, f"checkpoint_epoch_{epoch + 1:05d}_iter_{step_in_epoch:06d}.pyth")
        return os.path.join(self.dir, f"checkpoint_epoch_{epoch:05d}.pyth")

    def list(self) -> List[str]:
        """Complete checkpoints, oldest first (temp files of interrupted saves are ignored)."""
        if not g_pathmgr.isdir(self.dir):
            return []
        names = sorted((key, n) for n in g_pathmgr.ls(self.dir) if (key := _order(n)) is not None)
        return [os.path.join(self.dir, n) for _, n in names]

    def last(self) -> Optional[str]:
        found = self.list()
        return found[-1] if found else None

    def save(self, state: Dict, epoch: int, step_in_epoch: int = 0) -> str:
        g_pathmgr.mkdirs(self.dir)
        path = self.path(epoch, step_in_epoch)
        save_atomic(state, path)
        for name in g_pathmgr.ls(self.dir):  # leftovers of saves that were killed
            if ".pyth.tmp." in name:
                g_pathmgr.rm(os.path.join(self.dir, name))
        for old in self._pruned():
            g_pathmgr.rm(old)
        logger.info("saved checkpoint %s", path)
        return path

    def _pruned(self) -> List[str]:
        found = self.list()
        ends = [p for p in found if _order(os.path.basename(p))[1] == math.inf]
        mids = [p for p in found if p not in ends]
        newest_end = _order(os.path.basename(ends[-1])) if ends else None
        superseded = [p for p in mids if newest_end is not None and _order(os.path.basename(p)) < newest_end]
        live = [p for p in mids if p not in superseded]
        return ends[: -self.keep] + superseded + live[: -self.keep]

    def load_last(self) -> Optional[Dict]:
        """The newest checkpoint that loads (an unreadable one is reported and skipped); None
        when there is none, ``CheckpointError`` when there are some and none loads."""
        found = self.list()
        for path in reversed(found):
            try:
                state = load_checkpoint_file(path)
                state["path"] = path
                return state
            except UnsafeCheckpointError:
                raise  # not damage: something put a file that runs code among this run's checkpoints
            except Exception as e:  # noqa: BLE001 - fall back to the previous checkpoint
                logger.warning("%s; falling back to the previous checkpoint", e if isinstance(e, CheckpointError)
                               else f"cannot read {path} ({type(e).__name__}: {e})")
        if found:  # starting over from scratch would silently throw the run away
            raise CheckpointError(f"none of the {len(found)} checkpoint(s) in {self.dir} can be read (see the warnings "
                                  "above); move them away to start training from scratch")
        return None


def rng_state(loader=None) -> Dict:
    """Python, NumPy, torch (CPU and CUDA) generator states, and the loader's own generators, as
    tensors and plain lists (a checkpoint holds data only: ``models.checkpoints``)."""
    version, words, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": [version, list(words), gauss], "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    state["loader"] = [g.get_state() for g in _loader_generators(loader)]
    return state


def set_rng_state(state: Dict, loader=None) -> None:
    """Restore ``rng_state``'s output (also the tuples and NumPy array of earlier versions' files)."""
    version, words, gauss = state["python"]
    random.setstate((version, tuple(words), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for g, s in zip(_loader_generators(loader), state.get("loader", [])):
        g.set_state(s)


def _loader_generators(loader) -> List[torch.Generator]:
    if loader is None:
        return []
    owners = [loader, getattr(loader, "sampler", None), getattr(getattr(loader, "batch_sampler", None), "sampler", None)]
    found = []
    for o in owners:
        g = getattr(o, "generator", None)
        if isinstance(g, torch.Generator) and all(g is not f for f in found):
            found.append(g)
    return found
