"""The one error every video reader raises (below the readers in the import graph)."""


class VideoDecodeError(RuntimeError):
    """A video that cannot be decoded; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"cannot decode video '{path}': {reason}")
        self.path = path
        self.reason = reason
