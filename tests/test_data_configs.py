"""configs/Kinetics, configs/SSv2, configs/MAE, configs/Synthetic: valid keys and the paper's settings."""
import glob
import os

import pytest

from hiera_video.config.defaults import get_cfg
from hiera_video.config.loading import merge_file
from hiera_video.config.validation import validate_cfg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", d, "*.yaml")) for d in ("Kinetics", "SSv2", "MAE", "Synthetic"))
CONFIGS = [p for group in CONFIGS for p in group]


def _load(path):
    cfg = get_cfg()
    merge_file(cfg, path)
    validate_cfg(cfg)
    return cfg


@pytest.mark.parametrize("path", CONFIGS, ids=[os.path.relpath(p, ROOT) for p in CONFIGS])
def test_config_loads_and_validates(path):
    _load(path)


# table 11b, 3200-epoch MAE column: lr, epochs, drop path, dropout, layer decay
KINETICS = {"B": (8e-4, 150, 0.2, 0.3, 0.8), "BPLUS": (8e-4, 150, 0.2, 0.3, 0.8),
            "L": (8e-4, 100, 0.2, 0.5, 0.875), "H": (4e-4, 100, 0.3, 0.5, 0.875)}
NAMES = {"B": "base", "BPLUS": "base_plus", "L": "large", "H": "huge"}


@pytest.mark.parametrize("size", KINETICS)
@pytest.mark.parametrize("k", [400, 600, 700])
def test_kinetics_configs_follow_table_11b(size, k):
    cfg = _load(os.path.join(ROOT, "configs", "Kinetics", f"HIERA_{size}_16x4_K{k}.yaml"))
    lr, epochs, dp, do, ld = KINETICS[size]
    assert (cfg.SOLVER.BASE_LR, cfg.SOLVER.MAX_EPOCH, cfg.HIERA.DROP_PATH_RATE, cfg.MODEL.DROPOUT_RATE,
            cfg.SOLVER.LAYER_DECAY) == (lr, epochs, dp, do, ld)
    assert cfg.MODEL.NUM_CLASSES == k and cfg.MODEL.MODEL_NAME == f"hiera_{NAMES[size]}_16x224"
    assert (cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TRAIN_CROP_SIZE) == (16, 4, 224)
    assert (cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS) == (5, 3)
    assert cfg.SOLVER.OPTIMIZING_METHOD == "adamw" and list(cfg.SOLVER.BETAS) == [0.9, 0.999]
    assert (cfg.SOLVER.WEIGHT_DECAY, cfg.SOLVER.WARMUP_EPOCHS, cfg.SOLVER.CLIP_GRAD_L2NORM) == (0.05, 10, 5.0)
    assert (cfg.MIXUP.ALPHA, cfg.MIXUP.CUTMIX_ALPHA, cfg.MIXUP.LABEL_SMOOTH_VALUE) == (0.8, 1.0, 0.1)
    assert cfg.AUG.ENABLE and cfg.AUG.NUM_SAMPLE == 2 and cfg.AUG.AA_TYPE.startswith("rand-m7-")
    assert "mstd0.5" in cfg.AUG.AA_TYPE and cfg.TRAIN.BATCH_SIZE == 256
    assert cfg.TRAIN.CHECKPOINT_FILE_PATH.endswith(f"mae_hiera_{NAMES[size]}_16x224.pth")


# table 11a (3200 effective epochs): drop path, lr at batch 512
MAE = {"B": (0.1, 8e-4), "BPLUS": (0.2, 8e-4), "L": (0.2, 8e-4), "H": (0.4, 3.2e-4)}


@pytest.mark.parametrize("size", MAE)
def test_mae_configs_follow_table_11a(size):
    cfg = _load(os.path.join(ROOT, "configs", "MAE", f"MAE_HIERA_{size}_16x4_K400.yaml"))
    assert cfg.TASK == "mae" and cfg.MODEL.MODEL_NAME == f"hiera_{NAMES[size]}_16x224"
    assert (cfg.HIERA.DROP_PATH_RATE, cfg.SOLVER.BASE_LR) == MAE[size]
    assert (cfg.SOLVER.BASE_BATCH_SIZE, cfg.TRAIN.BATCH_SIZE) == (512, 512)
    assert cfg.SOLVER.OPTIMIZING_METHOD == "adamw" and list(cfg.SOLVER.BETAS) == [0.9, 0.95]
    assert cfg.SOLVER.WEIGHT_DECAY == 0.05 and cfg.SOLVER.LR_POLICY == "cosine"
    repeats = cfg.DATA.TRAIN_CROP_NUM_TEMPORAL * cfg.AUG.NUM_SAMPLE
    assert repeats == 4  # effective epochs = passes x repeated samples
    assert (cfg.SOLVER.WARMUP_EPOCHS * repeats, cfg.SOLVER.MAX_EPOCH * repeats) == (120, 3200)
    assert cfg.DATA.TRAIN_CROP_MODE == "random_resized" and list(cfg.DATA.TRAIN_JITTER_SCALES_RELATIVE) == [0.5, 1.0]
    assert cfg.DATA.RANDOM_FLIP and not cfg.AUG.ENABLE and not cfg.MIXUP.ENABLE
    assert (cfg.MASK.MASK_RATIO, cfg.HIERA.DECODER_DEPTH, cfg.HIERA.DECODER_NUM_HEADS) == (0.9, 8, 8)
    assert (cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TRAIN_CROP_SIZE) == (16, 4, 224)


def test_ssv2_configs_follow_table_12b():
    l16 = _load(os.path.join(ROOT, "configs", "SSv2", "HIERA_L16.yaml"))
    l32 = _load(os.path.join(ROOT, "configs", "SSv2", "HIERA_L32.yaml"))
    for cfg in (l16, l32):
        assert cfg.TRAIN.DATASET == cfg.TEST.DATASET == "ssv2" and cfg.MODEL.NUM_CLASSES == 174
        assert cfg.SOLVER.OPTIMIZING_METHOD == "sgd" and cfg.SOLVER.WEIGHT_DECAY == 1e-4
        assert (cfg.SOLVER.WARMUP_EPOCHS, cfg.SOLVER.MAX_EPOCH, cfg.SOLVER.LAYER_DECAY) == (3, 40, 0.875)
        assert cfg.MODEL.DROPOUT_RATE == 0.5 and not cfg.DATA.RANDOM_FLIP
        assert (cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS) == (1, 3)
    assert (l16.DATA.NUM_FRAMES, l16.SOLVER.BASE_LR, l16.TRAIN.BATCH_SIZE, l16.HIERA.DROP_PATH_RATE) == (16, 0.16, 256, 0.1)
    assert (l32.DATA.NUM_FRAMES, l32.SOLVER.BASE_LR, l32.TRAIN.BATCH_SIZE, l32.HIERA.DROP_PATH_RATE) == (32, 0.08, 128, 0.2)
    assert l16.MIXUP.ENABLE and not l32.MIXUP.ENABLE and l32.MIXUP.LABEL_SMOOTH_VALUE == 0.0
    assert l16.TRAIN.CHECKPOINT_FILE_PATH.endswith("mae_hiera_large_16x224.pth")


def test_demo_config_keeps_2x32x32_pixel_mask_units_and_no_flip():
    cfg = _load(os.path.join(ROOT, "configs", "Synthetic", "HIERA_TINY_DEMO.yaml"))
    assert cfg.DATA.SYNTHETIC.ENABLE and cfg.NUM_GPUS == 0 and cfg.MODEL.NUM_CLASSES == 6
    assert not cfg.DATA.RANDOM_FLIP  # a mirror would swap left/right and cw/ccw
    assert cfg.DATA.TRAIN_CROP_SIZE % 32 == 0 and cfg.DATA.NUM_FRAMES % 2 == 0
    assert cfg.DATA.NUM_FRAMES * cfg.DATA.SAMPLING_RATE <= cfg.DATA.SYNTHETIC.NUM_FRAMES
