"""Benchmark rows on disk: the JSON file is rewritten (atomically) after every row, so a
run stopped half-way keeps every row it finished."""
import json
import os
import time
from typing import List, Optional

from hiera_video.utils.io import atomic_write


def default_results_path() -> str:
    return f"benchmark_{time.strftime('%Y%m%d-%H%M%S')}.json"


class ResultsFile:
    """A JSON list of row dicts at ``path``."""

    def __init__(self, path: str):
        self.path = path
        self.rows: List[dict] = []
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)

    def add(self, *rows: dict) -> Optional[dict]:
        """Append ``rows`` and rewrite the file; returns the last row (nothing written for none)."""
        if not rows:
            return None
        self.rows.extend(rows)
        text = json.dumps(self.rows, indent=2).encode()
        atomic_write(self.path, lambda f: f.write(text))
        return rows[-1]
