"""Generated data in the AVA v2.2 layout (tests and configs/Synthetic/AVA_TINY_DEMO.yaml).

    python -m hiera_video.synthetic.ava --out /tmp/ava_syn [--train-videos 6 --val-videos 3
        --keyframes 10 --height 96 --width 128 --seed 0]

``ensure_ava_synthetic_dataset(cfg)`` writes it into DATA.PATH_TO_DATA_DIR on a first run
(DATA.SYNTHETIC.ENABLE with TRAIN.DATASET ava): DATA.SYNTHETIC.NUM_TRAIN / NUM_VAL videos,
AVA.SYNTHETIC_KEYFRAMES keyframes each, DATA.SYNTHETIC.SIZE px square frames, DATA.SYNTHETIC.SEED.

Writes the layout PySlowFast documents, so the AVA loader, the ROI head and the frame-mAP
run end to end on CPU:

    frames/<vid>/<vid>_%06d.jpg      30 fps; image 000001 is second 900.0 (AVA's 15-min window)
    frame_lists/{train,val}.csv      "original_vido_id video_id frame_id path labels" (space-separated)
    annotations/ava_{train,val}_v2.2.csv               video,t,x1,y1,x2,y2,action_id,person_id
    annotations/ava_{train,val}_predicted_boxes.csv    video,t,x1,y1,x2,y2,,score
    annotations/ava_val_excluded_timestamps_v2.2.csv   video,t
    annotations/ava_action_list_v2.2_for_activitynet_2019.pbtxt   the evaluated classes

Keyframes are seconds 902, 903, ... with 2 s of frames on either side. Each video holds
1-2 "persons": textured rectangles on a fixed noisy background. Every person has one pose
(texture: 1 stand = vertical stripes, 2 sit = horizontal stripes, 3 bend/bow = checks) and
any of 4 wave (brightness flickers at 5 Hz), 5 walk (moves across the frame; others stay
put), 6 talk to (a blinking dot on the head). Class 6 is left out of the label map, as AVA
evaluates 60 of its 80 classes, so models have NUM_CLASSES = 6 and the metric scores 5.
Predicted boxes are the true boxes jittered by ~3% (score 0.85-1.0) plus one distractor
per keyframe (score 0.1-0.6, below AVA.DETECTION_SCORE_THRESH 0.8).
"""
import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from .target_folder import check_generator_target, read_meta

logger = logging.getLogger(__name__)

FPS, START_SEC, FIRST_KEYFRAME, MARGIN_SEC = 30, 900, 902, 2
CLASSES = {1: "stand", 2: "sit", 3: "bend/bow (at the waist)", 4: "wave", 5: "walk", 6: "talk to (e.g., self, a person)"}
EVALUATED = [1, 2, 3, 4, 5]
# The name meta.json records (kept from earlier versions, whose folders it recognises).
GENERATOR = "hiera_video.synthetic.ava"


def _person(rng, h, w):
    pose = int(rng.integers(1, 4))
    extra = [c for c in (4, 5, 6) if rng.random() < 0.4]
    bh = int(rng.uniform(0.45, 0.7) * h) if pose == 1 else int(rng.uniform(0.3, 0.45) * h)
    bw = int(rng.uniform(0.18, 0.28) * w)
    return {"actions": [pose] + extra, "size": (bh, bw), "color": rng.uniform(0.3, 1.0, 3),
            "x0": rng.uniform(0, w - bw), "y0": rng.uniform(0, h - bh), "speed": rng.uniform(0.6, 1.2) * rng.choice([-1, 1])}


def _box_at(p, f, h, w):
    """Pixel box (x1, y1, x2, y2) of person p at frame index f."""
    bh, bw = p["size"]
    x = p["x0"]
    if 5 in p["actions"]:  # walk: bounce between the borders
        span = w - bw
        x = abs((p["x0"] + p["speed"] * f) % (2 * span) - span) if span > 0 else 0.0
        x = span - x
    return x, p["y0"], x + bw, p["y0"] + bh


def _draw(img, p, f, h, w):
    x1, y1, x2, y2 = (int(round(v)) for v in _box_at(p, f, h, w))
    bh, bw = y2 - y1, x2 - x1
    yy, xx = np.mgrid[0:bh, 0:bw]
    pose = p["actions"][0]
    pattern = {1: (xx // 4) % 2, 2: (yy // 4) % 2, 3: ((xx // 5) + (yy // 5)) % 2}[pose]  # survive 2x downscaling
    level = 0.35 + 0.65 * pattern
    if 4 in p["actions"]:  # wave: flicker at 5 Hz
        level = level * (0.4 if (f * 10 // FPS) % 2 else 1.0)
    img[y1:y2, x1:x2] = level[..., None] * p["color"]
    if 6 in p["actions"] and (f * 6 // FPS) % 2 == 0:  # talk: blinking head dot
        r = max(2, bw // 5)
        cx = (x1 + x2) // 2
        img[y1:y1 + r, max(cx - r // 2, 0):cx + r // 2 + 1] = 1.0


def _norm(box, h, w):
    x1, y1, x2, y2 = box
    return [min(max(x1 / w, 0.0), 1.0), min(max(y1 / h, 0.0), 1.0), min(max(x2 / w, 0.0), 1.0), min(max(y2 / h, 0.0), 1.0)]


def _fmt(v):
    return "%.3f" % v


def make_video(root, vid, rng, keyframes, h, w):
    """Renders one video's frames; returns (frame paths relative to frames/, gt rows, predicted rows)."""
    persons = [_person(rng, h, w) for _ in range(int(rng.integers(1, 3)))]
    background = (rng.uniform(0.0, 0.25, (h, w, 1)) + rng.uniform(0, 0.1, (1, 1, 3))).clip(0, 1)
    n_frames = (keyframes + 2 * MARGIN_SEC) * FPS
    os.makedirs(os.path.join(root, "frames", vid), exist_ok=True)
    paths = []
    for f in range(n_frames):
        img = background.copy()
        for p in persons:
            _draw(img, p, f, h, w)
        rel = f"{vid}/{vid}_{f + 1:06d}.jpg"
        Image.fromarray((img * 255).astype(np.uint8)).save(os.path.join(root, "frames", rel), quality=90)
        paths.append(rel)
    gt, pred = [], []
    for k in range(keyframes):
        sec = FIRST_KEYFRAME + k
        f = (sec - START_SEC) * FPS
        for pid, p in enumerate(persons):
            box = _norm(_box_at(p, f, h, w), h, w)
            gt += [[vid, "%04d" % sec, *map(_fmt, box), str(c), str(pid)] for c in p["actions"]]
            jitter = np.array(box) + rng.normal(0, 0.03, 4) * (box[2] - box[0])
            pred.append([vid, "%04d" % sec, *map(_fmt, np.clip(jitter, 0, 1)), "", "%.3f" % rng.uniform(0.85, 1.0)])
        x1, y1 = rng.uniform(0, 0.7, 2)
        pred.append([vid, "%04d" % sec, *map(_fmt, (x1, y1, x1 + 0.2, y1 + 0.3)), "", "%.3f" % rng.uniform(0.1, 0.6)])
    return paths, gt, pred


def make_synthetic_ava(root, train_videos=6, val_videos=3, keyframes=10, height=96, width=128, seed=0):
    """Writes the dataset under root; returns {name: path} of the annotation files."""
    rng = np.random.default_rng(seed)
    ann, lists = os.path.join(root, "annotations"), os.path.join(root, "frame_lists")
    os.makedirs(ann, exist_ok=True)
    os.makedirs(lists, exist_ok=True)
    out = {}
    for split, n in (("train", train_videos), ("val", val_videos)):
        list_rows, gt_rows, pred_rows = ["original_vido_id video_id frame_id path labels"], [], []
        for i in range(n):
            vid = f"syn_{split}_{i:03d}"
            paths, gt, pred = make_video(root, vid, rng, keyframes, height, width)
            list_rows += [f'{vid} {i} {j} {rel} ""' for j, rel in enumerate(paths)]
            gt_rows += gt
            pred_rows += pred
        out[f"{split}_frame_list"] = _write(os.path.join(lists, f"{split}.csv"), list_rows)
        out[f"{split}_gt"] = _write(os.path.join(ann, f"ava_{split}_v2.2.csv"), [",".join(r) for r in gt_rows])
        out[f"{split}_predicted_boxes"] = _write(os.path.join(ann, f"ava_{split}_predicted_boxes.csv"),
                                                 [",".join(r) for r in pred_rows])
    out["exclusions"] = _write(os.path.join(ann, "ava_val_excluded_timestamps_v2.2.csv"),
                               ["syn_val_000,%04d" % (FIRST_KEYFRAME + keyframes - 1)] if val_videos else [])
    out["labelmap"] = _write(os.path.join(ann, "ava_action_list_v2.2_for_activitynet_2019.pbtxt"),
                             [f'item {{\n  name: "{CLASSES[c]}"\n  id: {c}\n}}' for c in EVALUATED])
    return out


def _write(path, lines):
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


def is_own_meta(meta: dict) -> bool:
    """meta.json written by this generator (older ones lack "generator" but have "evaluated")."""
    return meta.get("generator") == GENERATOR or ("evaluated" in meta and "keyframes" in meta)


def is_complete(root: str) -> bool:
    """This generator's output with the frame lists and the label map (written last)."""
    return is_own_meta(read_meta(root)) and all(os.path.isfile(os.path.join(root, p)) for p in (
        "frame_lists/train.csv", "frame_lists/val.csv", "annotations/ava_action_list_v2.2_for_activitynet_2019.pbtxt"))


def generate(out: str, **kw) -> dict:
    """``make_synthetic_ava`` into a temporary sibling folder, then moved into ``out`` (an
    interrupted generation leaves no half dataset). Returns the meta dict (also meta.json)."""
    out = os.path.abspath(out)
    check_generator_target(out, is_own_meta, "synthetic AVA")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.tmp-", dir=os.path.dirname(out))
    t0 = time.time()
    try:
        make_synthetic_ava(tmp, **kw)
        meta = dict(kw, generator=GENERATOR, fps=FPS, classes=CLASSES, evaluated=EVALUATED)
        with open(os.path.join(tmp, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        os.makedirs(out, exist_ok=True)
        for name in ("frames", "annotations", "meta.json", "frame_lists"):  # lists last
            dst = os.path.join(out, name)
            if os.path.isdir(dst):
                shutil.rmtree(dst)
            os.replace(os.path.join(tmp, name), dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("generated synthetic AVA data (%s) in %s in %.1f s", kw, out, time.time() - t0)
    return meta


def ensure_ava_synthetic_dataset(cfg):
    """Generate the data into DATA.PATH_TO_DATA_DIR unless it is there. Returns the meta dict
    when it generated, else None (one process at a time: see ``synthetic.prepare``)."""
    root, sc = cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.SYNTHETIC
    if not root:
        raise ValueError("DATA.PATH_TO_DATA_DIR is empty: set where the synthetic AVA data goes")
    check_generator_target(root, is_own_meta, "synthetic AVA")
    if is_complete(root):
        return None
    logger.info("synthetic AVA data not found in %s: generating it", root)
    return generate(root, train_videos=sc.NUM_TRAIN, val_videos=sc.NUM_VAL, keyframes=cfg.AVA.SYNTHETIC_KEYFRAMES,
                    height=sc.SIZE, width=sc.SIZE, seed=sc.SEED)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--train-videos", type=int, default=6)
    ap.add_argument("--val-videos", type=int, default=3)
    ap.add_argument("--keyframes", type=int, default=10, help="keyframes (seconds) per video")
    ap.add_argument("--height", type=int, default=96)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    try:  # atomically, with its meta.json, and only where it may write (see target_folder)
        meta = generate(a.out, train_videos=a.train_videos, val_videos=a.val_videos, keyframes=a.keyframes,
                        height=a.height, width=a.width, seed=a.seed)
    except ValueError as e:
        raise SystemExit(f"error: {e}")
    print(f"wrote synthetic AVA data ({meta['train_videos']} train, {meta['val_videos']} val videos) to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
