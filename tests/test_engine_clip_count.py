"""The train loop counts clips (``batch["video"]``), not what a task predicts per clip: an AVA
run with two person boxes on every keyframe logs clips/s of keyframe clips."""
import collections
import csv
import os

from engine_utils import json_stats, run_in_process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "configs", "Synthetic", "AVA_TINY_DEMO.yaml")
# 3 train videos x 3 keyframes = 9 clips, 3 per update; seed 0 gives every video 2 persons.
SMALL = ["DATA.SYNTHETIC.NUM_TRAIN", "3", "DATA.SYNTHETIC.NUM_VAL", "2", "AVA.SYNTHETIC_KEYFRAMES", "3",
         "DATA.SYNTHETIC.SEED", "0", "DATA.SYNTHETIC.SIZE", "32", "DATA.TRAIN_JITTER_SCALES", "[32, 40]",
         "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32", "TRAIN.BATCH_SIZE", "3", "SOLVER.MAX_EPOCH", "1",
         "SOLVER.WARMUP_EPOCHS", "0.5", "DATA.NUM_FRAMES", "4", "DATA_LOADER.NUM_WORKERS", "0", "TEST.ENABLE", "False",
         "LOG_PERIOD", "1"]


def test_detection_logs_clips_not_boxes(tmp_path):
    data, out = str(tmp_path / "data"), str(tmp_path / "run")
    run_in_process(["--cfg", DEMO, *SMALL, "OUTPUT_DIR", out, "DATA.PATH_TO_DATA_DIR", data])
    persons = collections.defaultdict(set)
    with open(os.path.join(data, "annotations", "ava_train_v2.2.csv")) as f:
        for video, t, *_, person in csv.reader(f):
            persons[video, t].add(person)
    assert len(persons) == 9 and all(len(p) == 2 for p in persons.values())  # 18 boxes on 9 keyframe clips
    (epoch,) = json_stats(os.path.join(out, "stdout.log"), "train_epoch")
    assert round(epoch["clips_per_s"] * epoch["epoch_time"]) == 9
