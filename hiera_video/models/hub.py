"""Checkpoint files in torch.hub's cache: ``$TORCH_HOME/hub/checkpoints/<file name of the URL>``.

A file already there is used as is, with no network. A missing one is downloaded with a
progress bar into a temporary file beside it, checked against its SHA-256 where one is
known, and moved into place only when complete, so the cache never holds half a file.
Offline (``HIERA_VIDEO_OFFLINE=1``, or no connection), it fails at once with the URL and
the exact path to put the file at.
"""
import hashlib
import logging
import os
import urllib.parse
import urllib.request
from typing import Optional

import torch

from hiera_video.utils.io import atomic_write

logger = logging.getLogger(__name__)

OFFLINE_ENV = "HIERA_VIDEO_OFFLINE"
CONNECT_TIMEOUT_S = 30.0


class CheckpointUnavailable(FileNotFoundError):
    """A named checkpoint is neither in the cache nor downloadable now."""


def cache_path(url: str) -> str:
    """Where torch.hub keeps ``url``: ``<torch.hub.get_dir()>/checkpoints/<file name>``."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urllib.parse.urlparse(url).path))


def cached_checkpoint(url: str, sha256: Optional[str] = None, progress: bool = True) -> str:
    """Local path of ``url``'s file, downloading it into the cache if it is not there yet."""
    path = cache_path(url)
    if os.path.isfile(path):
        return path
    how = f"download {url} and save it as {path} (or point TORCH_HOME at a folder whose hub/checkpoints holds it)"
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        raise CheckpointUnavailable(f"{path} is not in the cache and {OFFLINE_ENV} is set: {how}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    logger.info("downloading %s to %s", url, path)
    try:
        _download(url, path, sha256, progress)
    except (OSError, ValueError) as e:  # URLError, timeouts, refused connections are OSErrors
        raise CheckpointUnavailable(f"cannot download {url} ({type(e).__name__}: {e}): {how}") from None
    return path


def _download(url: str, path: str, sha256: Optional[str], progress: bool) -> None:
    """Stream ``url`` into a temporary file in ``path``'s folder; rename it to ``path`` once
    complete and, if ``sha256`` is given, matching. Anything else removes the temporary file."""
    from tqdm import tqdm

    def write(out):
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as response:
            total = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True, unit_divisor=1024,
                      disable=not progress, desc=os.path.basename(path)) as bar:
                while True:
                    chunk = response.read(1 << 20)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if sha256 and digest.hexdigest() != sha256.lower():
            raise ValueError(f"SHA-256 {digest.hexdigest()} != expected {sha256}; the download is corrupt")

    atomic_write(path, write)
