"""Where the clips of a whole video lie in time."""
import math
from typing import List, Tuple


def sliding_windows(duration: float, span: float, stride: float = 0.0) -> List[Tuple[float, float]]:
    """Start/end seconds of windows of ``span`` seconds every ``stride`` (0 = ``span``, no overlap).

    Windows start at 0 and, when ``stride <= span``, cover the whole video; every window starts
    inside the video, and the last one may run past the end (its
    frames are padded by repeating the last frame). A video shorter than one window (or of
    unknown duration, ``duration <= 0``) gets exactly one window.
    """
    if span <= 0:
        raise ValueError(f"window span must be positive, got {span}")
    stride = stride or span
    if stride < 0:
        raise ValueError(f"window stride must be >= 0 seconds (0 = no overlap), got {stride}")
    if duration <= span:
        return [(0.0, span)]
    # Enough windows that the last one reaches the end of the video, none starting past it
    # (with a stride longer than the span, windows leave gaps, and the last must still start inside).
    count = min(1 + math.ceil((duration - span) / stride - 1e-9), math.ceil(duration / stride - 1e-9))
    return [(i * stride, i * stride + span) for i in range(count)]
