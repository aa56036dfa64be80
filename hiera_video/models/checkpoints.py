"""The one reader of every weight file this project accepts, and it reads them as data only.

Sources (``read_checkpoint``):

* ``*.pth`` / ``*.pyth`` / ``*.pt`` (``torch.save``): the release's ``{"model_state": ...}``, this
  project's checkpoints (training state too), a bare state dict, ``{"model"|"state_dict": ...}``.
  Read with ``torch.load(weights_only=True)``: a pickle that asks for anything but tensors,
  numbers, strings, lists, tuples and dicts is refused before any of it runs
  (``UnsafeCheckpointError``). The only classes allowed beyond those are NumPy's array
  reconstruction (``LEGACY_SAFE_GLOBALS``), which checkpoints of earlier versions of this project
  hold in their RNG states; they load and resume as they are.
* ``*.safetensors``: weights only, by design; the header's metadata (``class_names``, ...) too.
* a folder with ``model.safetensors`` and ``config.json``: a Hugging Face Hub model (the
  release's ``facebook/hiera_*`` repos, or ``hiera-export --format hf``), see ``hf_format``.
* ``hf-hub:owner/name[@revision]``: that Hub repo from huggingface_hub's cache (``hf_format``).

Release tags (``"mae_k400"``) are resolved to files by ``zoo.resolve_pretrained`` before this.
What a caller keeps of the weights is ``weights.load_weights``'s business.
"""
import os
import pickle
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from iopath.common.file_io import g_pathmgr

from hiera_video.errors import BadCheckpoint, UnsafeCheckpointError

from . import hf_format

__all__ = ["Checkpoint", "UnsafeCheckpointError", "load_torch_file", "read_checkpoint", "read_state_dict",
           "stored_class_names"]

STATE_DICT_KEYS = ("model_state", "model", "state_dict")


def _legacy_safe_globals() -> List[Any]:
    """What earlier checkpoints of this project need beyond plain data: NumPy arrays (the NumPy
    RNG state), rebuilt by ``_reconstruct`` from their dtype and bytes (no other code runs)."""
    core = getattr(np, "_core", None) or np.core  # NumPy 2 / 1
    found = [core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]
    if core.__name__ != "numpy.core":  # files written under NumPy 1 name its old module path
        found.append((core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct"))
    return found


LEGACY_SAFE_GLOBALS = _legacy_safe_globals()


def _allow_legacy_globals() -> None:
    """The one allowlist (``torch.serialization.add_safe_globals``), applied once."""
    try:
        torch.serialization.add_safe_globals(LEGACY_SAFE_GLOBALS)
    except (TypeError, ValueError):  # torch < 2.5 takes no (object, name) pairs
        torch.serialization.add_safe_globals([g for g in LEGACY_SAFE_GLOBALS if not isinstance(g, tuple)])


_allow_legacy_globals()


@dataclass
class Checkpoint:
    """What a source holds: ``state_dict`` (model weights; a ``module.`` prefix from DDP removed)
    and ``meta`` (everything else: a project checkpoint's training state, ``class_names`` and
    ``cfg``; a Hub folder's ``config``). ``path`` is the file or folder read."""

    path: str
    state_dict: Dict[str, torch.Tensor]
    meta: Dict[str, Any] = field(default_factory=dict)

    @property
    def class_names(self) -> Optional[List[str]]:
        names = self.meta.get("class_names") or (self.meta.get("config") or {}).get("class_names")
        return list(names) if names else None


def load_torch_file(path: str, mmap: bool = False) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU. A file whose pickle asks for code or a class
    raises ``UnsafeCheckpointError`` naming it (nothing in it has run); a file that is not a torch
    file at all raises ``pickle.UnpicklingError``/``RuntimeError`` as torch does."""
    if not g_pathmgr.exists(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        if mmap and "://" not in path:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        with g_pathmgr.open(path, "rb") as f:
            return torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        if found is None and "Weights only load failed" not in str(e):
            raise
        what = f"'{found.group(1)}'" if found else "a global outside the allowlist"
        raise UnsafeCheckpointError(
            f"{path} holds something other than weights: its pickle asks for {what}, which could run code when "
            "loaded, so it was refused and nothing in it ran. Weights of this project, the official release and "
            "the Hugging Face Hub hold only tensors, numbers, strings, lists and dicts. If you trust the file's "
            "source, re-save its tensors (torch.save({'model_state': state_dict}, new_path)) or convert it to "
            "safetensors, and load that") from None


def read_checkpoint(source: str) -> Checkpoint:
    """Read ``source`` (a file, a Hub folder or an ``hf-hub:`` id: module docstring); a source that
    holds no state dict raises a ValueError saying what was expected."""
    if hf_format.is_hub_id(source):
        return _read_folder(hf_format.hub_folder(source))
    if "://" not in source and os.path.isdir(source):
        return _read_folder(source)
    if source.endswith(".safetensors"):
        return _read_safetensors(source)
    return _read_torch(source)


def _read_torch(path: str) -> Checkpoint:
    try:
        obj = load_torch_file(path)
    except (UnsafeCheckpointError, FileNotFoundError):
        raise
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise BadCheckpoint(f"{path} is not a PyTorch checkpoint ({type(e).__name__}: {e}); expected a file saved "
                         "with torch.save({'model_state': state_dict}), a .safetensors file or a Hub folder") from e
    state, meta = obj, {}
    if isinstance(obj, dict):
        key = next((k for k in STATE_DICT_KEYS if isinstance(obj.get(k), dict)), None)
        if key is not None:
            state, meta = obj[key], {k: v for k, v in obj.items() if k != key}
    return Checkpoint(path, _checked_state(state, path), meta)


def _read_safetensors(path: str) -> Checkpoint:
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    if not g_pathmgr.exists(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    local = g_pathmgr.get_local_path(path)
    try:
        state = load_file(local, device="cpu")
        with safe_open(local, framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError) as e:
        raise BadCheckpoint(f"{path} is not a readable safetensors file ({e})") from e
    return Checkpoint(path, _checked_state(state, path), hf_format.decode_metadata(header))


def _read_folder(folder: str) -> Checkpoint:
    weights = os.path.join(folder, hf_format.WEIGHTS_FILE)
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"{folder} is a folder without {hf_format.WEIGHTS_FILE}; expected a Hugging Face "
                                f"model folder ({hf_format.WEIGHTS_FILE} and {hf_format.CONFIG_FILE}) or a file")
    ckpt = _read_safetensors(weights)
    ckpt.meta["config"] = hf_format.read_config(folder)
    return Checkpoint(folder, ckpt.state_dict, ckpt.meta)


def _checked_state(state: Any, path: str) -> Dict[str, torch.Tensor]:
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise BadCheckpoint(f"{path} holds no state dict; expected {{'model_state': {{name: tensor}}}}")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}


def read_state_dict(source: str) -> Dict[str, torch.Tensor]:
    """The model weights of ``source`` (any kind ``read_checkpoint`` reads)."""
    return read_checkpoint(source).state_dict


def stored_class_names(source: str) -> Optional[List[str]]:
    """The class names a source carries (this project's checkpoints, safetensors metadata, a Hub
    folder's config), or None: for release files, tags, URIs, or a file that does not read (its
    loader says why when the weights are loaded)."""
    if not source or (not hf_format.is_hub_id(source) and ("://" in source or not os.path.exists(source))):
        return None
    try:
        if source.endswith((".safetensors",)) or os.path.isdir(source) or hf_format.is_hub_id(source):
            return read_checkpoint(source).class_names
        obj = load_torch_file(source, mmap=True)
    except (ValueError, OSError, RuntimeError, pickle.UnpicklingError):
        return None
    names = obj.get("class_names") if isinstance(obj, dict) else None
    return list(names) if names else None
