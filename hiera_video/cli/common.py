"""What every command-line tool shares: a user's mistake costs one line, not a traceback.

``@user_errors("hiera-demo")`` on a tool's ``main``: an error of ``errors.USER_ERRORS`` (a bad
config key, a missing or foreign file, a checkpoint that does not fit or holds code) is printed
as ``hiera-demo: error: <message>`` and ``main`` returns the exit status. Anything else is a bug
and keeps its traceback; ``HIERA_VIDEO_TRACEBACK=1`` shows it for user errors too.
"""
import functools
import os
import sys
from typing import Callable, Tuple, Type

from hiera_video.errors import USER_ERRORS


def user_errors(tool: str, status: int = 1, also: Tuple[Type[BaseException], ...] = ()) -> Callable:
    """Decorator of a ``main(argv=None)``: user errors (and ``also``) -> one line on stderr, ``status``."""
    def wrap(main: Callable) -> Callable:
        @functools.wraps(main)
        def guarded(argv=None):
            try:
                return main(argv)
            except USER_ERRORS + also as e:
                if os.environ.get("HIERA_VIDEO_TRACEBACK", "") not in ("", "0"):
                    raise
                print(f"{tool}: error: {e}", file=sys.stderr)
                return status
        return guarded
    return wrap
