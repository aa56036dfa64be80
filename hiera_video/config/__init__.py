"""Configuration: defaults (``get_cfg``), loading with ``KEY VALUE`` overrides, validation."""
from .defaults import get_cfg
from .loading import ConfigError, load_config, merge_overrides, parse_args
from .validation import validate_cfg

__all__ = ["ConfigError", "get_cfg", "load_config", "merge_overrides", "parse_args", "validate_cfg"]
