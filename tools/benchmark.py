"""`hiera-benchmark` as a script, for PySlowFast habits: `python tools/benchmark.py --help`."""
from hiera_video.cli.benchmark import main

if __name__ == "__main__":
    raise SystemExit(main())
