"""``hiera_video.engine.load_config``: a config file and overrides -> a config checked for its
task; the config layer itself knows no task and imports neither engine nor data."""
import subprocess
import sys

import pytest

from hiera_video.config import ConfigError
from hiera_video.config import read_config, validate_cfg
from hiera_video.engine import load_config, task_class
from hiera_video.engine.tasks import MAETask

DEMO = "configs/Synthetic/MAE_TINY_DEMO.yaml"


def test_path_and_overrides_give_a_frozen_config_checked_for_its_task():
    cfg = load_config(DEMO, ["NUM_GPUS", "0", "SOLVER.MAX_EPOCH", "3"])
    assert cfg.is_frozen() and cfg.TASK == "mae" and cfg.SOLVER.MAX_EPOCH == 3
    assert task_class(cfg.TASK) is MAETask
    with pytest.raises(ConfigError, match="MASK.TARGET='depth': expected pixel or hog"):
        load_config(DEMO, ["MASK.TARGET", "depth"])
    # the config layer alone checks what every task needs, not MASK.*
    cfg = read_config(DEMO, ["MASK.TARGET", "depth"])
    validate_cfg(cfg)
    assert cfg.MASK.TARGET == "depth"
    with pytest.raises(ConfigError, match="TASK='segmentation': expected one of .*'classification'"):
        load_config(DEMO, ["TASK", "segmentation"])


def test_the_config_layer_imports_no_engine_and_no_data():
    code = ("import sys, hiera_video.config; "
            "print([m for m in sys.modules if m.startswith(('hiera_video.engine', 'hiera_video.data'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
