"""Class-folder datasets (hiera_video/data/folders.py) on real encoded files: layouts, the seeded
stratified split, the lists written out, MODEL.NUM_CLASSES 0, and the bad-input cases."""
import logging
import os

import pytest
from data_helpers import make_list, ramp_video, small_cfg

from hiera_video.config import ConfigError, parse_args
from hiera_video.engine.configure import load_config
from hiera_video.data.folders import ClassFolderPaths, FolderDataset, read_folder_splits
from hiera_video.data.loader import build_dataset


def make_tree(root, counts, ext=".mp4"):
    """root/<class>/<n><ext> real 4-frame H.264 clips; returns the paths per class."""
    out = {}
    for name, n in counts.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        out[name] = [ramp_video(os.path.join(root, name, f"{name}_{i}{ext}"), num_frames=4, height=16, width=16)
                     for i in range(n)]
    return out


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("pool"))
    make_tree(root, {"walk": 10, "jump": 10, "sit": 5})
    make_tree(root, {"wave": 1}, ext=".mkv")  # a container pytorchvideo's from_directory ignores
    open(os.path.join(root, "walk", "notes.txt"), "w").write("not a video")
    open(os.path.join(root, "walk", "._walk_0.mp4"), "w").write("macOS resource fork")
    make_tree(os.path.join(root, "jump", ".ipynb_checkpoints"), {"x": 1})  # hidden: skipped, not nested
    open(os.path.join(root, "README.md"), "w").write("hello")
    os.makedirs(os.path.join(root, "empty_class"))
    return root


def folder_cfg(root, out, **kw):
    return small_cfg(root, **{"TRAIN.DATASET": "folder", "TEST.DATASET": "folder", "OUTPUT_DIR": str(out),
                              "DATA.VAL_FRACTION": 0.2, "DATA.TEST_FRACTION": 0.2, "MODEL.NUM_CLASSES": 0, **kw})


def test_paths_are_pytorchvideo_labeled_video_paths(pool):
    paths = ClassFolderPaths.from_directory(pool)
    assert paths.classes == ["jump", "sit", "walk", "wave"]  # sorted; the empty folder left out
    assert paths.empty == ["empty_class"]
    assert sorted(os.path.basename(p) for p in paths.skipped) == ["._walk_0.mp4", ".ipynb_checkpoints", "README.md",
                                                                   "notes.txt"]
    path, meta = paths[len(paths) - 1]
    assert path.endswith("wave_0.mkv") and meta == {"label": 3}
    assert len(paths) == 26


def test_split_is_stratified_seeded_and_per_class_stable(pool, tmp_path):
    a = read_folder_splits(pool, 0.2, 0.2, seed=1)
    assert {s: len(v) for s, v in a.lists.items()} == {"train": 16, "val": 5, "test": 5}
    for split in ("val", "test"):  # 2 of 10 walk / jump, 1 of 5 sit; wave's only video stays in train
        assert sorted(lab for _, lab in a.lists[split]) == [0, 0, 1, 2, 2]
    everything = [p for v in a.lists.values() for p, _ in v]
    assert len(everything) == len(set(everything)) == 26
    assert read_folder_splits(pool, 0.2, 0.2, seed=1).lists == a.lists
    assert read_folder_splits(pool, 0.2, 0.2, seed=2).lists != a.lists
    # a video added to one class leaves the other classes' splits alone
    import shutil

    copy = str(tmp_path / "copy")
    shutil.copytree(pool, copy)
    make_tree(copy, {"walk": 11})
    b = read_folder_splits(copy, 0.2, 0.2, seed=1)
    for split in ("val", "test"):
        old = {os.path.relpath(p, pool) for p, lab in a.lists[split] if lab != 2}
        assert old == {os.path.relpath(p, copy) for p, lab in b.lists[split] if lab != 2}


def test_dataset_writes_lists_names_and_takes_num_classes(pool, tmp_path, caplog):
    cfg = load_config(parse_args(["NUM_GPUS", "0", "TRAIN.DATASET", "folder", "TEST.DATASET", "folder",
                                  "DATA.PATH_TO_DATA_DIR", pool, "OUTPUT_DIR", str(tmp_path), "MODEL.NUM_CLASSES",
                                  "0", "DATA.VAL_FRACTION", "0.2", "DATA.TEST_FRACTION", "0.2"]))
    assert cfg.MODEL.NUM_CLASSES == 4
    with caplog.at_level(logging.INFO):
        ds = build_dataset(cfg, "train")
    assert isinstance(ds, FolderDataset) and ds.class_names == ["jump", "sit", "walk", "wave"]
    assert "empty_class" in caplog.text and "README.md" in caplog.text
    assert open(tmp_path / "classnames.txt").read().split() == ds.class_names
    lines = open(tmp_path / "splits" / "train.csv").read().splitlines()
    assert [(p, int(lab)) for p, lab in (ln.rsplit(" ", 1) for ln in lines)] == list(zip(ds.video_paths, ds.labels))
    assert "README.md" in open(tmp_path / "splits" / "skipped.txt").read()
    with pytest.raises(ConfigError, match="MODEL.NUM_CLASSES=3 but .* has 4 classes"):
        build_dataset(folder_cfg(pool, tmp_path, **{"MODEL.NUM_CLASSES": 3}), "train")


def test_lists_win_over_folders(tmp_path, caplog):
    root = str(tmp_path / "both")
    make_tree(root, {"a": 2, "b": 2})
    make_list(root, "train", [("a/a_0.mp4", 1), ("b/b_0.mp4", 0)])
    with caplog.at_level(logging.INFO):
        ds = build_dataset(folder_cfg(root, tmp_path, **{"MODEL.NUM_CLASSES": 2}), "train")
    assert "using its lists" in caplog.text
    assert ds.labels == [1, 0] and ds.video_paths[0] == os.path.join(root, "a/a_0.mp4")


def test_synthetic_demo_output_is_read_by_its_lists(tmp_path, caplog):
    from hiera_video.synthetic.motion import CLASSES, generate

    root = str(tmp_path / "synthetic")  # videos/{train,val,test}/<n>.mp4 would look like class folders
    generate(root, num_train=6, num_val=2, num_test=2, num_frames=4, size=32, workers=1)
    with caplog.at_level(logging.INFO):
        ds = build_dataset(folder_cfg(root, tmp_path), "val")
    assert "holds train.csv: using its lists" in caplog.text
    assert ds.class_names == list(CLASSES) and ds.num_videos == 2 and ds.labels == [0, 1]


def test_split_folders_layout(tmp_path):
    root = str(tmp_path / "tv")
    make_tree(os.path.join(root, "train"), {"x": 4, "y": 4})
    make_tree(os.path.join(root, "test"), {"x": 1, "y": 2})
    s = read_folder_splits(root, 0.25, 0.0, seed=0)  # no val/: a quarter of train per class
    assert s.classes == ["x", "y"]
    assert {k: len(v) for k, v in s.lists.items()} == {"train": 6, "val": 2, "test": 3}
    assert all("/test/" in p for p, _ in s.lists["test"])
    with pytest.raises(ValueError, match="no val/ folder and DATA.VAL_FRACTION is 0"):
        read_folder_splits(root, 0.0, 0.0, seed=0)
    make_tree(os.path.join(root, "test"), {"z": 1})
    with pytest.raises(ValueError, match=r"class folder\(s\) \['z'\] that the training split does not have"):
        read_folder_splits(root, 0.25, 0.0, seed=0)


def test_bad_layouts_fail_clearly(tmp_path):
    nested = str(tmp_path / "nested")
    make_tree(nested, {"a": 2, "b": 2})
    make_tree(os.path.join(nested, "a"), {"deeper": 1})
    with pytest.raises(ValueError, match="is a folder inside the class folder"):
        read_folder_splits(nested, 0.2, 0.2, seed=0)
    one = str(tmp_path / "one")
    make_tree(one, {"only": 3})
    os.makedirs(os.path.join(one, "no_videos"))
    open(os.path.join(one, "no_videos", "x.jpg"), "w").write("x")
    with pytest.raises(ValueError, match=r"1 class folder\(s\) with videos \(\['only'\]\)"):
        read_folder_splits(one, 0.2, 0.2, seed=0)


def test_small_class_keeps_a_training_video(tmp_path, caplog):
    few = str(tmp_path / "few")
    make_tree(few, {"a": 5, "b": 2})
    with caplog.at_level(logging.WARNING):
        s = read_folder_splits(few, 0.2, 0.2, seed=0)
    assert "class 'b' has 2 video(s), too few for every split: none in val" in caplog.text
    assert [sum(lab == 1 for _, lab in s.lists[k]) for k in ("train", "val", "test")] == [1, 0, 1]


def test_finetune_recipes_take_classes_from_the_folders(pool, tmp_path):
    for size in ("B", "L"):
        cfg = load_config(parse_args(["--cfg", f"configs/Finetune/HIERA_{size}_16x4_FOLDER.yaml",
                                      "DATA.PATH_TO_DATA_DIR", pool, "OUTPUT_DIR", str(tmp_path)]))
        assert cfg.MODEL.NUM_CLASSES == 4 and cfg.TRAIN.DATASET == "folder"
        assert cfg.TRAIN.BATCH_SIZE * cfg.TRAIN.GRAD_ACCUM_STEPS == 32
