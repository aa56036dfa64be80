"""The app's one folder on disk: every upload, every result and Gradio's own cache live in it.

    <root>/                   GRADIO_TEMP_DIR: Gradio's uploads (<root>/<sha256>/<name>) and cache
    <root>/sessions/<hash>/   one folder per browser session, one subfolder per job
    <root>/tmp/               tempfile's folder for this process (libraries' stray temporary files)

A session ends when its browser tab closes or reloads (Gradio's ``unload`` event, fired when the
tab's heartbeat connection drops): its folder goes, and so does every upload it used that no
other live session uses (Gradio stores two uploads of the same bytes once). The whole root goes
when the server stops. Uploads that no job ever used, and anything a session left behind, are
also removed by Gradio's ``delete_cache`` sweep once older than ``max_file_age``.
"""
import contextlib
import logging
import os
import shutil
import tempfile
import threading
from typing import Dict, Iterator, Set

logger = logging.getLogger(__name__)


class Workspace:
    """The root folder, the sessions' folders and which session uses which upload."""

    def __init__(self, parent: str = ""):
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="hiera-app-", dir=parent or None))
        self.sessions_dir = os.path.join(self.root, "sessions")
        self.tmp_dir = os.path.join(self.root, "tmp")
        os.makedirs(self.sessions_dir)
        os.makedirs(self.tmp_dir)
        self._lock = threading.Lock()
        self._users: Dict[str, Set[str]] = {}  # upload path -> live sessions that used it
        self._protected: Set[str] = set()  # examples Gradio copied into the cache: shared by everyone
        self._ended: Set[str] = set()
        self._jobs = 0

    def route_temporary_files(self) -> None:
        """Send Gradio's uploads and cache, and this process's temporary files, into the root.
        Call before importing gradio: some of its modules read GRADIO_TEMP_DIR on import."""
        os.environ["GRADIO_TEMP_DIR"] = self.root
        os.environ["TMPDIR"] = self.tmp_dir
        tempfile.tempdir = self.tmp_dir

    def protect_existing(self) -> None:
        """Files already in the root (the examples, copied there when the page was built) belong to
        every session: never deleted when a session ends."""
        for folder, _, files in os.walk(self.root):
            self._protected.update(os.path.join(folder, f) for f in files)

    def claim(self, session: str, path: str) -> None:
        """``session`` uses the upload ``path``: it is deleted when the last session using it ends."""
        path = os.path.realpath(path)
        if not path.startswith(self.root + os.sep) or path in self._protected:
            return
        with self._lock:
            self._users.setdefault(path, set()).add(session)

    @contextlib.contextmanager
    def job(self, session: str, kind: str) -> Iterator[str]:
        """A new folder for one job's results; removed at the end if the session ended meanwhile."""
        with self._lock:
            self._jobs += 1
            folder = os.path.join(self.sessions_dir, session or "no-session", f"{self._jobs:05d}-{kind}")
        os.makedirs(folder)
        try:
            yield folder
        finally:
            if session in self._ended:
                shutil.rmtree(os.path.dirname(folder), ignore_errors=True)

    def end_session(self, session: str) -> None:
        """Delete the session's folder and the uploads no live session uses any more."""
        with self._lock:
            self._ended.add(session)
            orphans = []
            for path, users in list(self._users.items()):
                users.discard(session)
                if not users:
                    orphans.append(path)
                    del self._users[path]
        shutil.rmtree(os.path.join(self.sessions_dir, session), ignore_errors=True)
        for path in orphans:
            with contextlib.suppress(OSError):
                os.remove(path)
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(path))  # Gradio's <sha256> folder, once empty
        logger.info("session %s ended: its folder and %d upload(s) deleted", session[:8], len(orphans))

    def remove(self) -> None:
        """Delete the whole root (the server is stopping)."""
        shutil.rmtree(self.root, ignore_errors=True)
