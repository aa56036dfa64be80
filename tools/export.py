"""`hiera-export` as a script, for PySlowFast habits: `python tools/export.py --help`."""
from hiera_video.cli.export import main

if __name__ == "__main__":
    raise SystemExit(main())
