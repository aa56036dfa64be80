"""run_net as a user runs it on their own data: broken videos in every split, a folder that is theirs.

Regression tests for issue 14's bugs: a broken video in the validation list stopped training
(its replacement was counted twice, the broken one never); the demo config's generator wrote
over a user's test.csv.
"""
import hashlib
import os
import shutil

import pytest

from engine_utils import json_stats, run_net, synthetic_dir, tiny_opts
from video_zoo import write_zoo

pytestmark = pytest.mark.slow  # subprocess runs: `pytest -m "not slow"` leaves them out

BROKEN_KINDS = ("truncated", "zero_bytes", "not_a_video", "missing")


@pytest.fixture(scope="module")
def user_data(tmp_path_factory):
    """The tiny generated dataset's videos listed in a user's folder, plus 4 broken files in each split."""
    source = synthetic_dir(tmp_path_factory)
    root = tmp_path_factory.mktemp("user_data")
    broken = write_zoo(str(root / "broken"), BROKEN_KINDS)
    for split in ("train", "val", "test"):
        with open(os.path.join(source, f"{split}.csv")) as f:
            lines = [f"{os.path.join(source, line.split()[0])} {line.split()[1]}\n" for line in f if line.strip()]
        lines += [f"{broken[k]} {i}\n" for i, k in enumerate(BROKEN_KINDS)]
        (root / f"{split}.csv").write_text("".join(lines))
    shutil.copy(os.path.join(source, "classnames.txt"), root / "classnames.txt")
    return str(root), sorted(broken.values())


def digest(folder):
    out = {}
    for dp, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(dp, name), "rb") as f:
                out[os.path.relpath(os.path.join(dp, name), folder)] = hashlib.sha1(f.read()).hexdigest()
    return out


def test_classification_run_leaves_broken_videos_out_and_finishes(user_data, tmp_path):
    import json

    data, broken = user_data
    before = digest(data)
    out = tmp_path / "run"
    result = run_net(["--cfg", "configs/Synthetic/HIERA_TINY_DEMO.yaml",
                      *tiny_opts(data, out, "DATA.SYNTHETIC.ENABLE", "False", "SOLVER.MAX_EPOCH", "1",
                                 "DATA.MAX_BAD_FRACTION", "0.5")])
    assert result.returncode == 0, result.stderr[-3000:]
    val = json_stats(str(out / "stdout.log"), "val_epoch")
    assert len(val) == 1 and val[0]["num_failed"] == 4 and sorted(val[0]["failed_videos"]) == broken
    assert val[0]["num_videos"] == 6  # the good ones, each once
    train = json_stats(str(out / "stdout.log"), "train_epoch")
    assert train[0]["decode_failures"] > 0
    with open(out / "test_results.json") as f:
        res = json.load(f)
    assert sorted(res["failed_videos"]) == broken and res["num_videos"] == 5
    log = (out / "stdout.log").read_text()
    for path in broken:
        assert os.path.basename(path) in log
    assert digest(data) == before


def test_mae_val_loss_leaves_broken_videos_out(user_data, tmp_path):
    data, broken = user_data
    out = tmp_path / "mae"
    result = run_net(["--cfg", "configs/Synthetic/HIERA_TINY_DEMO.yaml",
                      *tiny_opts(data, out, "TASK", "mae", "DATA.SYNTHETIC.ENABLE", "False", "SOLVER.MAX_EPOCH", "1",
                                 "DATA.MAX_BAD_FRACTION", "0.5", "MASK.MASK_RATIO", "0.5",
                                 "HIERA.DECODER_EMBED_DIM", "16", "HIERA.DECODER_DEPTH", "1",
                                 "HIERA.DECODER_NUM_HEADS", "1")])
    assert result.returncode == 0, result.stderr[-3000:]
    val = json_stats(str(out / "stdout.log"), "val_epoch")
    assert val[0]["num_failed"] == 4 and sorted(val[0]["failed_videos"]) == broken and val[0]["num_clips"] == 6
    test = json_stats(str(out / "stdout.log"), "test")
    assert test[0]["num_failed"] == 4


def test_demo_config_refuses_a_users_folder(real_videos_dir, tmp_path):
    """The issue's scenario: a folder with the user's test.csv, clips and notes, the demo config, test only."""
    folder = tmp_path / "my_videos"
    folder.mkdir()
    for name in ("dog.mp4", "goat.mp4"):
        shutil.copy(os.path.join(real_videos_dir, name), folder / name)
    (folder / "test.csv").write_text("dog.mp4 0\ngoat.mp4 1\n")
    (folder / "notes.txt").write_text("my notes\n")
    before = digest(str(folder))
    import torch

    from hiera_video import create_model

    model = create_model("hiera_tiny_16x224", embed_dim=32, num_heads=1, stages=(1, 1, 2, 1), input_size=(8, 64, 64),
                         num_classes=6)  # the demo config's model
    torch.save({"model_state": model.state_dict()}, tmp_path / "model.pyth")
    result = run_net(["--cfg", "configs/Synthetic/HIERA_TINY_DEMO.yaml", "DATA.PATH_TO_DATA_DIR", str(folder),
                      "OUTPUT_DIR", str(tmp_path / "out"), "TRAIN.ENABLE", "False",
                      "TEST.CHECKPOINT_FILE_PATH", str(tmp_path / "model.pyth")])
    assert result.returncode != 0
    assert "DATA.SYNTHETIC.ENABLE False" in result.stderr and "test.csv" in result.stderr
    assert digest(str(folder)) == before


def test_generators_write_only_where_they_may(tmp_path):
    from hiera_video.synthetic import ava as ava_synthetic, motion as synthetic
    from hiera_video.synthetic.target_folder import ForeignFolderError

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "test.csv").write_text("a.mp4 0\n")
    with pytest.raises(ForeignFolderError, match="test.csv"):
        synthetic.generate(str(theirs), 2, 1, 1, num_frames=4, size=16, workers=1)
    with pytest.raises(ForeignFolderError, match="test.csv"):
        ava_synthetic.generate(str(theirs), train_videos=1, val_videos=1, keyframes=1, height=32, width=32)
    assert sorted(os.listdir(theirs)) == ["test.csv"] and (theirs / "test.csv").read_text() == "a.mp4 0\n"
    # A missing folder, an empty one, and the generator's own earlier output are fine.
    ours = tmp_path / "ours"
    synthetic.generate(str(ours), 2, 1, 1, num_frames=4, size=16, workers=1)
    (ours / "train.csv").unlink()  # an interrupted earlier generation: redone in place
    synthetic.generate(str(ours), 2, 1, 1, num_frames=4, size=16, workers=1)
    assert synthetic.is_complete(str(ours))
    (tmp_path / "empty").mkdir()
    ava_synthetic.generate(str(tmp_path / "empty"), train_videos=1, val_videos=1, keyframes=1, height=32, width=32)
    assert ava_synthetic.is_complete(str(tmp_path / "empty"))


def test_list_builders_do_not_replace_a_users_lists(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("kinetics_lists", "datasets_prep/kinetics_lists.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    (tmp_path / "videos").mkdir()
    (tmp_path / "k400.csv").write_text("label,youtube_id,time_start,time_end,split\nabseiling,abc,0,10,train\n")
    out = tmp_path / "lists"
    out.mkdir()
    (out / "train.csv").write_text("my own list 0\n")
    with pytest.raises(SystemExit, match="already exist.*--overwrite"):
        tool.main(["--videos", str(tmp_path / "videos"), "--train", str(tmp_path / "k400.csv"), "--out", str(out)])
    assert (out / "train.csv").read_text() == "my own list 0\n"
    tool.main(["--videos", str(tmp_path / "videos"), "--train", str(tmp_path / "k400.csv"), "--out", str(out),
               "--overwrite"])
    assert (out / "train.csv").read_text() != "my own list 0\n"
