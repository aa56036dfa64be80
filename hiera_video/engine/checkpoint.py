"""Checkpoints: atomic save (temp file + rename), last K kept, auto-resume, RNG states.

A file is ``{"model_state", "optimizer_state", "scheduler_state", "scaler_state", "epoch"
(completed epochs), "iteration" (optimizer updates), "rng_states" (one per rank), "cfg"}``;
``model_state`` makes it loadable wherever an official ``{"model_state": ...}`` file is.
"""
import logging
import os
import random
import re
from typing import Dict, List, Optional

import numpy as np
import torch
from iopath.common.file_io import g_pathmgr

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^checkpoint_epoch_(\d+)\.pyth$")


def save_atomic(obj, path: str) -> None:
    """``torch.save`` to a temp file beside ``path``, then rename: a kill mid-write leaves
    ``path`` (and any older checkpoint) untouched."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with g_pathmgr.open(tmp, "wb") as f:
        torch.save(obj, f)
        if hasattr(f, "fileno"):
            f.flush()
            os.fsync(f.fileno())
    if "://" in path:
        if g_pathmgr.exists(path):
            g_pathmgr.rm(path)
        if not g_pathmgr.mv(tmp, path):
            raise OSError(f"could not move {tmp} to {path}")
    else:
        os.replace(tmp, path)


def load_checkpoint_file(path: str) -> Dict:
    if not g_pathmgr.exists(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    with g_pathmgr.open(path, "rb") as f:
        return torch.load(f, map_location="cpu", weights_only=False)


class Checkpointer:
    """Periodic checkpoints in ``OUTPUT_DIR/checkpoints/checkpoint_epoch_NNNNN.pyth``."""

    def __init__(self, output_dir: str, keep: int = 3):
        self.dir = os.path.join(output_dir, "checkpoints")
        self.keep = keep

    def path(self, epoch: int) -> str:
        return os.path.join(self.dir, f"checkpoint_epoch_{epoch:05d}.pyth")

    def list(self) -> List[str]:
        """Complete checkpoints, oldest first (temp files of interrupted saves are ignored)."""
        if not g_pathmgr.isdir(self.dir):
            return []
        names = sorted((int(m.group(1)), n) for n in g_pathmgr.ls(self.dir) if (m := _NAME.match(n)))
        return [os.path.join(self.dir, n) for _, n in names]

    def last(self) -> Optional[str]:
        found = self.list()
        return found[-1] if found else None

    def save(self, state: Dict, epoch: int) -> str:
        g_pathmgr.mkdirs(self.dir)
        path = self.path(epoch)
        save_atomic(state, path)
        for name in g_pathmgr.ls(self.dir):  # leftovers of saves that were killed
            if ".pyth.tmp." in name:
                g_pathmgr.rm(os.path.join(self.dir, name))
        for old in self.list()[: -self.keep]:
            g_pathmgr.rm(old)
        logger.info("saved checkpoint %s", path)
        return path

    def load_last(self) -> Optional[Dict]:
        """The newest checkpoint that loads (an unreadable one is reported and skipped)."""
        for path in reversed(self.list()):
            try:
                state = load_checkpoint_file(path)
                state["path"] = path
                return state
            except Exception as e:  # noqa: BLE001 - fall back to the previous checkpoint
                logger.warning("cannot read %s (%s: %s); trying the previous checkpoint", path, type(e).__name__, e)
        return None


def rng_state(loader=None) -> Dict:
    """Python, NumPy, torch (CPU and CUDA) generator states, and the loader's own generators."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    state["loader"] = [g.get_state() for g in _loader_generators(loader)]
    return state


def set_rng_state(state: Dict, loader=None) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
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
