"""Errors every layer may raise; at the bottom of the import graph (imports nothing)."""


class ConfigError(ValueError):
    """A config key or value that cannot work; the message names it and what is expected."""
