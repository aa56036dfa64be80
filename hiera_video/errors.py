"""Errors every layer may raise; at the bottom of the import graph (imports nothing).

``USER_ERRORS`` are a user's mistakes (a config, a file, a folder): the command-line tools print
their message as one line, without a traceback (``cli/common.py``)."""


class ConfigError(ValueError):
    """A config key or value that cannot work; the message names it and what is expected."""


class ForeignFolderError(ValueError):
    """A tool would write where files it did not create already are; the message names them."""


class UnsafeCheckpointError(ValueError):
    """A weight file holds something other than data (code, or a class); nothing in it was run."""


class BadCheckpoint(ValueError):
    """A file given as weights that cannot serve: not a checkpoint, no state dict in it, or weights
    that do not fit the model built (the message names the keys)."""


USER_ERRORS = (ConfigError, ForeignFolderError, UnsafeCheckpointError, BadCheckpoint, FileNotFoundError,
               PermissionError)
