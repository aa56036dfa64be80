"""TASK mae through tools/run_net.py on real generated videos: pretraining with json_stats,
validation and test losses, official MAE key names in checkpoints, resume, finetuning from
the result, and config errors."""
import contextlib
import json
import os

import pytest
import torch

from engine_utils import SYNTH, json_stats, run_in_process, run_net, synthetic_dir
from hiera_video.config import ConfigError, parse_args
from hiera_video.engine import build_model, load_config
from hiera_video.engine.checkpoint import load_checkpoint_file
from hiera_video.engine.tasks import TASKS, ClassificationTask

MAE_DEMO = "configs/Synthetic/MAE_TINY_DEMO.yaml"


@pytest.fixture
def data(tmp_path_factory):
    return synthetic_dir(tmp_path_factory)


def _small(data, out, *extra):
    """The MAE demo config at test size: 4 frames (2 x 2 x 2 = 8 mask units, 2 kept at 0.75)."""
    return ["--cfg", MAE_DEMO, "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", str(out), "SOLVER.MAX_EPOCH", "2",
            "SOLVER.WARMUP_EPOCHS", "0.5", "TRAIN.BATCH_SIZE", "8", "DATA_LOADER.NUM_WORKERS", "0",
            "DATA.NUM_FRAMES", "4", "TRAIN.EVAL_PERIOD", "1", "LOG_PERIOD", "1",
            *[x for k, v in SYNTH.items() for x in (f"DATA.SYNTHETIC.{k}", str(v))], *extra]


@pytest.mark.slow
def test_mae_pretraining_logs_checkpoints_resumes_and_finetunes(data, tmp_path, caplog):
    out = tmp_path / "mae"
    test_opts = ["TEST.ENABLE", "True", "TEST.BATCH_SIZE", "8", "TEST.NUM_ENSEMBLE_VIEWS", "1",
                 "TEST.NUM_SPATIAL_CROPS", "1"]
    res = run_net(_small(data, out, *test_opts))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    log = str(out / "stdout.log")

    iters = json_stats(log, "train_iter")
    assert len(iters) == 2 * 12 * 4 // 8  # 12 videos x 4 repeated samples, 8 clips per step, 2 epochs
    assert all(r["mask_fraction"] == 0.75 and r["loss"] > 0 for r in iters)
    val = json_stats(log, "val_epoch")
    assert [r["num_clips"] for r in val] == [6, 6] and all(0 < r["loss"] < 10 for r in val)
    results = json.loads((out / "test_results.json").read_text())
    assert results["num_clips"] == 5 and results["mask_ratio"] == 0.75 and results["target"] == "pixel"
    assert os.path.getsize(out / "training_curves.png") > 100

    ckpt = results["checkpoint"]
    assert "checkpoint_epoch_00002" in ckpt
    state = load_checkpoint_file(ckpt)["model_state"]
    for key in ("mask_token", "decoder_embed.weight", "decoder_pos_embed", "encoder_norm.weight",
                "multi_scale_fusion_heads.0.weight", "decoder_pred.weight"):
        assert key in state, key  # the official MAE checkpoint layout

    # Asking for more epochs resumes from the last checkpoint.
    cfg = run_in_process(_small(data, out, "SOLVER.MAX_EPOCH", "3"))
    assert "resumed from" in (out / "stdout.log").read_text()
    assert [r["epoch"] for r in json_stats(log, "train_epoch")] == ["1/2", "2/2", "3/3"]

    # Finetuning from it: encoder weights loaded, decoder dropped with a logged summary.
    ft_cfg = load_config(parse_args(["--cfg", "configs/Synthetic/HIERA_TINY_DEMO.yaml", "DATA.NUM_FRAMES", "4",
                                     "OUTPUT_DIR", str(tmp_path / "ft")]))
    classifier = build_model(ft_cfg)
    last = load_checkpoint_file(os.path.join(cfg.OUTPUT_DIR, "checkpoints", "checkpoint_epoch_00003.pyth"))
    with caplog.at_level("INFO"):
        ClassificationTask(ft_cfg).load_train_init(classifier, os.path.join(
            cfg.OUTPUT_DIR, "checkpoints", "checkpoint_epoch_00003.pyth"))
    assert "ignoring its MAE-only parts" in caplog.text and "head.projection.weight" in caplog.text
    own = classifier.state_dict()
    encoder_keys = [k for k in own if k.startswith(("blocks.", "patch_embed.", "pos_embed"))]
    assert encoder_keys and all(torch.equal(own[k], last["model_state"][k]) for k in encoder_keys)


def test_mae_validation_loss_uses_a_fixed_mask_per_clip(data, tmp_path):
    from hiera_video.data import build_loader

    cfg = load_config(parse_args(_small(data, tmp_path, "TEST.BATCH_SIZE", "4")))
    task = TASKS.get("mae")(cfg)
    model = task.build_model()
    first = task.evaluate(model, build_loader(cfg, "val"), torch.device("cpu"), contextlib.nullcontext)
    torch.manual_seed(123)  # the global stream must not matter
    second = task.evaluate(model, build_loader(cfg, "val"), torch.device("cpu"), contextlib.nullcontext)
    assert first == second and first["num_clips"] == 6
    # Nor the batch size: each clip's mask comes from its video.
    cfg.defrost()
    cfg.TEST.BATCH_SIZE = 1
    third = task.evaluate(model, build_loader(cfg, "val"), torch.device("cpu"), contextlib.nullcontext)
    assert third["loss"] == pytest.approx(first["loss"], rel=1e-5)


def test_mae_test_refuses_a_classifier_checkpoint(data, tmp_path):
    cfg = load_config(parse_args(_small(data, tmp_path)))
    task = TASKS.get("mae")(cfg)
    classifier = build_model(load_config(parse_args(["--cfg", "configs/Synthetic/HIERA_TINY_DEMO.yaml",
                                                     "DATA.NUM_FRAMES", "4", "OUTPUT_DIR", str(tmp_path)])))
    path = tmp_path / "classifier.pth"
    torch.save({"model_state": classifier.state_dict()}, path)
    with pytest.raises(ValueError, match="no MAE decoder"):
        task.load_test_weights(task.build_model(for_test=True), str(path))


def test_hog_target_trains_under_bf16_autocast(data, tmp_path):
    cfg = load_config(parse_args(_small(data, tmp_path, "MASK.TARGET", "hog")))
    model = TASKS.get("mae")(cfg).build_model()
    x = torch.randn(2, 3, 4, 64, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(x, mask_ratio=0.75)[0]
    loss.backward()
    assert torch.isfinite(loss) and model.decoder_pred.weight.grad is not None


@pytest.mark.parametrize("opts, match", [
    (["MASK.MASK_RATIO", "1.0"], "MASK.MASK_RATIO"),
    (["MASK.MASK_RATIO", "0.99"], "keeps 0 of 8 mask units"),
    (["MASK.TARGET", "depth"], "pixel or hog"),
    (["MIXUP.ENABLE", "True"], "MAE pretraining has none"),
    (["HIERA.DECODER_NUM_HEADS", "3"], "must divide HIERA.DECODER_EMBED_DIM"),
    (["TRAIN.DATASET", "ava"], "not AVA keyframes"),
])
def test_mae_config_errors_name_the_key(data, tmp_path, opts, match):
    with pytest.raises(ConfigError, match=match):
        cfg = load_config(parse_args(_small(data, tmp_path, *opts)))
        TASKS.get("mae")(cfg).build_model()
