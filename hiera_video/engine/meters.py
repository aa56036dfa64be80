"""Running averages for the training log."""
from collections import deque
from typing import Dict


class ScalarMeter:
    """Windowed and global average of a scalar series."""

    def __init__(self, window: int = 20):
        self.window = deque(maxlen=window)
        self.total = 0.0
        self.count = 0

    def add(self, value: float, n: int = 1) -> None:
        self.window.append(value)
        self.total += value * n
        self.count += n

    @property
    def recent(self) -> float:
        return sum(self.window) / max(1, len(self.window))

    @property
    def avg(self) -> float:
        return self.total / max(1, self.count)


class MeterGroup:
    """Named ``ScalarMeter`` s; ``reset()`` at each epoch."""

    def __init__(self, window: int = 20):
        self.window = window
        self.meters: Dict[str, ScalarMeter] = {}

    def add(self, **values: float) -> None:
        for k, v in values.items():
            self.meters.setdefault(k, ScalarMeter(self.window)).add(float(v))

    def recent(self) -> Dict[str, float]:
        return {k: m.recent for k, m in self.meters.items()}

    def avg(self) -> Dict[str, float]:
        return {k: m.avg for k, m in self.meters.items()}

    def reset(self) -> None:
        self.meters = {}
