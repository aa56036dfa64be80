"""Where a dataset generator may write: a missing or empty folder, or its own earlier output.

The generators (``motion``, ``transfer``, ``ava``) mark what they write with ``meta.json``
holding ``"generator": <name>``. Any other non-empty folder belongs to someone else: writing
there could replace a user's ``test.csv`` and mix generated clips with their videos, so the
generator refuses and says what it found.
"""
import json
import os
from typing import Callable, Dict

from hiera_video.errors import ForeignFolderError

META_FILE = "meta.json"


def read_meta(folder: str) -> Dict:
    """``folder/meta.json`` as a dict ({} when absent or unreadable)."""
    try:
        with open(os.path.join(folder, META_FILE)) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def check_generator_target(folder: str, is_own_meta: Callable[[Dict], bool], what: str) -> None:
    """Raise ``ForeignFolderError`` unless ``folder`` is missing, empty, or holds output whose
    meta.json ``is_own_meta`` recognises. ``what`` names the generator in the message."""
    if not os.path.exists(folder):
        return
    if not os.path.isdir(folder):
        raise ForeignFolderError(f"DATA.PATH_TO_DATA_DIR '{folder}' is a file, not a folder: the {what} cannot "
                                 "be generated there")
    entries = sorted(os.listdir(folder))
    if not entries or is_own_meta(read_meta(folder)):
        return
    shown = ", ".join(entries[:8]) + (f" and {len(entries) - 8} more" if len(entries) > 8 else "")
    raise ForeignFolderError(
        f"DATA.PATH_TO_DATA_DIR '{folder}' holds files the {what} generator did not write ({shown}) and no "
        f"{META_FILE} of its own, so it will not write there. To use your own data in this folder, set "
        "DATA.SYNTHETIC.ENABLE False; to generate the demo data, point DATA.PATH_TO_DATA_DIR at an empty or "
        "new folder.")
