"""Training engine on real generated videos: exact resume, loss guard, device errors, the
demo config end to end through tools/run_net.py, test-only runs with official-format weights."""
import json
import os

import pytest
import torch

from engine_utils import SYNTH, run_in_process, run_net, synthetic_dir, tiny_cfg
from hiera_video.config import parse_args
from hiera_video.engine import build_model, load_config, runner
from hiera_video.engine.checkpoint import load_checkpoint_file
from hiera_video.engine.launch import DeviceError, launch_job
from hiera_video.engine.tasks import ClassificationTask
from hiera_video.engine.trainer import Trainer, TrainingStopped


DEMO = "configs/Synthetic/HIERA_TINY_DEMO.yaml"


@pytest.fixture
def data(tmp_path_factory):
    return synthetic_dir(tmp_path_factory)


def _train(cfg):
    return runner.run_training(cfg, ClassificationTask(cfg))


@pytest.mark.slow
def test_resume_after_interruption_is_bit_identical(data, tmp_path, monkeypatch):
    # Mixup, drop path, head dropout and a loader worker: every random stream is exercised.
    extra = ["SOLVER.MAX_EPOCH", "2", "MIXUP.ENABLE", "True", "HIERA.DROP_PATH_RATE", "0.1",
             "MODEL.DROPOUT_RATE", "0.2", "DATA_LOADER.NUM_WORKERS", "1"]
    full = load_checkpoint_file(_train(tiny_cfg(data, tmp_path / "full", *extra)))

    cfg = tiny_cfg(data, tmp_path / "resumed", *extra)
    original = Trainer.run_epoch

    def interrupted(self):
        if self.epoch == 1:  # after one epoch (and its checkpoint): the process "dies"
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(Trainer, "run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _train(cfg)
    monkeypatch.setattr(Trainer, "run_epoch", original)
    resumed = load_checkpoint_file(_train(cfg))

    assert (resumed["epoch"], resumed["iteration"]) == (full["epoch"], full["iteration"]) == (2, 6)
    for name, value in full["model_state"].items():
        assert torch.equal(value, resumed["model_state"][name]), name
    for a, b in zip(full["optimizer_state"]["state"].values(), resumed["optimizer_state"]["state"].values()):
        assert torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])
    # Training moved the weights (guards against comparing two untouched models).
    first = load_checkpoint_file(os.path.join(tmp_path, "full", "checkpoints", "checkpoint_epoch_00001.pyth"))
    assert not torch.equal(first["model_state"]["blocks.0.attn.qkv.weight"],
                           full["model_state"]["blocks.0.attn.qkv.weight"])


@pytest.mark.parametrize("factor, bad_call, scale, expected", [
    (0.0, 5, float("nan"), "loss is nan"),
    (3.0, 6, 100.0, "loss exploded"),
])
@pytest.mark.slow
def test_bad_loss_stops_naming_iteration_and_last_checkpoint(data, tmp_path, monkeypatch, factor, bad_call,
                                                              scale, expected):
    # Mixed precision float16 with a GradScaler (on CPU here) along the way.
    cfg = tiny_cfg(data, tmp_path, "TRAIN.KILL_LOSS_EXPLOSION_FACTOR", str(factor), "SOLVER.BASE_LR", "0.001",
                   "TRAIN.MIXED_PRECISION", "True", "TRAIN.MIXED_PRECISION_DTYPE", "float16")
    original, calls = ClassificationTask.training_step, []

    def step(self, model, batch, device):
        loss, metrics = original(self, model, batch, device)
        calls.append(1)
        return (loss * scale if len(calls) == bad_call else loss), metrics

    monkeypatch.setattr(ClassificationTask, "training_step", step)
    with pytest.raises(TrainingStopped) as e:
        _train(cfg)
    msg = str(e.value)
    assert expected in msg and f"epoch 2, iteration {bad_call}" in msg, msg
    assert "checkpoint_epoch_00001.pyth" in msg


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_gpus_requested_without_cuda_says_how_to_run_on_cpu(tmp_path):
    cfg = load_config(parse_args(["NUM_GPUS", "1", "OUTPUT_DIR", str(tmp_path)]))
    with pytest.raises(DeviceError, match="set NUM_GPUS 0"):
        launch_job(cfg, runner.run)


@pytest.mark.slow
def test_demo_config_end_to_end_then_test_only_with_official_weights(data, tmp_path):
    out = tmp_path / "demo"
    small = ["DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", str(out), "SOLVER.MAX_EPOCH", "2",
             "SOLVER.WARMUP_EPOCHS", "0.5", "TRAIN.BATCH_SIZE", "4", "TEST.BATCH_SIZE", "8",
             "TEST.NUM_ENSEMBLE_VIEWS", "2", "DATA_LOADER.NUM_WORKERS", "0", "DATA.NUM_FRAMES", "4",
             *[x for k, v in SYNTH.items() for x in (f"DATA.SYNTHETIC.{k}", str(v))]]
    res = run_net(["--cfg", DEMO, *small, "TENSORBOARD.ENABLE", "True"])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    results = json.loads((out / "test_results.json").read_text())
    assert results["num_videos"] == 5 and results["num_views"] == 6 and results["failed_videos"] == []
    assert 0 <= results["top5"] <= 100 and 0 <= results["top1"] <= results["top5"]
    assert os.path.isfile(results["checkpoint"]) and "checkpoint_epoch_00002" in results["checkpoint"]
    rows = [json.loads(line) for line in open(results["predictions_file"])]
    assert [r["path"] for r in rows] == [os.path.join(data, f"videos/test/{i:05d}.mp4") for i in range(5)]
    assert all(len(r["top5"]) == 5 and len(r["scores"]) == 5 and len(r["top5_names"]) == 5 for r in rows)
    log = (out / "stdout.log").read_text()
    for kind in ("train_iter", "train_epoch", "val_epoch", "test"):
        assert f'"_type": "{kind}"' in log
    assert any(n.startswith("events.out.tfevents") for n in os.listdir(out / "tensorboard"))
    for picture in ("training_curves.png", "confusion_matrix.png", "per_class_accuracy.csv"):
        assert os.path.getsize(out / picture) > 100, picture  # made by run_net at the end of the test

    # Test only: the same weights as an official-format file give the same predictions.
    official = tmp_path / "official.pth"
    torch.save({"model_state": load_checkpoint_file(results["checkpoint"])["model_state"]}, official)
    run_in_process(["--cfg", DEMO, *small, "OUTPUT_DIR", str(tmp_path / "t"), "TRAIN.ENABLE", "False",
                    "TEST.CHECKPOINT_FILE_PATH", str(official)])
    again = json.loads((tmp_path / "t" / "test_results.json").read_text())
    assert again["checkpoint"] == str(official)
    assert (again["top1"], again["top5"], again["num_videos"]) == (results["top1"], results["top5"], 5)
    rows_again = [json.loads(line) for line in open(again["predictions_file"])]
    assert [r["top5"] for r in rows_again] == [r["top5"] for r in rows]


def test_undecodable_test_video_is_listed_not_scored(data, tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video" * 10)
    good = [line.split() for line in open(os.path.join(data, "test.csv")).read().splitlines()[:2]]
    (lists / "test.csv").write_text("".join(f"{os.path.join(data, p)} {y}\n" for p, y in good) + "broken.mp4 2\n")
    weights = tmp_path / "official.pth"
    torch.save({"model_state": build_model(tiny_cfg(data, tmp_path)).state_dict()}, weights)
    cfg = tiny_cfg(lists, tmp_path / "out", "DATA.SYNTHETIC.ENABLE", "False", "TRAIN.ENABLE", "False",
                   "TEST.CHECKPOINT_FILE_PATH", str(weights), "TEST.NUM_ENSEMBLE_VIEWS", "1",
                   "TEST.NUM_SPATIAL_CROPS", "1")
    res = runner.run_test(cfg, ClassificationTask(cfg), str(weights))
    assert res["failed_videos"] == [str(lists / "broken.mp4")] and res["num_videos"] == 2
    rows = [json.loads(x) for x in open(tmp_path / "out" / "test_predictions.jsonl")]
    assert [r["path"] for r in rows] == [os.path.join(data, p) for p, _ in good]


def test_test_only_missing_checkpoint_is_clear(data, tmp_path):
    cfg = tiny_cfg(data, tmp_path, "TRAIN.ENABLE", "False", "TEST.CHECKPOINT_FILE_PATH", str(tmp_path / "gone.pyth"))
    with pytest.raises(FileNotFoundError, match="not found.*gone.pyth"):
        launch_job(cfg, runner.run)
    cfg = tiny_cfg(data, tmp_path / "init", "TRAIN.CHECKPOINT_FILE_PATH", str(tmp_path / "init.pth"))
    with pytest.raises(FileNotFoundError, match="TRAIN.CHECKPOINT_FILE_PATH not found.*init.pth"):
        launch_job(cfg, runner.run)
    cfg = tiny_cfg(data, tmp_path / "fresh", "TRAIN.ENABLE", "False")
    with pytest.raises(FileNotFoundError, match="no weights to test: set TEST.CHECKPOINT_FILE_PATH"):
        launch_job(cfg, runner.run)
