"""Score AVA detections with the official frame-mAP protocol; prints one JSON object.

    hiera-ava-eval --gt ava_val_v2.2.csv --detections results.csv \
        --labelmap ava_action_list_v2.2_for_activitynet_2019.pbtxt \
        [--exclusions ava_val_excluded_timestamps_v2.2.csv]

Output: {"mAP": <fraction in [0, 1]>, "per_class": {"<class id>": <AP or null>}} on
stdout (null: no ground truth for that class, left out of the mean); warnings and errors
go to stderr, errors with exit status 2.
"""
import argparse
import json
import sys
import warnings

from hiera_video.evaluation.ava_map import evaluate_frame_map


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gt", required=True, help="ground-truth CSV (video_id,timestamp,x1,y1,x2,y2,action_id,person_id)")
    parser.add_argument("--detections", required=True, help="detections CSV (video_id,timestamp,x1,y1,x2,y2,action_id,score)")
    parser.add_argument("--labelmap", required=True, help="pbtxt label map of the evaluated classes")
    parser.add_argument("--exclusions", default=None, help="CSV of excluded video_id,timestamp")
    parser.add_argument("--iou", type=float, default=0.5, help="matching IoU threshold (>=), default 0.5")
    args = parser.parse_args(argv)
    warnings.simplefilter("always")
    warnings.showwarning = lambda msg, *a, **k: print(f"warning: {msg}", file=sys.stderr)
    try:
        result = evaluate_frame_map(args.gt, args.detections, args.labelmap, args.exclusions, iou_threshold=args.iou)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0

