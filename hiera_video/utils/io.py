"""Files on disk: every file this project writes goes through ``atomic_write``.

A temporary file beside the target, renamed over it once complete: an interrupted or failed
write leaves the target (and anything older) untouched and no temporary file behind. Paths
with a scheme (``manifold://``, ``s3://``, ...) go through iopath's ``g_pathmgr``.
"""
import contextlib
import os
import tempfile
from typing import Callable, Iterable, IO

from iopath.common.file_io import g_pathmgr

from hiera_video.errors import ForeignFolderError


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it; read once, not per write
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_read_umask()  # what open() gives a new file


def atomic_write(path: str, write: Callable[[IO[bytes]], object], fsync: bool = False) -> None:
    """``write(file)`` (a binary file) to a temporary file beside ``path``, then rename it over
    ``path``. ``fsync`` flushes to disk before the rename (checkpoints)."""
    if "://" in path:
        _atomic_write_remote(path, write)
        return
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".tmp.")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes it owner-only
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _atomic_write_remote(path: str, write) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with g_pathmgr.open(tmp, "wb") as f:
            write(f)
    except BaseException:
        with contextlib.suppress(OSError):
            g_pathmgr.rm(tmp)
        raise
    if g_pathmgr.exists(path):
        g_pathmgr.rm(path)
    if not g_pathmgr.mv(tmp, path):
        raise OSError(f"could not move {tmp} to {path}")


def write_text(path: str, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def write_lines(path: str, lines: Iterable[str]) -> None:
    write_text(path, "".join(f"{line}\n" for line in lines))


def check_writable(out_dir: str) -> None:
    """Create ``out_dir`` if needed and prove it is writable, or raise naming it."""
    try:
        os.makedirs(out_dir, exist_ok=True)
        atomic_write(os.path.join(out_dir, ".write_test"), lambda f: f.write(b"ok"))
        os.remove(os.path.join(out_dir, ".write_test"))
    except OSError as e:
        raise PermissionError(f"output folder '{out_dir}' is not writable ({e.strerror}); choose another --out") from None


def output_path(out_dir: str, path: str) -> str:
    """``path`` under ``out_dir`` unless it is absolute or a URI."""
    return path if os.path.isabs(path) or "://" in path else os.path.join(out_dir, path)


def check_new_files(paths, allow_flag: str = "--overwrite") -> None:
    """Raise ``ForeignFolderError`` naming the files among ``paths`` that already exist (a tool
    that writes lists must not replace a user's own without being told to with ``allow_flag``)."""
    existing = [p for p in paths if os.path.exists(p)]
    if existing:
        raise ForeignFolderError(f"{len(existing)} output file(s) already exist and would be replaced: "
                                 f"{', '.join(existing[:5])}; choose another --out, or pass {allow_flag} to replace them")
