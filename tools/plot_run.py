"""`hiera-plot` as a script, for PySlowFast habits: `python tools/plot_run.py --help`."""
from hiera_video.cli.plot_run import main

if __name__ == "__main__":
    raise SystemExit(main())
