"""What UCF101 and HMDB51 share: DATA.SPLIT (1, 2 or 3), the dataset over split files
(``OfficialSplitDataset``) and the accuracy averaged over the splits:

    python -m hiera_video.data.official_splits runs/ucf101_s1 runs/ucf101_s2 runs/ucf101_s3

reads each run's ``test_results.json`` and prints top-1 / top-5 per split and their mean (the
number UCF101 and HMDB51 papers report), refusing runs that are missing or repeat a split.
"""
import argparse
import json
import os
import sys
from typing import Dict, List

from hiera_video.errors import ConfigError

from .clip_dataset import ClipDataset, check_num_classes

SPLITS = (1, 2, 3)


def split_id(cfg) -> int:
    if cfg.DATA.SPLIT not in SPLITS:
        raise ConfigError(f"DATA.SPLIT={cfg.DATA.SPLIT!r}: UCF101 and HMDB51 have official splits 1, 2 and 3")
    return cfg.DATA.SPLIT


class OfficialSplitDataset(ClipDataset):
    """Videos of split DATA.SPLIT as ``read(data_dir, split, split_number, video_dir)`` lists them
    (video_dir: DATA.PATH_PREFIX, default DATA.PATH_TO_DATA_DIR); items as in ``clip_dataset``."""

    title = ""  # the dataset's name in messages
    classes_from = ""  # the file(s) naming the classes, for the MODEL.NUM_CLASSES check

    @staticmethod
    def read(data_dir: str, split: str, split_number: int, video_dir: str):
        """(video paths, 0-based labels, class names) of ``split`` of split ``split_number``."""
        raise NotImplementedError

    @staticmethod
    def read_class_names(cfg) -> List[str]:
        """The class names, without reading the videos (MODEL.NUM_CLASSES 0)."""
        raise NotImplementedError

    def _read_index(self, cfg, split):
        video_dir = cfg.DATA.PATH_PREFIX or cfg.DATA.PATH_TO_DATA_DIR
        try:
            paths, labels, names = self.read(cfg.DATA.PATH_TO_DATA_DIR, split, split_id(cfg), video_dir)
        except ValueError as e:  # a bad split file: run_net reports it without a traceback
            raise ConfigError(f"{self.title}: {e}") from None
        check_num_classes(cfg, names, self.classes_from)
        return paths, labels, names


def average_over_splits(run_dirs: List[str]) -> Dict:
    """{"splits": {split: {"top1", "top5"}}, "top1", "top5"} from each run's config.yaml and test_results.json."""
    import yaml

    per = {}
    for d in run_dirs:
        with open(os.path.join(d, "config.yaml")) as f:
            split = int(yaml.safe_load(f)["DATA"]["SPLIT"])
        with open(os.path.join(d, "test_results.json")) as f:
            res = json.load(f)
        if split in per:
            raise ValueError(f"split {split} appears twice ({per[split]['run']} and {d})")
        per[split] = {"run": d, "top1": res["top1"], "top5": res["top5"]}
    out = {"splits": dict(sorted(per.items())),
           "top1": sum(r["top1"] for r in per.values()) / len(per),
           "top5": sum(r["top5"] for r in per.values()) / len(per)}
    if sorted(per) != list(SPLITS):
        out["warning"] = f"splits {sorted(per)} only: the official number averages splits 1, 2 and 3"
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", help="OUTPUT_DIRs of the test runs, one per split")
    result = average_over_splits(p.parse_args(argv).runs)
    for split, r in result["splits"].items():
        print(f"split {split}: top1 {r['top1']:.2f}  top5 {r['top5']:.2f}  ({r['run']})")
    print(f"mean over {len(result['splits'])} split(s): top1 {result['top1']:.2f}  top5 {result['top5']:.2f}")
    if "warning" in result:
        print(f"warning: {result['warning']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
