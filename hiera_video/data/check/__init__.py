"""The dataset checker (``hiera-check-dataset``): ``check_dataset`` in ``checker.py``, its sources,
worker pool, per-video scan, report and output files in the modules beside it."""
from .checker import TOOL, OutputExists, check_dataset, scan_video

__all__ = ["TOOL", "OutputExists", "check_dataset", "scan_video"]
