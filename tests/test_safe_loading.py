"""Weights from strangers: every entry point that reads weights refuses a file whose pickle would
run code, before any of it runs (the marker file never appears), with an error naming the file.
Checkpoints written by the earlier version (numpy arrays in their RNG states) still load and
resume bit-identically."""
import logging
import os
import pickletools
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

import attack_files
from engine_utils import REPO_ROOT, synthetic_dir, tiny_opts
from hiera_video import create_model
from hiera_video.synthetic.mp4 import write_mp4

FIXTURES = os.path.join(REPO_ROOT, "tests", "fixtures")
DEMO = os.path.join(REPO_ROOT, "configs", "Synthetic", "HIERA_TINY_DEMO.yaml")
MAE_DEMO = os.path.join(REPO_ROOT, "configs", "Synthetic", "MAE_TINY_DEMO.yaml")
AVA_DEMO = os.path.join(REPO_ROOT, "configs", "Synthetic", "AVA_TINY_DEMO.yaml")
TINY_ARCH = dict(embed_dim=16, num_heads=1, stages=(1, 1, 1, 1), input_size=(4, 64, 64), num_classes=6)
TINY_OPTS = ["MODEL.NUM_CLASSES", "6", "HIERA.EMBED_DIM", "16", "HIERA.NUM_HEADS", "1", "HIERA.STAGES", "[1,1,1,1]",
             "DATA.NUM_FRAMES", "4", "DATA_LOADER.NUM_WORKERS", "0"]
PAYLOADS = ["runs_code", "imports_module"]


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    frames = np.random.default_rng(0).integers(0, 255, (24, 64, 64, 3), dtype=np.uint8)
    write_mp4(str(folder / "clip.mp4"), frames)
    return str(folder / "clip.mp4")


@pytest.fixture
def attack(request, tmp_path, monkeypatch):
    """(path of a malicious checkpoint holding a tiny classifier's real weights, marker path)."""
    kind = request.param
    marker = str(tmp_path / "PWNED")
    state = create_model("hiera_tiny_16x224", **TINY_ARCH).state_dict()
    path = str(tmp_path / "weights.pth")
    if kind == "imports_module":
        module_dir = tmp_path / "modules"
        module_dir.mkdir()
        attack_files.imports_module(path, marker, state, str(module_dir))
        monkeypatch.syspath_prepend(str(module_dir))  # where a plain unpickler would find the module
    else:
        getattr(attack_files, kind)(path, marker, state)
    yield path, marker
    sys.modules.pop(attack_files.EVIL_MODULE, None)


def _refused(excinfo_or_text, path):
    text = excinfo_or_text if isinstance(excinfo_or_text, str) else str(excinfo_or_text.value)
    assert path in text and "holds something other than weights" in text, text


@pytest.mark.parametrize("kind", ["runs_code", "os_system", "imports_module"])
def test_the_attack_files_do_run_code_when_unpickled_plainly(kind, tmp_path):
    """The payloads are real: a plain torch.load(weights_only=False) in a fresh process runs them."""
    marker = str(tmp_path / "PWNED")
    state = {"w": torch.zeros(2)}
    path = str(tmp_path / "w.pth")
    env = dict(os.environ)
    if kind == "imports_module":
        (tmp_path / "m").mkdir()
        attack_files.imports_module(path, marker, state, str(tmp_path / "m"))
        env["PYTHONPATH"] = str(tmp_path / "m")
    else:
        getattr(attack_files, kind)(path, marker, state)
    subprocess.run([sys.executable, "-c", f"import torch; torch.load({path!r}, weights_only=False)"], env=env,
                   check=False, capture_output=True, timeout=120)
    assert os.path.exists(marker)


@pytest.mark.parametrize("attack", ["runs_code", "os_system", "imports_module"], indirect=True)
def test_create_model_and_torch_hub_refuse(attack):
    path, marker = attack
    with pytest.raises(ValueError) as e:
        create_model("hiera_tiny_16x224", pretrained=path, **TINY_ARCH)
    _refused(e, path)
    with pytest.raises(ValueError) as e:
        torch.hub.load(REPO_ROOT, "hiera_tiny_16x224", source="local", pretrained=path, **TINY_ARCH)
    _refused(e, path)
    assert not os.path.exists(marker)


@pytest.mark.parametrize("attack", PAYLOADS, indirect=True)
def test_demo_extract_export_and_visualize_refuse(attack, video, tmp_path, capsys):
    from hiera_video.cli import demo_net, export, extract_features, visualize_mae

    path, marker = attack
    calls = {
        "hiera-demo": lambda: demo_net.main(["--cfg", DEMO, "--checkpoint", path, "--video", video, "--single-view",
                                             *TINY_OPTS]),
        "hiera-extract": lambda: extract_features.main(["--cfg", DEMO, "--checkpoint", path, "--videos", video,
                                                        "--out", str(tmp_path / "feats"), *TINY_OPTS]),
        "hiera-export": lambda: export.main(["--model", "hiera_tiny_16x224", "--checkpoint", path, "--format",
                                             "safetensors", "--out", str(tmp_path / "x.safetensors"), "--set",
                                             "embed_dim=16", "num_heads=1", "stages=(1,1,1,1)", "input_size=(4,64,64)",
                                             "num_classes=6"]),
        "hiera-visualize-mae": lambda: visualize_mae.main(["--checkpoint", path, "--video", video, "--out",
                                                           str(tmp_path / "mae.png")]),
    }
    for tool, call in calls.items():
        assert _status(call) == 1, tool
        err = capsys.readouterr().err
        assert err.startswith(f"{tool}: error: ") and "Traceback" not in err, err
        _refused(err, path)
    assert not os.path.exists(marker)
    assert not os.path.exists(tmp_path / "x.safetensors") and not os.path.exists(tmp_path / "mae.png")


@pytest.mark.parametrize("attack", PAYLOADS, indirect=True)
def test_the_web_app_refuses(attack):
    from hiera_video.app.models import load_app_models
    from hiera_video.engine import load_config

    path, marker = attack
    with pytest.raises(ValueError) as e:
        load_app_models(load_config(DEMO, TINY_OPTS, validate=False), path)
    _refused(e, path)
    assert not os.path.exists(marker)


def _status(call) -> int:
    """A tool's exit status, whether its main returns it or exits with a message (printed)."""
    try:
        return call()
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            return 1
        return e.code


def _run_net(argv, capsys):
    """``hiera-run ARGV`` in this process: (exit status, stderr)."""
    from hiera_video.cli import run_net

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        code = run_net.main(argv)
    finally:
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
                h.close()
        root.setLevel(level)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("attack", PAYLOADS, indirect=True)
def test_run_net_refuses_as_init_test_weights_mae_and_detection_init(attack, tmp_path, tmp_path_factory, capsys):
    path, marker = attack
    data = synthetic_dir(tmp_path_factory)
    runs = {
        "classifier init": tiny_opts(data, tmp_path / "a", "TRAIN.CHECKPOINT_FILE_PATH", path),
        "3x5 test": tiny_opts(data, tmp_path / "b", "TRAIN.ENABLE", "False", "TEST.CHECKPOINT_FILE_PATH", path),
        "MAE init": tiny_opts(data, tmp_path / "c", "TASK", "mae", "TEST.ENABLE", "False", "MASK.MASK_RATIO", "0.5",
                              "HIERA.DECODER_EMBED_DIM", "16", "HIERA.DECODER_DEPTH", "1", "HIERA.DECODER_NUM_HEADS", "1",
                              "TRAIN.CHECKPOINT_FILE_PATH", path),
        "detection init": ["--cfg", AVA_DEMO, "OUTPUT_DIR", str(tmp_path / "d"), "DATA.PATH_TO_DATA_DIR",
                           str(tmp_path / "ava"), "DATA.SYNTHETIC.ENABLE", "False", "HIERA.EMBED_DIM", "16",
                           "HIERA.STAGES", "[1,1,1,1]", "TRAIN.CHECKPOINT_FILE_PATH", path],
    }
    for what, argv in runs.items():
        code, err = _run_net(argv, capsys)
        assert code == 1, what
        _refused(err, path)
    assert not os.path.exists(marker)


@pytest.mark.parametrize("attack", PAYLOADS, indirect=True)
def test_auto_resume_refuses_a_planted_checkpoint(attack, tmp_path, tmp_path_factory, capsys):
    """A file put among a run's checkpoints is not damage to skip: the run stops, naming it."""
    path, marker = attack
    planted = tmp_path / "run" / "checkpoints" / "checkpoint_epoch_00001.pyth"
    planted.parent.mkdir(parents=True)
    shutil.copy(path, planted)
    code, err = _run_net(tiny_opts(synthetic_dir(tmp_path_factory), tmp_path / "run"), capsys)
    assert code == 1
    _refused(err, str(planted))
    assert not os.path.exists(marker)
    assert sorted(os.listdir(planted.parent)) == ["checkpoint_epoch_00001.pyth"]  # nothing trained over it


def test_checkpoints_of_this_version_hold_only_plain_data(tmp_path, tmp_path_factory):
    from engine_utils import tiny_cfg
    from hiera_video.engine import runner
    from hiera_video.engine.tasks import ClassificationTask

    cfg = tiny_cfg(synthetic_dir(tmp_path_factory), tmp_path, "SOLVER.MAX_EPOCH", "1", "DATA_LOADER.NUM_WORKERS", "1",
                   "TRAIN.MIXED_PRECISION", "True", "TRAIN.MIXED_PRECISION_DTYPE", "float16")
    last = runner.run_training(cfg, ClassificationTask(cfg))
    with zipfile.ZipFile(last) as z:  # no global beyond torch's tensor rebuilding: no NumPy, no classes
        pickled = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    globals_used = {arg.split(" ")[0] for op, arg, _ in pickletools.genops(pickled) if op.name == "GLOBAL"}
    assert "torch._utils" in globals_used and globals_used <= {"torch._utils", "torch", "collections"}, globals_used
    assert torch.serialization.get_unsafe_globals_in_checkpoint(last) == []
    state = torch.load(last, weights_only=True)
    assert isinstance(state["cfg"], str) and state["scaler_state"] and state["rng_states"][0]["loader"]


def test_a_checkpoint_of_the_earlier_version_resumes_bit_identically(tmp_path, tmp_path_factory):
    """tests/fixtures: epoch 1 of a 2-epoch run written by the previous version's run_net (commit
    4bdd0d7: NumPy arrays in its RNG states), and that run's epoch-2 weights. Resuming from the
    epoch-1 file here must give exactly those weights."""
    from safetensors.torch import load_file

    from engine_utils import tiny_cfg
    from hiera_video.engine import runner
    from hiera_video.engine.checkpoint import load_checkpoint_file
    from hiera_video.engine.tasks import ClassificationTask

    old = os.path.join(FIXTURES, "v0.1_tiny_checkpoint_epoch_00001.pyth")
    with zipfile.ZipFile(old) as z:  # the earlier format: NumPy arrays (allowlisted in models/checkpoints.py)
        assert b"numpy" in z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    run = tmp_path / "run" / "checkpoints"
    run.mkdir(parents=True)
    shutil.copy(old, run / "checkpoint_epoch_00001.pyth")
    cfg = tiny_cfg(synthetic_dir(tmp_path_factory), tmp_path / "run", "SOLVER.MAX_EPOCH", "2", "MIXUP.ENABLE", "True",
                   "HIERA.DROP_PATH_RATE", "0.1", "MODEL.DROPOUT_RATE", "0.2", "DATA_LOADER.NUM_WORKERS", "1",
                   "TEST.ENABLE", "False")
    final = load_checkpoint_file(runner.run_training(cfg, ClassificationTask(cfg)))
    expected = load_file(os.path.join(FIXTURES, "v0.1_tiny_epoch_00002_model.safetensors"))
    assert final["epoch"] == 2 and sorted(final["model_state"]) == sorted(expected)
    for name, value in expected.items():
        assert torch.equal(final["model_state"][name], value), name
    first = load_checkpoint_file(old)
    assert not torch.equal(first["model_state"]["blocks.0.attn.qkv.weight"], expected["blocks.0.attn.qkv.weight"])
