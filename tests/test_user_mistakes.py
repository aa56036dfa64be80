"""A user's first mistakes cost one clear line that says what to do, not a traceback; nothing of
theirs is touched."""
import hashlib
import os

import numpy as np
import pytest

from engine_utils import REPO_ROOT, synthetic_dir
from hiera_video.synthetic.mp4 import write_mp4

DEMO = os.path.join(REPO_ROOT, "configs", "Synthetic", "HIERA_TINY_DEMO.yaml")


def _digest(folder):
    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(folder)):
        for f in sorted(files):
            with open(os.path.join(root, f), "rb") as fh:
                h.update(f.encode() + fh.read())
    return h.hexdigest()


def _one_line(err: str, tool: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith(f"{tool}: error: "), err
    return lines[0]


def _run_net(argv, capsys):
    from test_safe_loading import _run_net

    return _run_net(argv, capsys)


def test_the_demo_config_on_a_folder_of_the_users_lists(tmp_path, capsys):
    theirs = tmp_path / "my_data"
    theirs.mkdir()
    (theirs / "train.csv").write_text("videos/a.mp4 0\n")
    (theirs / "test.csv").write_text("videos/b.mp4 1\n")
    before = _digest(theirs)
    code, err = _run_net(["--cfg", DEMO, "DATA.PATH_TO_DATA_DIR", str(theirs), "OUTPUT_DIR", str(tmp_path / "out")],
                         capsys)
    line = _one_line(err, "run_net")
    assert code == 1 and "DATA.SYNTHETIC.ENABLE False" in line and "test.csv" in line
    assert _digest(theirs) == before


def test_class_folders_given_to_a_list_config_say_which_dataset_reads_them(tmp_path, capsys):
    folders = tmp_path / "clips"
    frames = np.zeros((8, 32, 32, 3), dtype=np.uint8)
    for name in ("jump", "run"):
        (folders / name).mkdir(parents=True)
        write_mp4(str(folders / name / "1.mp4"), frames)
    code, err = _run_net(["--cfg", DEMO, "DATA.SYNTHETIC.ENABLE", "False", "DATA.PATH_TO_DATA_DIR", str(folders),
                          "OUTPUT_DIR", str(tmp_path / "out")], capsys)
    line = _one_line(err, "run_net")
    assert code == 1 and "class folders (jump, run" in line and "TRAIN.DATASET folder" in line


def test_check_dataset_takes_a_list_file_as_people_type_it(tmp_path, tmp_path_factory, capsys):
    import shutil

    from hiera_video.cli import check_dataset

    data = tmp_path / "data"
    shutil.copytree(synthetic_dir(tmp_path_factory), data)
    assert check_dataset.main([str(data / "val.csv"), "--workers", "0"]) in (0, 1)
    out = capsys.readouterr().out
    assert "6 videos:" in out and "val: cleaned list" in out and os.path.isfile(data / "val.clean.csv")
    notes = tmp_path / "my_list.txt"
    notes.write_text("a.mp4 0\n")
    with pytest.raises(SystemExit) as e:
        check_dataset.main([str(notes)])
    assert e.value.code == 2
    assert "must be named train.csv, val.csv, test.csv" in capsys.readouterr().err
