"""Pictures and tables of a run: training curves, confusion matrix, per-class accuracy."""
from .run_plots import make_run_plots

__all__ = ["make_run_plots"]
