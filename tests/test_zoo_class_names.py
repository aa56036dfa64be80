"""Built-in Kinetics-400 class names: in the demo's and the extraction's output, no file needed."""
import importlib.util
import os

import pytest
import torch

from hiera_video import create_model
from hiera_video.config import get_cfg
from hiera_video.data.video_lists import find_class_names
from hiera_video.models.class_names import KINETICS400

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = os.path.join(REPO, "configs", "Synthetic", "HIERA_TINY_DEMO.yaml")
TINY = ["HIERA.EMBED_DIM", "16", "HIERA.STAGES", "[1,1,1,1]", "DATA.NUM_FRAMES", "4", "DATA_LOADER.NUM_WORKERS", "0",
        "MODEL.NUM_CLASSES", "400"]


def test_kinetics400_names_are_torchvisions():
    assert len(KINETICS400) == len(set(KINETICS400)) == 400 and list(KINETICS400) == sorted(KINETICS400)
    meta = pytest.importorskip("torchvision.models._meta")
    assert list(KINETICS400) == list(meta._KINETICS400_CATEGORIES)


def _cfg(tmp_path, num_classes, dataset="kinetics"):
    cfg = get_cfg()
    cfg.DATA.PATH_TO_DATA_DIR = str(tmp_path)
    cfg.MODEL.NUM_CLASSES = num_classes
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = dataset
    return cfg


def test_find_class_names_order(tmp_path):
    assert find_class_names(_cfg(tmp_path, 400)) == list(KINETICS400)
    assert find_class_names(_cfg(tmp_path, 400, "ssv2")) is None  # 400 classes of another dataset: no guess
    assert find_class_names(_cfg(tmp_path, 174, "ssv2"), checkpoint="mae_k400") is None
    assert find_class_names(_cfg(tmp_path, 400, "synthetic"), checkpoint="mae_k400_ft_k400") == list(KINETICS400)
    (tmp_path / "classnames.txt").write_text("\n".join(f"c{i}" for i in range(400)))
    assert find_class_names(_cfg(tmp_path, 400))[:2] == ["c0", "c1"]  # the dataset's own names win
    cfg = _cfg(tmp_path, 400)
    cfg.DATA.CLASS_NAMES_FILE = str(tmp_path / "k600.txt")
    (tmp_path / "k600.txt").write_text("x\ny\n")
    assert find_class_names(cfg) == ["x", "y"]  # then DATA.CLASS_NAMES_FILE over both


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def k400_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = create_model("hiera_tiny_16x224", embed_dim=16, num_heads=1, stages=(1, 1, 1, 1), input_size=(4, 64, 64))
    torch.nn.init.normal_(model.head.projection.weight, std=1.0)
    path = tmp_path / "k400.pth"
    torch.save({"model_state": model.state_dict()}, path)
    return str(path)


def test_demo_prints_kinetics_names_for_a_400_class_model(k400_checkpoint, real_videos_dir, tmp_path, capsys):
    _tool("demo_net").main(["--cfg", CFG, "--checkpoint", k400_checkpoint, "--single-view", "--video",
                            os.path.join(real_videos_dir, "dog.mp4"), *TINY, "DATA.PATH_TO_DATA_DIR", str(tmp_path)])
    lines = [l.split() for l in capsys.readouterr().out.splitlines() if l.strip()[:2] in {"1.", "2.", "3.", "4.", "5."}]
    assert len(lines) == 5
    for words in lines:  # "  1. <name> 12.34%  (class N)": the name is class N's
        index = int(words[-1].rstrip(")"))
        assert " ".join(words[1:-3]) == KINETICS400[index]


def test_extract_logits_prints_kinetics_names(k400_checkpoint, real_videos_dir, tmp_path, capsys):
    _tool("extract_features").main(["--cfg", CFG, "--checkpoint", k400_checkpoint, "--videos",
                                    os.path.join(real_videos_dir, "goat.mp4"), "--out", str(tmp_path / "out"),
                                    "--logits", *TINY, "DATA.PATH_TO_DATA_DIR", str(tmp_path)])
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("goat: "))
    entries = [e.rsplit(" ", 1) for e in line[len("goat: "):].split(", ")]
    assert len(entries) == 5 and all(name in KINETICS400 for name, _ in entries)
