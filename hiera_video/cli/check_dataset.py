"""``hiera-check-dataset`` (or ``python tools/check_dataset.py``): check a dataset before training,
every video decoded as the loader decodes it.

    hiera-check-dataset --cfg configs/Kinetics/HIERA_B_16x4_K400.yaml DATA.PATH_TO_DATA_DIR /data/k400
    hiera-check-dataset --cfg CFG --split train val --workers 16 --out k400_check.json [KEY VALUE ...]
    hiera-check-dataset --videos my_videos/ [--cfg CFG]         # a plain folder: every file in it
    hiera-check-dataset /data/k400/train.csv [--cfg CFG]        # one list (train.csv, val.csv or test.csv)

Reads the config's dataset (Kinetics lists, SSv2 json files, AVA frame lists) as the loader
does, decodes each video at the frame times the loader samples and once end to end, in
parallel worker processes. Writes a JSON report (per video: ok / warning / problem and the
reason; counts per kind), a cleaned list beside each original (train.csv -> train.clean.csv;
for --videos, <report>.clean.txt), and <report>.progress.jsonl: interrupted, the same command
goes on where it stopped. It never overwrites a file it did not write. Options go before
the KEY VALUE overrides (as in tools/run_net.py).

Exit status: 0 when no video has a problem (warnings such as too_short allowed), 1 when some
do (or a list line is unreadable), 2 when the check could not run (a bad config, a missing
list, an output it will not overwrite), 130 when interrupted.
"""
import argparse
import logging
import os
import sys

from hiera_video.engine import load_config
from hiera_video.errors import ConfigError
from hiera_video.data.check import OutputExists, check_dataset
from hiera_video.data.video_lists import SPLITS


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", dest="cfg_file", default=None, help="config of the dataset (optional with --videos)")
    p.add_argument("--videos", default="",
                   help="check every file under this folder (class folders too) instead of the config's lists")
    p.add_argument("--split", nargs="+", default=None, metavar="SPLIT",
                   help=f"splits to check, of {', '.join(SPLITS)} (default: those whose files exist)")
    p.add_argument("--workers", type=int, default=max(1, min(8, os.cpu_count() or 1)),
                   help="decoding processes (0: in this process); default min(8, CPUs)")
    p.add_argument("--out", default="", help="report path (default DATA.PATH_TO_DATA_DIR/dataset_check.json, "
                                             "or <folder>.check.json beside --videos)")
    p.add_argument("--restart", action="store_true", help="ignore the progress of an earlier run")
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides")
    argv, path = _path_argument(list(sys.argv[1:] if argv is None else argv), p)
    args = p.parse_args(argv)
    if path:
        where_from(args, path, p)  # a list or a folder given as an argument, the way people try it first
    if args.split:  # "--split train val DATA.X y": nargs="+" also takes the overrides after it
        n = next((k for k, s in enumerate(args.split) if s not in SPLITS), len(args.split))
        args.split, args.opts = args.split[:n], args.split[n:] + args.opts
        if not args.split:
            p.error(f"--split takes one or more of {', '.join(SPLITS)}")
    return args


def _path_argument(argv, p: argparse.ArgumentParser):
    """(argv without it, the first argument that is an existing file or folder and not an option's
    value), or (argv, None). A config key (``DATA.X``) is never a path here."""
    takes_value = {o for a in p._actions if a.nargs != 0 for o in a.option_strings}
    for i, arg in enumerate(argv):
        after_option = i > 0 and argv[i - 1] in takes_value
        if not arg.startswith("-") and not after_option and os.path.exists(arg):
            if i > 0 and argv[i - 1][:1].isupper() and "." in argv[i - 1]:
                continue  # the value of a KEY VALUE override
            return argv[:i] + argv[i + 1:], arg
    return argv, None


def where_from(args: argparse.Namespace, path: str, p: argparse.ArgumentParser) -> None:
    """``hiera-check-dataset PATH``: a list ``<split>.csv`` checks that split of its folder
    (DATA.PATH_TO_DATA_DIR), a folder checks every file in it (``--videos``); another file is
    an error that says how to check it."""
    if os.path.isdir(path):
        args.videos = path
        return
    name, ext = os.path.splitext(os.path.basename(path))
    if name in SPLITS and ext == ".csv":
        args.opts = ["DATA.PATH_TO_DATA_DIR", os.path.dirname(os.path.abspath(path))] + args.opts
        args.split = args.split or [name]
        return
    p.error(f"{path}: a list to check must be named {', '.join(s + '.csv' for s in SPLITS)} (Kinetics format, "
            "one 'path label' line per video) in its dataset folder; for another list, put it there under one of "
            "those names, or check a folder of videos with --videos FOLDER")


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        cfg = load_config(args.cfg_file, args.opts, validate=False)
        report = check_dataset(cfg, args.split, args.videos, args.out, args.workers, args.restart,
                               progress=sys.stderr.isatty())
    except KeyboardInterrupt:
        print("check_dataset: interrupted; the same command goes on where it stopped", file=sys.stderr)
        return 130
    except (ConfigError, OutputExists, FileNotFoundError, ValueError) as e:
        print(f"check_dataset: error: {e}", file=sys.stderr)
        return 2
    s = report["summary"]
    counts = ", ".join(f"{k} {n}" for k, n in sorted(s["counts"].items())) or "none"
    print(f"{s['videos']} videos: {s['ok']} ok, {s['warnings']} with warnings, {s['problems']} with problems "
          f"({counts})" + (f"; {s['bad_lines']} list lines the loader skips" if s["bad_lines"] else ""))
    for v in [v for v in report["videos"] if v["status"] == "problem"][:10]:
        print(f"  {v['path']}: {'; '.join(p['kind'] + ': ' + p['reason'] for p in v['problems'])}")
    for name, split in report["splits"].items():
        for b in split["bad_line_list"][:5]:
            print(f"  {name} list, line {b['line']} '{b['text']}': {b['reason']}")
        print(f"{name}: cleaned list {', '.join(split['clean_lists'])}")
    print(f"report: {report['report']}")
    return 1 if s["problems"] or s["bad_lines"] else 0
