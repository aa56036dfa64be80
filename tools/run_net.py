"""`hiera-run` as a script, for PySlowFast habits: `python tools/run_net.py --cfg CFG [KEY VALUE ...]`."""
from hiera_video.cli.run_net import main

if __name__ == "__main__":
    raise SystemExit(main())
