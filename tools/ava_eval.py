"""`hiera-ava-eval` as a script, for PySlowFast habits: `python tools/ava_eval.py --help`."""
from hiera_video.cli.ava_eval import main

if __name__ == "__main__":
    raise SystemExit(main())
