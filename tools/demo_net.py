"""`hiera-demo` as a script, for PySlowFast habits: `python tools/demo_net.py --help`."""
from hiera_video.cli.demo_net import main

if __name__ == "__main__":
    raise SystemExit(main())
