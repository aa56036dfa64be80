"""datasets_prep/: Kinetics CSV and SSv2 json converters on fake official files; the resizer."""
import hashlib
import json
import os
import sys

import av
import pytest

from data_helpers import ramp_video, vfr_ramp_video

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from datasets_prep import kinetics_lists, resize_videos, ssv2_lists  # noqa: E402
from hiera_video.data.video_lists import read_video_list  # noqa: E402


def _touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").close()


def test_kinetics_lists_with_missing_videos(tmp_path, capsys):
    ann = tmp_path / "ann"
    ann.mkdir()
    (ann / "train.csv").write_text(
        "label,youtube_id,time_start,time_end,split,is_cc\n"
        "riding a bike,abc,10,20,train,0\n"
        "abseiling,def,0,10,train,0\n"
        "abseiling,gone,5,15,train,0\n")
    (ann / "validate.csv").write_text(
        "label,youtube_id,time_start,time_end,split\n"
        "riding a bike,xyz,100,110,validate\n"
        "abseiling,nope,1,11,validate\n")
    videos = tmp_path / "videos"
    _touch(str(videos / "train" / "riding a bike" / "abc_000010_000020.mp4"))
    _touch(str(videos / "train" / "abseiling" / "def_000000_000010.mkv"))
    _touch(str(videos / "val" / "xyz_000100_000110.mp4"))
    out = tmp_path / "lists"
    kinetics_lists.main(["--videos", str(videos), "--train", str(ann / "train.csv"),
                         "--val", str(ann / "validate.csv"), "--out", str(out)])
    assert (out / "classnames.txt").read_text().split("\n")[:2] == ["abseiling", "riding a bike"]
    assert json.loads((out / "classids.json").read_text()) == {"abseiling": 0, "riding a bike": 1}
    paths, labels = read_video_list(str(out / "train.csv"), prefix=str(videos))
    assert labels == [1, 0] and all(os.path.isfile(p) for p in paths)
    assert paths[1].endswith("def_000000_000010.mkv")
    assert (out / "missing_train.txt").read_text() == "gone,5,15,abseiling\n"
    assert (out / "missing_val.txt").read_text() == "nope,1,11,abseiling\n"
    assert (out / "test.csv").read_text() == (out / "val.csv").read_text() == "val/xyz_000100_000110.mp4 1\n"
    summary = capsys.readouterr().out
    assert "train: 2 of 3 clips found, 1 missing" in summary and "MODEL.NUM_CLASSES 2" in summary


def test_kinetics_lists_rejects_unofficial_columns(tmp_path):
    (tmp_path / "t.csv").write_text("name,cls\na,b\n")
    (tmp_path / "v").mkdir()
    with pytest.raises(SystemExit, match="expected the official columns"):
        kinetics_lists.main(["--videos", str(tmp_path / "v"), "--train", str(tmp_path / "t.csv"),
                             "--out", str(tmp_path / "o")])


def test_ssv2_lists_report_missing(tmp_path, capsys):
    (tmp_path / "something-something-v2-labels.json").write_text(json.dumps({"Holding something": "0",
                                                                             "Dropping something": "1"}))
    (tmp_path / "something-something-v2-train.json").write_text(json.dumps(
        [{"id": "1", "template": "Holding [something]"}, {"id": "2", "template": "Dropping [something]"}]))
    (tmp_path / "something-something-v2-validation.json").write_text(json.dumps(
        [{"id": "3", "template": "Dropping [something]"}]))
    videos = tmp_path / "videos"
    _touch(str(videos / "1.webm"))
    _touch(str(videos / "3.mp4"))
    ssv2_lists.main(["--annotations", str(tmp_path), "--videos", str(videos), "--out", str(tmp_path / "out")])
    out = tmp_path / "out"
    assert (out / "train.csv").read_text() == "1.webm 0\n" and (out / "missing_train.txt").read_text() == "2\n"
    assert (out / "val.csv").read_text() == (out / "test.csv").read_text() == "3.mp4 1\n"
    assert (out / "classnames.txt").read_text() == "Holding something\nDropping something\n"
    assert "train: 1 of 2 videos found, 1 missing" in capsys.readouterr().out


def _md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def test_resizer_resizes_keeps_timestamps_reports_failures_and_resumes(tmp_path, capsys):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "a").mkdir(parents=True)
    ramp_video(str(src / "a" / "wide.mp4"), num_frames=8, height=64, width=96)
    vfr_ramp_video(str(src / "vfr.mp4"), [0, 1, 2, 6, 7, 8])
    (src / "broken.webm").write_bytes(b"not a video" * 100)
    before = {p: _md5(src / p) for p in ("a/wide.mp4", "vfr.mp4", "broken.webm")}
    resize_videos.main(["--src", str(src), "--dst", str(dst), "--short-side", "32", "--workers", "1", "--no-progress"])
    assert "3 videos: 2 resized, 0 already done, 1 failed" in capsys.readouterr().out
    with av.open(str(dst / "a" / "wide.mp4")) as c:
        s = c.streams.video[0]
        assert (s.width, s.height) == (48, 32)
    with av.open(str(dst / "vfr.mp4")) as c:  # the gap in the timestamps survives
        times = [round(f.time * 30) for f in c.decode(video=0)]
    assert times == [0, 1, 2, 6, 7, 8]
    assert "broken.webm" in (dst / "resize_failures.txt").read_text()
    assert not [f for f in os.listdir(dst) if ".tmp" in f]
    assert {p: _md5(src / p) for p in before} == before  # originals untouched
    os.remove(dst / "vfr.mp4")
    resize_videos.main(["--src", str(src), "--dst", str(dst), "--short-side", "32", "--workers", "1", "--no-progress"])
    assert "3 videos: 1 resized, 1 already done, 1 failed" in capsys.readouterr().out


def test_resizer_refuses_to_write_inside_the_sources(tmp_path):
    (tmp_path / "src").mkdir()
    with pytest.raises(SystemExit, match="must be outside --src"):
        resize_videos.main(["--src", str(tmp_path / "src"), "--dst", str(tmp_path / "src" / "small")])


def test_target_size_never_upscales_and_stays_even():
    assert resize_videos.target_size(1280, 720, 320) == (568, 320)
    assert resize_videos.target_size(720, 1280, 320) == (320, 568)
    assert resize_videos.target_size(200, 150, 320) == (200, 150)
    assert resize_videos.target_size(341, 199, 320) == (340, 200)  # odd sides become even
