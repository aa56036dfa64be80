"""`hiera-app` as a script, for PySlowFast habits: `python tools/app.py --help`."""
from hiera_video.cli.app import main

if __name__ == "__main__":
    raise SystemExit(main())
