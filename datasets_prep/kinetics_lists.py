"""Official Kinetics-400/600/700 CSVs -> the ``path label`` lists the loader reads.

    python datasets_prep/kinetics_lists.py --videos /data/k400/videos \\
        --train kinetics400/train.csv --val kinetics400/validate.csv --out /data/k400

Reads the official annotation CSVs (header with at least ``youtube_id``, ``time_start``,
``time_end``; ``label`` for labelled splits), finds each clip under ``--videos`` (any
sub-folder, name ``<youtube_id>_<start:06d>_<end:06d>`` with any video extension, as the
usual downloaders write), and writes into ``--out``:

  * ``train.csv``, ``val.csv``, ``test.csv`` (``relative/path.mp4 label``; paths relative
    to ``--videos``, so run with ``DATA.PATH_PREFIX <--videos>``). Kinetics results are
    reported on the validation set: ``test.csv`` is the val list unless ``--test`` gives
    a labelled CSV.
  * ``classnames.txt`` (one name per line, index = line number; sorted names, as
    PySlowFast) and ``classids.json`` (``{name: index}``).
  * ``missing_<split>.txt`` (one ``youtube_id,time_start,time_end,label`` per clip not
    found) and a summary on stdout.

Nothing under ``--videos`` is touched.
"""
import argparse
import csv
import json
import os
import sys
from typing import Dict, List, Optional, Tuple

from hiera_video.utils.io import check_new_files

VIDEO_EXTS = (".mp4", ".webm", ".mkv", ".avi", ".mov")


def clip_name(youtube_id: str, start: float, end: float) -> str:
    """``<youtube_id>_<start:06d>_<end:06d>`` (the official clip naming)."""
    return f"{youtube_id}_{int(float(start)):06d}_{int(float(end)):06d}"


def index_videos(root: str) -> Dict[str, str]:
    """{file name without extension: path relative to ``root``} of every video under ``root``."""
    if not os.path.isdir(root):
        raise SystemExit(f"--videos '{root}' is not a folder")
    found = {}
    for folder, _, files in os.walk(root):
        for f in files:
            stem, ext = os.path.splitext(f)
            if ext.lower() in VIDEO_EXTS:
                found.setdefault(stem, os.path.relpath(os.path.join(folder, f), root))
    return found


def read_annotations(path: str) -> List[Dict[str, str]]:
    """Rows of an official CSV; a clear error when the columns are not the official ones."""
    if not os.path.isfile(path):
        raise SystemExit(f"annotation file '{path}' not found")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"youtube_id", "time_start", "time_end"}
    if not rows or not need <= set(rows[0]):
        cols = list(rows[0]) if rows else []
        raise SystemExit(f"{path}: expected the official columns label,youtube_id,time_start,time_end,split; got {cols}")
    return rows


def class_index(rows: List[Dict[str, str]], names_file: Optional[str]) -> Dict[str, int]:
    """{class name: index}: from ``names_file`` (one per line) if given, else the sorted names in ``rows``."""
    if names_file:
        with open(names_file) as f:
            names = [line.strip() for line in f if line.strip()]
    else:
        names = sorted({r["label"] for r in rows if r.get("label")})
    return {n: i for i, n in enumerate(names)}


def build_list(rows, classes: Dict[str, int], videos: Dict[str, str]) -> Tuple[List[str], List[str]]:
    """(``path label`` lines, ``missing`` lines) for one split."""
    lines, missing = [], []
    for r in rows:
        name = clip_name(r["youtube_id"], r["time_start"], r["time_end"])
        label = r.get("label", "")
        if label not in classes:
            raise SystemExit(f"clip {name}: label '{label}' is not a known class (is this an unlabelled test CSV?)")
        if name in videos:
            lines.append(f"{videos[name]} {classes[label]}\n")
        else:
            missing.append(f"{r['youtube_id']},{r['time_start']},{r['time_end']},{label}\n")
    return lines, missing


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__)
    p.add_argument("--videos", required=True, help="folder holding the downloaded clips (any layout)")
    p.add_argument("--train", help="official train CSV")
    p.add_argument("--val", help="official validation CSV (validate.csv)")
    p.add_argument("--test", help="a labelled test CSV (default: test.csv = val list)")
    p.add_argument("--class-names", help="class names file fixing the index order (default: sorted train names)")
    p.add_argument("--overwrite", action="store_true", help="replace lists already in --out (refused otherwise)")
    p.add_argument("--out", required=True, help="folder for the lists (created)")
    args = p.parse_args(argv)
    splits = {k: v for k, v in (("train", args.train), ("val", args.val), ("test", args.test)) if v}
    if not splits:
        p.error("give at least one of --train / --val / --test")
    rows = {k: read_annotations(v) for k, v in splits.items()}
    classes = class_index(rows.get("train") or rows.get("val") or rows["test"], args.class_names)
    videos = index_videos(args.videos)
    if not args.overwrite:
        try:
            check_new_files([os.path.join(args.out, name) for name in [f"{s}.csv" for s in splits] + [f"missing_{s}.txt" for s in splits] + (["test.csv"] if "test" not in rows and "val" in rows else []) + ["classnames.txt", "classids.json"]])
        except ValueError as e:
            raise SystemExit(f"error: {e}")
    os.makedirs(args.out, exist_ok=True)
    summary = {}
    for split, split_rows in rows.items():
        lines, missing = build_list(split_rows, classes, videos)
        with open(os.path.join(args.out, f"{split}.csv"), "w") as f:
            f.writelines(lines)
        with open(os.path.join(args.out, f"missing_{split}.txt"), "w") as f:
            f.writelines(missing)
        summary[split] = (len(lines), len(missing))
    if "test" not in rows and "val" in rows:
        with open(os.path.join(args.out, "val.csv")) as src, open(os.path.join(args.out, "test.csv"), "w") as dst:
            dst.write(src.read())
    with open(os.path.join(args.out, "classnames.txt"), "w") as f:
        f.writelines(f"{n}\n" for n in classes)
    with open(os.path.join(args.out, "classids.json"), "w") as f:
        json.dump(classes, f, indent=0)
    print(f"{len(classes)} classes; {len(videos)} video files under {args.videos}")
    for split, (found, miss) in summary.items():
        total = found + miss
        print(f"{split}: {found} of {total} clips found, {miss} missing ({100 * miss / max(total, 1):.1f}%)"
              f" -> {os.path.join(args.out, split + '.csv')}, missing_{split}.txt")
    print(f"use: DATA.PATH_TO_DATA_DIR {args.out} DATA.PATH_PREFIX {args.videos} MODEL.NUM_CLASSES {len(classes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
