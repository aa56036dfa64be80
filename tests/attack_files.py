"""Weight files crafted to attack: real-looking checkpoints (real weights inside) whose pickle runs
code when a plain ``pickle``/``torch.load(weights_only=False)`` opens them.

* ``runs_code``: a ``__reduce__`` that calls ``builtins.open(marker, "w")`` (creates a file);
* ``os_system``: ``os.system("touch marker")``, the classic payload;
* ``imports_module``: a global of a module that exists only on disk (written here): unpickling
  it imports the module, whose import creates the marker.

Loading any of them safely leaves the marker absent.
"""
import builtins
import os
import sys
import types
from typing import Dict

import torch

EVIL_MODULE = "hiera_video_test_payload"


class _Call:
    """Pickles as a call of ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def runs_code(path: str, marker: str, state: Dict[str, torch.Tensor]) -> str:
    torch.save({"model_state": state, "epoch": 1, "notes": _Call(builtins.open, marker, "w")}, path)
    return path


def os_system(path: str, marker: str, state: Dict[str, torch.Tensor]) -> str:
    torch.save({"model_state": state, "extra": _Call(os.system, f"touch {marker}")}, path)
    return path


def imports_module(path: str, marker: str, state: Dict[str, torch.Tensor], module_dir: str) -> str:
    """The module ``EVIL_MODULE`` is written to ``module_dir`` (put it on sys.path / PYTHONPATH
    where the file is loaded); pickling references it through a stand-in that never touches disk."""
    with open(os.path.join(module_dir, EVIL_MODULE + ".py"), "w") as f:
        f.write(f"open({marker!r}, 'w').write('imported')\n\ndef payload():\n    return {{}}\n")
    fake = types.ModuleType(EVIL_MODULE)

    def payload():
        return {}

    payload.__module__, payload.__qualname__ = EVIL_MODULE, "payload"
    fake.payload = payload
    sys.modules[EVIL_MODULE] = fake
    try:
        torch.save({"model_state": state, "extra": _Call(payload)}, path)
    finally:
        del sys.modules[EVIL_MODULE]
    return path
