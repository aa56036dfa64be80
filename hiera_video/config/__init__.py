"""Configuration: defaults (``get_cfg``), reading files with ``KEY VALUE`` overrides, the checks every
task needs. Never imports the engine: ``hiera_video.engine.load_config`` adds each task's own checks."""
from hiera_video.errors import ConfigError

from .defaults import get_cfg
from .loading import load_config, merge_file, merge_overrides, parse_args, read_config
from .validation import require, validate_cfg

__all__ = ["ConfigError", "get_cfg", "load_config", "merge_file", "merge_overrides", "parse_args", "read_config",
           "require", "validate_cfg"]
