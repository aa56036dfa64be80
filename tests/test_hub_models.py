"""Weights by Hub id, in safetensors, and shared as a Hub folder, all offline.

The release's Hub repos are stood in for by folders the reference package itself writes
(``hiera.hiera_base_16x224().save_pretrained``: its config.json and model.safetensors, as
``PyTorchModelHubMixin`` uploads them), seeded into a Hugging Face cache in the Hub's layout."""
import json
import os
import time

import numpy as np
import pytest
import torch

from engine_utils import REPO_ROOT, synthetic_dir
from hub_cache import seed_hub_cache
from hiera_video import create_model
from hiera_video.models.hf_format import HubModelUnavailable

hiera = pytest.importorskip("hiera", reason="the reference package (pip install -e '.[dev]')")

RELEASE_B16 = "facebook/hiera_base_16x224.mae_k400_ft_k400"
DEMO = os.path.join(REPO_ROOT, "configs", "Synthetic", "HIERA_TINY_DEMO.yaml")
TINY_OPTS = ["HIERA.EMBED_DIM", "16", "HIERA.NUM_HEADS", "1", "HIERA.STAGES", "[1,1,1,1]", "DATA.NUM_FRAMES", "4",
             "DATA_LOADER.NUM_WORKERS", "0"]
NAMES = ["left", "right", "up", "down", "clockwise", "counterclockwise"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache, offline."""
    folder = tmp_path / "hf_cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return folder


@pytest.fixture(scope="module")
def release_b16(tmp_path_factory):
    """(the reference model, its Hub folder, the same weights as a release-format .pth)."""
    folder = tmp_path_factory.mktemp("release")
    torch.manual_seed(0)
    ref = hiera.hiera_base_16x224().eval()  # the reference's public factory
    with torch.no_grad():
        torch.nn.init.normal_(ref.head.projection.weight, std=1.0)  # logits far from 0
    ref.save_pretrained(str(folder / "hub"))
    torch.save({"model_state": ref.state_dict()}, folder / "hiera_base_16x224.pth")
    return ref, str(folder / "hub"), str(folder / "hiera_base_16x224.pth")


def _hub_files(folder):
    return {n: os.path.join(folder, n) for n in os.listdir(folder)}


def test_release_hub_id_loads_offline_with_the_reference_outputs(release_b16, cache):
    from huggingface_hub import scan_cache_dir

    ref, folder, pth = release_b16
    seed_hub_cache(str(cache), RELEASE_B16, _hub_files(folder))
    assert [r.repo_id for r in scan_cache_dir(str(cache)).repos] == [RELEASE_B16]  # the Hub's own reading
    model = create_model("hf-hub:" + RELEASE_B16).eval()
    from_pth = create_model("hiera_base_16x224", pretrained=pth).eval()
    x = torch.randn(1, 3, 16, 224, 224)
    with torch.no_grad():
        ours, theirs, same_weights = model(x), ref(x), from_pth(x)
    assert model.model_name == "hiera_base_16x224" and ours.shape == (1, 400)
    # The reference applies softmax in eval mode; ours gives logits in both modes.
    assert ours.std() > 0.5 and torch.allclose(ours.softmax(-1), theirs, atol=1e-5)
    assert torch.equal(ours, same_weights)


def test_a_release_pth_converts_once_to_safetensors_with_identical_outputs(release_b16, tmp_path, capsys):
    from hiera_video.cli import export

    _, _, pth = release_b16
    out = str(tmp_path / "hiera_base_16x224.safetensors")
    assert export.main(["--model", "hiera_base_16x224", "--checkpoint", pth, "--format", "safetensors", "--out", out]) is None
    assert "max abs difference of the logits (read back) to eager PyTorch 0.00e+00" in capsys.readouterr().out
    x = torch.randn(1, 3, 16, 224, 224)
    with torch.no_grad():
        a = create_model("hiera_base_16x224", pretrained=pth).eval()(x)
        b = create_model("hiera_base_16x224", pretrained=out).eval()(x)
    assert torch.equal(a, b)


def test_release_mae_hub_folder_builds_the_mae(tmp_path):
    torch.manual_seed(1)
    ref = hiera.mae_hiera_tiny_224().eval()
    ref.save_pretrained(str(tmp_path / "mae"))
    model = create_model(str(tmp_path / "mae")).eval()
    assert type(model).__name__ == "MaskedAutoencoderHiera"
    x, mask = torch.randn(2, 3, 224, 224), torch.rand(2, model.num_mask_units).argsort(1) < 20
    with torch.no_grad():
        ours = model(x, mask=mask)[0]
        theirs = ref(x, mask_ratio=0.6, mask=mask)[0]
    assert torch.allclose(ours, theirs, atol=1e-5)
    # Named like the release's "facebook/hiera_tiny_224.mae_in1k": a classifier with the MAE's encoder.
    os.rename(tmp_path / "mae", tmp_path / "hiera_tiny_224.mae_in1k")
    clf = create_model(str(tmp_path / "hiera_tiny_224.mae_in1k"), num_classes=10)
    assert type(clf).__name__ == "Hiera" and clf.head.projection.out_features == 10 and clf.q_pool == 3
    assert torch.equal(clf.blocks[3].attn.qkv.weight, ref.blocks[3].attn.qkv.weight)


def test_a_missing_hub_model_fails_at_once_naming_the_repo_and_the_cache(cache):
    t0 = time.perf_counter()
    with pytest.raises(HubModelUnavailable) as e:
        create_model("hf-hub:facebook/hiera_huge_16x224.mae_k400_ft_k400")
    assert time.perf_counter() - t0 < 5
    assert "facebook/hiera_huge_16x224.mae_k400_ft_k400" in str(e.value) and str(cache) in str(e.value)
    assert "offline" in str(e.value)


# ---------------------------------------------------------------- a finetuned model, shared
@pytest.fixture(scope="module")
def run_checkpoint(tmp_path_factory):
    """A run's checkpoint as run_net writes one (weights, cfg, class names, command), and the
    run's test_results.json beside its checkpoints folder."""
    from hiera_video.config import parse_args
    from hiera_video.engine import build_model, load_config

    run = tmp_path_factory.mktemp("run")
    data = synthetic_dir(tmp_path_factory)
    cfg = load_config(parse_args(["--cfg", DEMO, *TINY_OPTS, "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", str(run)]))
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        torch.nn.init.normal_(model.head.projection.weight, std=1.0)
    (run / "checkpoints").mkdir()
    path = run / "checkpoints" / "checkpoint_epoch_00020.pyth"
    torch.save({"model_state": model.state_dict(), "cfg": cfg.dump(), "class_names": NAMES, "epoch": 20,
                "command": "python tools/run_net.py --cfg configs/Synthetic/HIERA_TINY_DEMO.yaml"}, path)
    (run / "test_results.json").write_text(json.dumps({"top1": 83.33, "top5": 100.0, "num_videos": 120}))
    return model.eval(), str(path), data


@pytest.fixture(scope="module")
def exported(run_checkpoint, tmp_path_factory):
    from hiera_video.cli import export

    _, path, _ = run_checkpoint
    out = str(tmp_path_factory.mktemp("export") / "tiny_demo")
    assert export.main(["--checkpoint", path, "--format", "hf", "--out", out]) is None
    return out


def test_export_hf_writes_weights_config_and_card_that_load_back(run_checkpoint, exported):
    model, _, _ = run_checkpoint
    assert sorted(os.listdir(exported)) == ["README.md", "config.json", "model.safetensors"]
    config = json.load(open(os.path.join(exported, "config.json")))
    assert config["model_name"] == "hiera_tiny_16x224" and config["class_names"] == NAMES
    assert config["clip"] == {"num_frames": 4, "sampling_rate": 2, "target_fps": 30, "crop_size": 64,
                              "test_views": [5, 3]}
    assert config["mean"] == [0.485, 0.456, 0.406] and "HIERA:" in config["cfg"]
    card = open(os.path.join(exported, "README.md")).read()
    assert "library_name: hiera_video" in card and "| top1 | 83.33 |" in card
    assert "python tools/run_net.py --cfg configs/Synthetic/HIERA_TINY_DEMO.yaml" in card
    loaded = create_model(exported).eval()
    x = torch.randn(2, 3, 4, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert loaded.class_names == NAMES
    again = str(os.path.join(os.path.dirname(exported), "again"))
    loaded.save_pretrained(again)  # a model loaded from a folder saves the same weights again
    with torch.no_grad():
        assert torch.equal(create_model(again).eval()(x), model(x))


def test_demo_and_extraction_take_the_folder_as_their_checkpoint(run_checkpoint, exported, real_videos_dir,
                                                                 tmp_path, capsys):
    from hiera_video.cli import demo_net, extract_features

    _, path, _ = run_checkpoint
    video = os.path.join(real_videos_dir, "goat.mp4")
    tops = []
    for ckpt in (path, exported):
        assert demo_net.main(["--cfg", DEMO, "--checkpoint", ckpt, "--video", video, "--single-view", *TINY_OPTS]) is None
        tops.append([line for line in capsys.readouterr().out.splitlines() if "(class " in line])
    assert len(tops[0]) == 5 and tops[0] == tops[1] and any(n in tops[0][0] for n in NAMES)
    feats = []
    for i, ckpt in enumerate((path, exported)):
        extract_features.main(["--cfg", DEMO, "--checkpoint", ckpt, "--videos", video, "--out", str(tmp_path / str(i)),
                               "--workers", "0", *TINY_OPTS])
        feats.append(np.load(tmp_path / str(i) / "goat.npy"))
    assert feats[0].shape[1] == 128 and np.array_equal(feats[0], feats[1])


def test_the_3x5_test_takes_a_hub_id_of_the_exported_folder(run_checkpoint, exported, cache, tmp_path):
    from engine_utils import run_in_process

    _, path, data = run_checkpoint
    seed_hub_cache(str(cache), "someone/hiera-tiny-demo", _hub_files(exported))
    results = []
    for i, ckpt in enumerate((path, "hf-hub:someone/hiera-tiny-demo")):
        out = tmp_path / str(i)
        run_in_process(["--cfg", DEMO, *TINY_OPTS, "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", str(out),
                        "TRAIN.ENABLE", "False", "TEST.CHECKPOINT_FILE_PATH", ckpt])
        results.append(json.load(open(out / "test_results.json")))
    assert results[0]["num_videos"] == 5 and results[0]["top1"] == results[1]["top1"]
    assert results[0]["checkpoint"] == path and results[1]["checkpoint"] == "hf-hub:someone/hiera-tiny-demo"
    preds = [open(tmp_path / str(i) / "test_predictions.jsonl").read().replace(c, "") for i, c in enumerate(
        (path, "hf-hub:someone/hiera-tiny-demo"))]
    assert preds[0] == preds[1]
