"""TASK detection: weights, training step, config checks, and the synthetic AVA demo end to end
through tools/run_net.py at a reduced size (ava_results.json, official-format detections CSV)."""
import csv
import json
import os
import subprocess
import sys

import pytest
import torch

from hiera_video.config.defaults import get_cfg
from hiera_video.errors import ConfigError
from hiera_video.engine import build_model, validate_cfg
from hiera_video.engine.tasks import TASKS
from hiera_video.evaluation import evaluate_frame_map, read_boxes_csv, read_labelmap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "configs", "Synthetic", "AVA_TINY_DEMO.yaml")
SMALL = ["DATA.SYNTHETIC.NUM_TRAIN", "3", "DATA.SYNTHETIC.NUM_VAL", "2", "AVA.SYNTHETIC_KEYFRAMES", "3",
         "DATA.SYNTHETIC.SIZE", "32", "DATA.TRAIN_JITTER_SCALES", "[32, 40]", "DATA.TRAIN_CROP_SIZE", "32",
         "DATA.TEST_CROP_SIZE", "32", "TRAIN.BATCH_SIZE", "3", "TEST.BATCH_SIZE", "4", "SOLVER.MAX_EPOCH", "2",
         "SOLVER.WARMUP_EPOCHS", "0.5", "TRAIN.EVAL_PERIOD", "1", "DATA.NUM_FRAMES", "4", "DATA_LOADER.NUM_WORKERS", "0"]


def _cfg(*opts):
    cfg = get_cfg()
    cfg.merge_from_file(DEMO)
    cfg.merge_from_list(list(SMALL) + list(opts))
    return cfg


def test_train_init_from_a_kinetics_classifier(tmp_path):
    cfg = _cfg("MODEL.NUM_CLASSES", "6")
    cfg_k = cfg.clone()  # a "Kinetics" classifier of another class count
    cfg_k.MODEL.NUM_CLASSES = 11
    kinetics = build_model(cfg_k)
    path = str(tmp_path / "k.pth")
    torch.save({"model_state": kinetics.state_dict()}, path)
    task = TASKS.get("detection")(cfg)
    model = task.build_model()
    head_before = model.head.projection.weight.clone()
    task.load_train_init(model, path)
    own = model.backbone.state_dict()
    for k, v in kinetics.state_dict().items():
        if not k.startswith("head."):
            assert torch.equal(own[k], v), k
    assert torch.equal(model.head.projection.weight, head_before)  # the ROI head starts fresh
    with pytest.raises(ValueError, match="not a detection checkpoint"):
        task.load_test_weights(model, path)


@pytest.mark.parametrize("loss", ["bce", "cross_entropy"])
def test_training_step_gradients(loss):
    cfg = _cfg("MODEL.LOSS_FUNC", loss)
    task = TASKS.get("detection")(cfg)
    model = task.build_model()
    batch = {"video": torch.randn(2, 3, 4, 32, 32),
             "boxes": torch.tensor([[0, 2.0, 3.0, 20.0, 30.0], [1, 10.0, 0.0, 31.0, 16.0], [1, 0.0, 0.0, 8.0, 8.0]]),
             "labels": torch.tensor([[1.0, 0, 0, 1, 0, 0], [0, 1.0, 0, 0, 0, 0], [0, 0, 1.0, 0, 0, 1.0]])}
    loss_value, metrics = task.training_step(model, batch, torch.device("cpu"))
    assert torch.isfinite(loss_value) and metrics["boxes"] == 3
    loss_value.backward()
    assert model.head.projection.weight.grad.abs().sum() > 0
    assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
    empty = dict(batch, boxes=torch.zeros(0, 5), labels=torch.zeros(0, 6))
    zero, _ = task.training_step(model, empty, torch.device("cpu"))
    assert zero.item() == 0.0 and zero.requires_grad


def test_config_checks():
    validate_cfg(_cfg())
    with pytest.raises(ConfigError, match="TRAIN.DATASET.*ava"):
        validate_cfg(_cfg("TRAIN.DATASET", "kinetics"))
    with pytest.raises(ConfigError, match="MODEL.LOSS_FUNC"):
        validate_cfg(_cfg("MODEL.LOSS_FUNC", "soft_cross_entropy"))
    with pytest.raises(ConfigError, match="AVA.DETECTION_SCORE_THRESH"):
        validate_cfg(_cfg("AVA.DETECTION_SCORE_THRESH", "1.5"))


def _run(args, cwd):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "run_net.py"), "--cfg", DEMO, *SMALL, *args],
                       cwd=cwd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.mark.slow
def test_demo_end_to_end_through_run_net(tmp_path):
    data, out = str(tmp_path / "data"), str(tmp_path / "run")
    _run(["OUTPUT_DIR", out, "DATA.PATH_TO_DATA_DIR", data], str(tmp_path))
    with open(os.path.join(out, "ava_results.json")) as f:
        res = json.load(f)
    labelmap = read_labelmap(os.path.join(data, "annotations", "ava_action_list_v2.2_for_activitynet_2019.pbtxt"))
    assert set(res["per_class"]) == {str(c) for c in labelmap} == {"1", "2", "3", "4", "5"}
    assert 0.0 <= res["mAP"] <= 1.0 and 0.0 <= res["random_score_mAP"] <= 1.0
    aps = [ap for ap in res["per_class"].values() if ap is not None]
    assert res["mAP"] == pytest.approx(sum(aps) / len(aps))
    assert res["num_keyframes"] == 6 and res["skipped_keyframes"] == [] and res["checkpoint"].endswith(".pyth")
    # official CSV: one row per (box, label-map class), 8 columns, %04d timestamps
    with open(res["detections_file"]) as f:
        rows = list(csv.reader(f))
    assert len(rows) == res["num_boxes"] * len(labelmap)
    assert all(len(r) == 8 and len(r[1]) == 4 and int(r[6]) in labelmap and 0 <= float(r[7]) <= 1 for r in rows)
    rescored = evaluate_frame_map(os.path.join(data, "annotations", "ava_val_v2.2.csv"), res["detections_file"],
                                  labelmap, exclusions=res["exclusions"])
    assert rescored["mAP"] == pytest.approx(res["mAP"], abs=1e-3)
    # the detections are the detector boxes above the threshold, as in the CSV
    pred = read_boxes_csv(os.path.join(data, "annotations", "ava_val_predicted_boxes.csv"))
    kept = {(v, int(t), round(float(x), 3)) for v, t, x, *_ in rows}
    assert kept == {(k[0], k[1], round(b.x1, 3)) for k, bs in pred.items() for b in bs if b.score >= 0.8}
    # test only, from the saved checkpoint: the same numbers
    out2 = str(tmp_path / "test_only")
    _run(["OUTPUT_DIR", out2, "DATA.PATH_TO_DATA_DIR", data, "TRAIN.ENABLE", "False",
          "TEST.CHECKPOINT_FILE_PATH", res["checkpoint"]], str(tmp_path))
    with open(os.path.join(out2, "ava_results.json")) as f:
        again = json.load(f)
    assert again["mAP"] == pytest.approx(res["mAP"], abs=1e-6)


@pytest.mark.parametrize("size,name", [("L", "large"), ("H", "huge")])
def test_ava_configs_follow_table_13(size, name):
    from hiera_video.config.loading import merge_file

    cfg = get_cfg()
    merge_file(cfg, os.path.join(ROOT, "configs", "AVA", f"HIERA_{size}_16x4_AVA.yaml"))
    validate_cfg(cfg)
    s = cfg.SOLVER
    assert (s.OPTIMIZING_METHOD, s.WEIGHT_DECAY, s.BASE_LR, s.BASE_BATCH_SIZE, s.LR_POLICY, s.WARMUP_EPOCHS,
            s.MAX_EPOCH, s.LAYER_DECAY) == ("sgd", 1e-8, 3.6, 128, "cosine", 5.0, 30, 0.875)
    assert cfg.TRAIN.BATCH_SIZE == 128 and cfg.HIERA.DROP_PATH_RATE == 0.4 and cfg.MODEL.DROPOUT_RATE == 0.5
    assert cfg.TASK == "detection" and cfg.MODEL.NUM_CLASSES == 80 and cfg.MODEL.MODEL_NAME == f"hiera_{name}_16x224"
    assert cfg.TRAIN.CHECKPOINT_FILE_PATH.endswith(f"hiera_{name}_16x224.pth")  # Kinetics-finetuned release
    assert cfg.DATA.TEST_CROP_SIZE == 224 and cfg.AVA.DETECTION_SCORE_THRESH == 0.8
    assert list(cfg.AVA.KEYFRAME_RANGE) == [902, 1798] and cfg.MODEL.LOSS_FUNC == "bce"


def test_layer_decay_groups_of_the_detector():
    """Table 13's layer decay 0.875: stem lowest lr, blocks rising, ROI head and final norm at full lr."""
    from hiera_video.engine.optim import build_optimizer

    cfg = _cfg("SOLVER.LAYER_DECAY", "0.875", "SOLVER.OPTIMIZING_METHOD", "sgd")
    model = TASKS.get("detection")(cfg).build_model()
    opt = build_optimizer(cfg, model)
    scale = {id(p): g["lr_scale"] for g in opt.param_groups for p in g["params"]}
    wd = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    named = dict(model.named_parameters())
    depth = len(model.backbone.blocks)
    assert scale[id(named["head.projection.weight"])] == 1.0 and scale[id(named["backbone.norm.weight"])] == 1.0
    assert scale[id(named["backbone.patch_embed.proj.weight"])] == pytest.approx(0.875 ** (depth + 1))
    assert scale[id(named["backbone.blocks.0.attn.qkv.weight"])] == pytest.approx(0.875 ** depth)
    assert wd[id(named["backbone.pos_embed_spatial"])] == 0.0 and wd[id(named["head.projection.weight"])] > 0
