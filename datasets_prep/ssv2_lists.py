"""Official Something-Something-v2 json files -> lists, class names and a missing-videos report.

    python datasets_prep/ssv2_lists.py --annotations /data/ssv2 --videos /data/ssv2/videos --out /data/ssv2

The SSv2 loader (TRAIN.DATASET ssv2) reads the official json files directly; this
script checks them against the videos before a run and writes, into ``--out``:

  * ``train.csv``, ``val.csv``, ``test.csv`` (``<id>.<ext> label``, test = validation,
    as the paper reports on it), usable as Kinetics-format lists too;
  * ``classnames.txt`` (index order of ``something-something-v2-labels.json``);
  * ``missing_<split>.txt`` (ids without a video) and a summary on stdout.

A video counts as present as ``<id>.webm`` or ``<id>.mp4`` (after resize_videos.py).
"""
import argparse
import os
import sys

from hiera_video.utils.io import check_new_files
from hiera_video.data.ssv2 import read_ssv2


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__)
    p.add_argument("--annotations", required=True, help="folder with something-something-v2-*.json")
    p.add_argument("--videos", required=True, help="folder with <id>.webm (or <id>.mp4)")
    p.add_argument("--overwrite", action="store_true", help="replace lists already in --out (refused otherwise)")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    if not args.overwrite:
        try:
            check_new_files([os.path.join(args.out, name) for name in ["train.csv", "val.csv", "test.csv", "missing_train.txt", "missing_val.txt", "classnames.txt"]])
        except ValueError as e:
            raise SystemExit(f"error: {e}")
    os.makedirs(args.out, exist_ok=True)
    names = None
    for split in ("train", "val"):
        try:
            paths, labels, names = read_ssv2(args.annotations, split, args.videos)
        except (FileNotFoundError, ValueError) as e:
            raise SystemExit(str(e))
        lines, missing = [], []
        for path, label in zip(paths, labels):
            stem = os.path.splitext(path)[0]
            found = next((stem + ext for ext in (".webm", ".mp4") if os.path.isfile(stem + ext)), None)
            if found:
                lines.append(f"{os.path.basename(found)} {label}\n")
            else:
                missing.append(os.path.basename(stem) + "\n")
        for name in [split] + (["test"] if split == "val" else []):
            with open(os.path.join(args.out, f"{name}.csv"), "w") as f:
                f.writelines(lines)
        with open(os.path.join(args.out, f"missing_{split}.txt"), "w") as f:
            f.writelines(missing)
        total = len(paths)
        print(f"{split}: {len(lines)} of {total} videos found, {len(missing)} missing "
              f"({100 * len(missing) / max(total, 1):.1f}%) -> missing_{split}.txt")
    with open(os.path.join(args.out, "classnames.txt"), "w") as f:
        f.writelines(f"{n}\n" for n in names)
    print(f"{len(names)} classes; use: TRAIN.DATASET ssv2 TEST.DATASET ssv2 DATA.PATH_TO_DATA_DIR {args.annotations} "
          f"DATA.PATH_PREFIX {args.videos} MODEL.NUM_CLASSES {len(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
