"""Draw what an MAE checkpoint reconstructs: `python tools/visualize_mae.py --help`."""
from hiera_video.cli.visualize_mae import main

if __name__ == "__main__":
    main()
