"""`hiera-extract` as a script, for PySlowFast habits: `python tools/extract_features.py --help`."""
from hiera_video.cli.extract_features import main

if __name__ == "__main__":
    raise SystemExit(main())
