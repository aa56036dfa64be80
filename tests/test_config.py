"""Config loading: unknown keys name the closest valid ones, impossible values say why,
HIERA.* overrides reach create_model."""
import pytest
import torch

from engine_utils import run_net, tiny_opts
from hiera_video.config import ConfigError, get_cfg, parse_args
from hiera_video.engine import build_model, load_config, model_kwargs


def load(*opts, cfg_file=None):
    argv = (["--cfg", str(cfg_file)] if cfg_file else []) + list(opts)
    return load_config(parse_args(argv))


def test_unknown_key_on_command_line_names_closest_keys():
    with pytest.raises(ConfigError) as e:
        load("NUM_GPUS", "0", "TRAIN.BATCH_SIZ", "8")
    assert "TRAIN.BATCH_SIZ" in str(e.value) and "TRAIN.BATCH_SIZE" in str(e.value)


def test_known_leaf_in_wrong_section_is_suggested():
    with pytest.raises(ConfigError) as e:
        load("NUM_GPUS", "0", "SOLVER.BATCH_SIZE", "8")
    assert "TRAIN.BATCH_SIZE" in str(e.value) and "TEST.BATCH_SIZE" in str(e.value)


def test_unknown_key_in_yaml_file(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("NUM_GPUS: 0\nSOLVER:\n  BASE_LRR: 0.1\n")
    with pytest.raises(ConfigError) as e:
        load(cfg_file=f)
    assert "SOLVER.BASE_LRR" in str(e.value) and "SOLVER.BASE_LR" in str(e.value) and str(f) in str(e.value)


def test_yaml_file_and_overrides_merge_with_int_for_float(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text("NUM_GPUS: 0\nSOLVER:\n  WARMUP_EPOCHS: 1\n  MAX_EPOCH: 4\n")
    cfg = load("SOLVER.BASE_LR", "1", "HIERA.STAGES", "[1,1,1,1]", cfg_file=f)
    assert cfg.SOLVER.WARMUP_EPOCHS == 1.0 and isinstance(cfg.SOLVER.BASE_LR, float)
    assert cfg.SOLVER.MAX_EPOCH == 4 and list(cfg.HIERA.STAGES) == [1, 1, 1, 1]


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load(cfg_file=tmp_path / "nope.yaml")


@pytest.mark.parametrize("opts, key, reason", [
    (["TRAIN.BATCH_SIZE", "-4"], "TRAIN.BATCH_SIZE", "must be > 0"),
    (["TEST.NUM_SPATIAL_CROPS", "2"], "TEST.NUM_SPATIAL_CROPS", "must be 1"),
    (["NUM_CPU_PROCESSES", "3", "TRAIN.BATCH_SIZE", "4"], "TRAIN.BATCH_SIZE", "divide by the number of processes (3)"),
    (["TASK", "segmentation"], "TASK", "expected one of"),
    (["MODEL.LOSS_FUNC", "hinge"], "MODEL.LOSS_FUNC", "soft_cross_entropy"),
    (["SOLVER.OPTIMIZING_METHOD", "lamb"], "SOLVER.OPTIMIZING_METHOD", "adamw"),
    (["SOLVER.WARMUP_EPOCHS", "200.0"], "SOLVER.WARMUP_EPOCHS", "SOLVER.MAX_EPOCH"),
    (["TRAIN.MIXED_PRECISION_DTYPE", "float8"], "TRAIN.MIXED_PRECISION_DTYPE", "bfloat16"),
    (["DATA.TEST_CROP_SIZE", "96"], "DATA.TEST_CROP_SIZE", "must equal DATA.TRAIN_CROP_SIZE"),
    (["MIXUP.ENABLE", "True", "MODEL.LOSS_FUNC", "cross_entropy"], "MODEL.LOSS_FUNC", "soft targets"),
    (["TRAIN.ENABLE", "False", "TEST.ENABLE", "False"], "TRAIN.ENABLE", "nothing to do"),
])
def test_impossible_values_fail_with_reason(opts, key, reason):
    with pytest.raises(ConfigError) as e:
        load("NUM_GPUS", "0", *opts)
    assert key in str(e.value) and reason in str(e.value)


def test_bad_override_form_and_type():
    with pytest.raises(ConfigError, match="has no value"):
        load("NUM_GPUS", "0", "TRAIN.BATCH_SIZE")
    with pytest.raises(ConfigError, match="TRAIN.BATCH_SIZE"):
        load("NUM_GPUS", "0", "TRAIN.BATCH_SIZE", "many")


def test_hiera_overrides_reach_create_model(tmp_path):
    cfg = load_config(parse_args(tiny_opts(tmp_path, tmp_path, "HIERA.DROP_PATH_RATE", "0.2",
                                           "MODEL.DROPOUT_RATE", "0.3", "HIERA.MLP_RATIO", "2.0")))
    kw = model_kwargs(cfg)
    assert kw["embed_dim"] == 16 and kw["stages"] == (1, 1, 1, 1) and kw["input_size"] == (4, 64, 64)
    assert kw["drop_path_rate"] == 0.2 and kw["head_dropout"] == 0.3 and kw["mlp_ratio"] == 2.0
    model = build_model(cfg)
    assert model.input_size == (4, 64, 64) and len(model.blocks) == 4 and model.blocks[0].dim_out == 16
    assert model(torch.zeros(1, 3, 4, 64, 64)).shape == (1, 6)
    # Unset HIERA keys keep the named configuration.
    default = get_cfg()
    assert "embed_dim" not in model_kwargs(default) and "stages" not in model_kwargs(default)


def test_model_shape_error_names_keys(tmp_path):
    cfg = load_config(parse_args(tiny_opts(tmp_path, tmp_path, "DATA.TRAIN_CROP_SIZE", "48",
                                           "DATA.TEST_CROP_SIZE", "48")))
    with pytest.raises(ConfigError, match="multiple of the mask unit"):
        build_model(cfg)


def test_run_net_reports_config_error_without_traceback():
    res = run_net(["NUM_GPUS", "0", "TEST.NUM_ENSEMBLE_VIEW", "3"], timeout=120)
    assert res.returncode == 1, res.stderr
    assert "TEST.NUM_ENSEMBLE_VIEWS" in res.stderr and "Traceback" not in res.stderr
