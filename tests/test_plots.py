"""Run results to look at: curves from json_stats, confusion matrix and per-class accuracy."""
import csv
import json
import subprocess
import sys

from PIL import Image

from hiera_video.visualization.run_plots import make_run_plots, read_json_stats


def fake_run(folder, num_classes=4):
    with open(folder / "stdout.log", "w") as f:
        f.write("[10:00:00 I runner.py:1] config ...\n")
        for e in range(1, 6):
            f.write('[10:00:01 I logging.py:38] json_stats: ' + json.dumps(
                {"_type": "train_epoch", "epoch": f"{e}/5", "loss": 2.0 / e, "lr": 1e-3 * e, "top1": 20.0 * e}) + "\n")
            if e % 2 == 0:
                f.write('[10:00:02 I logging.py:38] json_stats: ' + json.dumps(
                    {"_type": "val_epoch", "epoch": f"{e}/5", "loss": 2.2 / e, "top1": 18.0 * e}) + "\n")
    rows = []
    for label in range(num_classes):
        for k in range(5):  # class 0 is always confused with class 1; others right
            pred = 1 if label == 0 else label
            rows.append({"path": f"v{label}_{k}.mp4", "label": label, "top5": [pred, (pred + 1) % num_classes],
                         "scores": [0.9, 0.1], "label_name": f"class{label}",
                         "top5_names": [f"class{pred}", f"class{(pred + 1) % num_classes}"]})
    with open(folder / "test_predictions.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    with open(folder / "test_results.json", "w") as f:
        json.dump({"top1": 75.0, "predictions_file": str(folder / "test_predictions.jsonl")}, f)


def test_plots_and_csv(tmp_path):
    fake_run(tmp_path)
    assert len(read_json_stats(str(tmp_path / "stdout.log"))) == 7
    written = make_run_plots(str(tmp_path))
    assert set(written) == {"training_curves", "confusion_matrix", "per_class_accuracy"}
    for key in ("training_curves", "confusion_matrix"):
        image = Image.open(written[key])
        assert image.size[0] > 300 and len(set(image.convert("L").getdata())) > 10  # not blank
    with open(written["per_class_accuracy"]) as f:
        table = list(csv.DictReader(f))
    assert [float(r["top1"]) for r in table] == [0.0, 100.0, 100.0, 100.0]
    assert table[0]["name"] == "class0" and float(table[0]["top5"]) == 0.0  # top-5 was [1, 2]


def test_cli_on_an_empty_folder_says_so(tmp_path):
    run = subprocess.run([sys.executable, "tools/plot_run.py", str(tmp_path)], capture_output=True, text=True)
    assert run.returncode != 0 and "nothing to plot" in run.stderr
