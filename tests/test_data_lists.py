"""Kinetics-format list parsing and the errors bad lists and folders give."""
import json
import os

import pytest

from data_helpers import make_list, small_cfg
from hiera_video.data import build_loader
from hiera_video.data.video_lists import find_class_names, list_path, read_class_names, read_video_list


def test_parses_paths_labels_prefix_and_relative_paths(tmp_path):
    lst = tmp_path / "train.csv"
    lst.write_text("a/x.mp4 3\n\nmy video.mp4 0\n/abs/y.mp4 5\n")
    paths, labels = read_video_list(str(lst))
    assert labels == [3, 0, 5]
    assert paths[0] == os.path.join(str(tmp_path), "a/x.mp4")  # relative to the list's folder
    assert paths[1] == os.path.join(str(tmp_path), "my video.mp4")  # spaces in a path survive
    assert paths[2] == "/abs/y.mp4"
    paths, _ = read_video_list(str(lst), prefix="/data/k400")
    assert paths[0] == "/data/k400/a/x.mp4"


def test_custom_separator(tmp_path):
    lst = tmp_path / "val.csv"
    lst.write_text("a b.mp4,2\n")
    assert read_video_list(str(lst), separator=",") == ([os.path.join(str(tmp_path), "a b.mp4")], [2])


@pytest.mark.parametrize("line, message", [
    ("only_a_path.mp4", "expected 'path label'"),
    ("x.mp4 dog", "not an integer"),
    ("x.mp4 9", "outside [0, MODEL.NUM_CLASSES=6)"),
    ("x.mp4 -1", "outside"),
])
def test_bad_line_names_file_line_and_expected_form(tmp_path, line, message):
    lst = tmp_path / "train.csv"
    lst.write_text(f"ok.mp4 1\n{line}\n")
    with pytest.raises(ValueError) as e:
        read_video_list(str(lst), num_classes=6)
    assert message in str(e.value) and "line 2" in str(e.value) and str(lst) in str(e.value)


def test_empty_list_is_an_error(tmp_path):
    (tmp_path / "test.csv").write_text("\n")
    with pytest.raises(ValueError, match="no entries"):
        read_video_list(str(tmp_path / "test.csv"))


def test_missing_folder_and_missing_list_are_named(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="nope"):
        list_path(missing, "train")
    with pytest.raises(FileNotFoundError, match="val.csv"):
        list_path(str(tmp_path), "val")
    with pytest.raises(ValueError, match="PATH_TO_DATA_DIR is empty"):
        list_path("", "train")
    with pytest.raises(FileNotFoundError, match="test.csv"):
        build_loader(small_cfg(str(tmp_path)), "test")
    with pytest.raises(ValueError, match="split must be"):
        build_loader(small_cfg(str(tmp_path)), "training")


def test_class_names_from_text_json_and_default_file(tmp_path):
    (tmp_path / "names.json").write_text(json.dumps({"b": 1, "a": 0}))
    assert read_class_names(str(tmp_path / "names.json")) == ["a", "b"]
    cfg = small_cfg(str(tmp_path))
    assert find_class_names(cfg) is None
    (tmp_path / "classnames.txt").write_text("left\nright\n")
    assert find_class_names(cfg) == ["left", "right"]
    cfg.DATA.CLASS_NAMES_FILE = str(tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        find_class_names(cfg)


def test_batch_larger_than_dataset_is_a_clear_error(tmp_path):
    make_list(str(tmp_path), "train", [("a.mp4", 0)])
    with pytest.raises(ValueError, match="fewer than one global batch"):
        build_loader(small_cfg(str(tmp_path)), "train")
