"""UCF101 / HMDB51 official split files (generated here in the official formats, CRLF and trailing
blanks included) read through pytorchvideo's readers, with real .avi clips to decode."""
import json
import os

import pytest
import torch
from data_helpers import ramp_video, small_cfg

from hiera_video.config import ConfigError, parse_args
from hiera_video.engine.configure import load_config
from hiera_video.data.hmdb51 import read_hmdb51
from hiera_video.data.loader import build_dataset
from hiera_video.data.official_splits import average_over_splits
from hiera_video.data.ucf101 import read_ucf101

UCF_CLASSES = ["ApplyEyeMakeup", "Archery", "HandstandPushups"]


@pytest.fixture(scope="module")
def ucf(tmp_path_factory):
    root = tmp_path_factory.mktemp("ucf101")
    lists = root / "ucfTrainTestlist"
    os.makedirs(lists)
    (lists / "classInd.txt").write_bytes("".join(f"{i} {c}\r\n" for i, c in enumerate(UCF_CLASSES, 1)).encode())
    videos = {c: [f"{c}/v_{c.replace('Handstand', 'HandStand')}_g{g:02d}_c01.avi" for g in range(1, 5)]
              for c in UCF_CLASSES}
    for split in (1, 2, 3):  # group `split` of each class is the test set
        train = [f"{v} {i}\r\n" for i, c in enumerate(UCF_CLASSES, 1) for g, v in enumerate(videos[c], 1) if g != split]
        test = [f"{v}\r\n" for c in UCF_CLASSES for g, v in enumerate(videos[c], 1) if g == split]
        (lists / f"trainlist{split:02d}.txt").write_bytes("".join(train).encode())
        (lists / f"testlist{split:02d}.txt").write_bytes("".join(test).encode())
    for c in UCF_CLASSES:
        os.makedirs(root / "UCF-101" / c)
        for v in videos[c]:
            ramp_video(str(root / "UCF-101" / v), num_frames=8, height=32, width=32)
    return root


def test_ucf101_splits(ucf):
    for split in (1, 2, 3):
        paths, labels, names = read_ucf101(str(ucf), "train", split, str(ucf / "UCF-101"))
        assert names == UCF_CLASSES and len(paths) == 9 and all(os.path.isfile(p) for p in paths)
        assert [UCF_CLASSES[lab] for lab in labels] == [p.split(os.sep)[-2] for p in paths]
        tpaths, tlabels, _ = read_ucf101(str(ucf), "test", split, str(ucf / "UCF-101"))
        assert tlabels == [0, 1, 2] and all(f"_g{split:02d}_" in p for p in tpaths)
        assert not set(tpaths) & set(paths)


def test_ucf101_dataset_from_config(ucf, tmp_path):
    cfg = load_config(parse_args(["NUM_GPUS", "0", "TRAIN.DATASET", "ucf101", "TEST.DATASET", "ucf101",
                                  "DATA.PATH_TO_DATA_DIR", str(ucf), "DATA.PATH_PREFIX", str(ucf / "UCF-101"),
                                  "DATA.SPLIT", "2", "MODEL.NUM_CLASSES", "0", "OUTPUT_DIR", str(tmp_path),
                                  "DATA.NUM_FRAMES", "4", "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32",
                                  "DATA.TRAIN_JITTER_SCALES", "[32,40]"]))
    assert cfg.MODEL.NUM_CLASSES == 3
    ds = build_dataset(cfg, "val")
    assert ds.class_names == UCF_CLASSES and ds.num_videos == 3
    item = ds[0]  # a video's views: [V, C, T, H, W] (V = 1 in val)
    assert bool(torch.as_tensor(item["ok"]).all()) and tuple(item["video"].shape[-4:]) == (3, 4, 32, 32)
    with pytest.raises(ConfigError, match="DATA.SPLIT=4"):
        build_dataset(small_cfg(str(ucf), **{"TRAIN.DATASET": "ucf101", "DATA.SPLIT": 4}), "train")
    with pytest.raises(ConfigError, match="MODEL.NUM_CLASSES=101 but UCF101's classInd.txt has 3"):
        build_dataset(small_cfg(str(ucf), **{"TRAIN.DATASET": "ucf101", "MODEL.NUM_CLASSES": 101}), "train")


def test_ucf101_bad_files(ucf, tmp_path):
    bad = tmp_path / "bad"
    os.makedirs(bad)
    (bad / "classInd.txt").write_text((ucf / "ucfTrainTestlist" / "classInd.txt").read_text())
    (bad / "trainlist01.txt").write_text("Archery/v_Archery_g01_c01.avi 1\n")
    with pytest.raises(ValueError, match="label 1 is 'ApplyEyeMakeup' in classInd.txt but the video is in the "
                                         "folder 'Archery'"):
        read_ucf101(str(bad), "train", 1, str(bad))
    (bad / "testlist01.txt").write_text("Bowling/v_Bowling_g01_c01.avi\n")
    with pytest.raises(ValueError, match="class folder 'Bowling' .* is not in classInd.txt"):
        read_ucf101(str(bad), "test", 1, str(bad))
    with pytest.raises(FileNotFoundError, match="testlist02.txt"):
        read_ucf101(str(bad), "test", 2, str(bad))


@pytest.fixture(scope="module")
def hmdb(tmp_path_factory):
    root = tmp_path_factory.mktemp("hmdb51")
    folds = root / "testTrainMulti_7030_splits"
    os.makedirs(folds)
    for c in ("cartwheel", "brush_hair"):
        os.makedirs(root / c)
        names = [f"April_09_{c}_u_nm_np1_ba_goo_{k}.avi" for k in range(4)]
        for v in names:
            ramp_video(str(root / c / v), num_frames=8, height=32, width=32)
        for split in (1, 2, 3):  # video k: test in split k, unused in the others when k == 0, else train
            tags = [2 if k == split else 0 if k == 0 else 1 for k in range(4)]
            (folds / f"{c}_test_split{split}.txt").write_text("".join(f"{v} {t} \n" for v, t in zip(names, tags)))
    return root


def test_hmdb51_splits(hmdb):
    for split in (1, 2, 3):
        paths, labels, names = read_hmdb51(str(hmdb), "train", split, str(hmdb))
        assert names == ["brush_hair", "cartwheel"]
        assert all(os.path.isfile(p) for p in paths) and len(paths) == 4
        assert not any(p.endswith("_0.avi") or p.endswith(f"_{split}.avi") for p in paths)
        assert [names[lab] for lab in labels] == [p.split(os.sep)[-2] for p in paths]
        tpaths, tlabels, _ = read_hmdb51(str(hmdb), "test", split, str(hmdb))
        assert sorted(tlabels) == [0, 1] and all(p.endswith(f"_{split}.avi") for p in tpaths)
    cfg = small_cfg(str(hmdb), **{"TRAIN.DATASET": "hmdb51", "TEST.DATASET": "hmdb51", "MODEL.NUM_CLASSES": 2,
                                  "DATA.SPLIT": 3})
    item = build_dataset(cfg, "test")[0]
    assert bool(torch.as_tensor(item["ok"]).all()) and item["video"].shape[-3] == 4


def test_hmdb51_bad_files(tmp_path):
    (tmp_path / "run_test_split1.txt").write_text("a.avi 1\nb.avi train\n")
    with pytest.raises(ValueError, match=r"run_test_split1.txt, line 2: expected '<video>.avi <0\|1\|2>'"):
        read_hmdb51(str(tmp_path), "train", 1, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no '<class>_test_split2.txt'"):
        read_hmdb51(str(tmp_path), "train", 2, str(tmp_path))


def test_configs_and_split_average(tmp_path):
    for name in ("configs/UCF101/HIERA_B_16x4_UCF101.yaml", "configs/HMDB51/HIERA_B_16x4_HMDB51.yaml"):
        cfg = load_config(parse_args(["--cfg", name, "OUTPUT_DIR", str(tmp_path)]))
        assert cfg.TRAIN.DATASET == cfg.TEST.DATASET and cfg.MODEL.NUM_CLASSES in (101, 51)
    runs = []
    for split, top1 in ((1, 80.0), (2, 70.0), (3, 90.0)):
        d = tmp_path / f"s{split}"
        os.makedirs(d)
        (d / "config.yaml").write_text(f"DATA:\n  SPLIT: {split}\n")
        (d / "test_results.json").write_text(json.dumps({"top1": top1, "top5": 99.0}))
        runs.append(str(d))
    result = average_over_splits(runs)
    assert result["top1"] == pytest.approx(80.0) and "warning" not in result
    assert "warning" in average_over_splits(runs[:2])
