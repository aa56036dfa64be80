"""`hiera-check-dataset` as a script, for PySlowFast habits: `python tools/check_dataset.py --help`."""
from hiera_video.cli.check_dataset import main

if __name__ == "__main__":
    raise SystemExit(main())
