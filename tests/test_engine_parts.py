"""Engine parts: parameter groups (weight decay, layer decay), lr schedule, video cutmix,
gradient accumulation."""
import math

import pytest
import torch

from engine_utils import synthetic_dir, tiny_cfg
from hiera_video.config import get_cfg
from hiera_video.engine import build_model, runner
from hiera_video.engine.checkpoint import load_checkpoint_file
from hiera_video.engine.optim import build_optimizer, build_scheduler, scaled_lr
from hiera_video.engine.tasks import ClassificationTask


def _cfg(tmp_path, *opts):
    return tiny_cfg(tmp_path, tmp_path, *opts)


def test_no_decay_on_norms_biases_pos_embeds_and_layer_decay(tmp_path):
    cfg = _cfg(tmp_path, "SOLVER.LAYER_DECAY", "0.5", "SOLVER.WEIGHT_DECAY", "0.05")
    model = build_model(cfg)
    opt = build_optimizer(cfg, model)
    group_of = {id(p): g for g in opt.param_groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert len(group_of) == len(named)
    for name in ("pos_embed_spatial", "pos_embed_temporal", "blocks.0.norm1.weight", "blocks.0.attn.qkv.bias",
                 "norm.weight", "head.projection.bias"):
        assert group_of[id(named[name])]["weight_decay"] == 0.0, name
    for name in ("blocks.0.attn.qkv.weight", "head.projection.weight", "patch_embed.proj.weight"):
        assert group_of[id(named[name])]["weight_decay"] == 0.05, name
    scale = lambda n: group_of[id(named[n])]["lr_scale"]  # noqa: E731
    # 4 blocks + stem: stem 0.5^5, block i 0.5^(4-i), head 1.
    assert math.isclose(scale("patch_embed.proj.weight"), 0.5 ** 5)
    assert math.isclose(scale("blocks.0.mlp.fc1.weight"), 0.5 ** 4)
    assert math.isclose(scale("blocks.3.mlp.fc1.weight"), 0.5)
    assert scale("head.projection.weight") == 1.0


def test_lr_scaled_by_batch_then_warmup_and_cosine(tmp_path):
    cfg = _cfg(tmp_path, "SOLVER.BASE_LR", "0.1", "SOLVER.BASE_BATCH_SIZE", "8", "TRAIN.BATCH_SIZE", "4",
               "TRAIN.GRAD_ACCUM_STEPS", "2", "SOLVER.MAX_EPOCH", "10", "SOLVER.WARMUP_EPOCHS", "2.0",
               "SOLVER.WARMUP_START_LR", "0.0", "SOLVER.COSINE_END_LR", "0.001")
    assert math.isclose(scaled_lr(cfg), 0.1 * 4 * 2 / 8)
    model = build_model(cfg)
    opt = build_optimizer(cfg, model)
    sched = build_scheduler(cfg, opt, updates_per_epoch=5)
    head = next(g for g in opt.param_groups if g["lr_scale"] == 1.0)

    def lr_at(update):
        sched.step_update(update)
        return head["lr"]

    assert lr_at(0) == 0.0 and math.isclose(lr_at(5), 0.05) and math.isclose(lr_at(10), 0.1)
    assert math.isclose(lr_at(30), 0.001 + 0.5 * (0.1 - 0.001))  # half way through the cosine
    assert math.isclose(lr_at(50), 0.001)


def test_video_cutmix_uses_one_box_for_all_frames():
    cfg = get_cfg()
    cfg.merge_from_list(["MODEL.NUM_CLASSES", "6", "MIXUP.ENABLE", "True", "MIXUP.ALPHA", "0.0",
                         "MIXUP.CUTMIX_ALPHA", "1.0", "MIXUP.PROB", "1.0", "MIXUP.LABEL_SMOOTH_VALUE", "0.0"])
    task = ClassificationTask(cfg)
    torch.manual_seed(0)
    import numpy as np

    np.random.seed(0)
    video = torch.stack([torch.zeros(3, 4, 64, 64), torch.ones(3, 4, 64, 64)])
    mixed, target = task.targets(video.clone(), torch.tensor([0, 1]))
    box = mixed[0] == 1.0  # where sample 0 received sample 1's pixels
    assert 0 < box.float().mean() < 1
    assert all(torch.equal(box[:, t], box[:, 0]) for t in range(4)) and torch.equal(box[0], box[1])
    assert math.isclose(float(target[0, 1]), float(box.float().mean()), rel_tol=1e-6)


@pytest.mark.slow
def test_grad_accumulation_matches_the_full_batch(tmp_path_factory, tmp_path):
    data = synthetic_dir(tmp_path_factory)
    finals = []
    for batch, accum in ((4, 1), (2, 2)):
        cfg = tiny_cfg(data, tmp_path / f"b{batch}", "TRAIN.BATCH_SIZE", str(batch), "TRAIN.GRAD_ACCUM_STEPS",
                       str(accum), "SOLVER.MAX_EPOCH", "1", "TRAIN.EVAL_PERIOD", "5",
                       "SOLVER.OPTIMIZING_METHOD", "sgd", "SOLVER.CLIP_GRAD_L2NORM", "0.0")  # SGD: gradient scale matters
        finals.append(load_checkpoint_file(runner.run_training(cfg, ClassificationTask(cfg))))
    assert finals[0]["iteration"] == finals[1]["iteration"] == 3
    for name, p in finals[0]["model_state"].items():
        assert torch.allclose(p, finals[1]["model_state"][name], atol=1e-5), name
