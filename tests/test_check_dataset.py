"""tools/check_dataset.py on real files written here with PyAV: good H.264 clips, a short one, a
truncated mp4, one that breaks part-way, zero bytes, a text file renamed .mp4, audio only, a
missing path, a label out of range; SSv2 json files; AVA frames; the report, the cleaned
list, the untouched original, resuming, a worker that crashes, a file without read permission,
and refusing to overwrite what it did not write."""
import hashlib
import json
import os
import shutil
import tempfile
from fractions import Fraction

import numpy as np
import pytest

from data_helpers import make_list, ramp_video, small_cfg
from hiera_video.cli import check_dataset as cli
from hiera_video.data.check import checker as dc
from hiera_video.synthetic.ava import make_synthetic_ava


# name -> (label, expected kind or None for ok); written by the fixture below
EXPECTED = {
    "good_a.mp4": (0, None),
    "good_b.mp4": (1, None),
    "short.mp4": (2, "too_short"),
    "truncated.mp4": (3, "corrupt"),
    "breaks_midway.mp4": (4, "decode_error"),
    "zero.mp4": (5, "empty"),
    "notes.mp4": (0, "not_a_video"),
    "audio_only.m4a": (1, "no_video_stream"),
    "missing.mp4": (2, "missing"),
    "label7.mp4": (7, "label_out_of_range"),
}


def faststart_mp4(path, num_frames=30):
    """H.264 MP4 with its index first, so a cut file still opens and breaks part-way."""
    import av

    with av.open(path, "w", options={"movflags": "faststart"}) as c:
        s = c.add_stream("libx264", rate=30)
        s.width = s.height = 32
        s.pix_fmt, s.options = "yuv420p", {"threads": "1"}
        noise = np.random.default_rng(0).integers(0, 256, (num_frames, 32, 32, 3), dtype=np.uint8)
        for i in range(num_frames):  # noise: every frame takes about the same number of bytes
            frame = av.VideoFrame.from_ndarray(noise[i], format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def audio_only(path):
    import av

    with av.open(path, "w") as c:
        s = c.add_stream("aac", rate=16000)
        for i in range(8):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16000, i * 1024, Fraction(1, 16000)
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def cut(src, dst, fraction):
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data[:int(len(data) * fraction)])


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """A folder of the EXPECTED files (missing.mp4 absent)."""
    d = str(tmp_path_factory.mktemp("videos"))
    ramp_video(os.path.join(d, "good_a.mp4"), num_frames=24)
    ramp_video(os.path.join(d, "good_b.mp4"), num_frames=24)
    ramp_video(os.path.join(d, "label7.mp4"), num_frames=24)
    ramp_video(os.path.join(d, "short.mp4"), num_frames=4)
    cut(os.path.join(d, "good_a.mp4"), os.path.join(d, "truncated.mp4"), 0.5)  # index at the end: lost
    faststart_mp4(os.path.join(d, "whole.mp4"))
    cut(os.path.join(d, "whole.mp4"), os.path.join(d, "breaks_midway.mp4"), 0.6)
    os.remove(os.path.join(d, "whole.mp4"))
    open(os.path.join(d, "zero.mp4"), "w").close()
    with open(os.path.join(d, "notes.mp4"), "w") as f:
        f.write("my notes, not a video\n")
    audio_only(os.path.join(d, "audio_only.m4a"))
    return d


def kinetics_dir(tmp_path, videos):
    """DATA.PATH_TO_DATA_DIR with train.csv over the EXPECTED files (paths under PATH_PREFIX)."""
    data = tmp_path / "lists"
    data.mkdir()
    make_list(str(data), "train", [(name, label) for name, (label, _) in EXPECTED.items()])
    with open(data / "train.csv", "a") as f:
        f.write("\ngood_a.mp4\ngood_b.mp4 two\n")  # a blank line, then lines 12 and 13: no label, not a number
    return str(data), small_cfg(str(data), **{"DATA.PATH_PREFIX": videos})


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def kinds(report):
    return {os.path.basename(v["path"]): [p["kind"] for p in v["problems"]] for v in report["videos"]}


def test_report_clean_list_and_untouched_original(tmp_path, videos):
    data, cfg = kinetics_dir(tmp_path, videos)
    original = os.path.join(data, "train.csv")
    before = sha(original)
    report = dc.check_dataset(cfg, ["train"], workers=2, progress=False)

    assert kinds(report) == {n: [k] if k else [] for n, (_, k) in EXPECTED.items()}
    by_name = {os.path.basename(v["path"]): v for v in report["videos"]}
    assert by_name["short.mp4"]["status"] == "warning" and by_name["good_a.mp4"]["status"] == "ok"
    assert by_name["good_a.mp4"]["info"]["codec"] == "h264" and by_name["good_a.mp4"]["info"]["decoded_frames"] == 24
    assert "after" in by_name["breaks_midway.mp4"]["problems"][0]["reason"]  # says where it broke
    assert report["summary"]["counts"]["label_out_of_range"] == 1
    assert report["summary"] == {"videos": 10, "ok": 2, "warnings": 1, "problems": 7, "bad_lines": 2,
                                 "counts": dict({k: 1 for _, k in EXPECTED.values() if k}, bad_line=2)}
    assert [b["line"] for b in report["splits"]["train"]["bad_line_list"]] == [12, 13]
    on_disk = json.load(open(os.path.join(data, "dataset_check.json")))
    assert on_disk["summary"] == report["summary"] and on_disk["tool"] == dc.TOOL

    with open(os.path.join(data, "train.clean.csv")) as f:
        assert f.read() == "good_a.mp4 0\ngood_b.mp4 1\nshort.mp4 2\n"  # the warning stays, in list order
    assert sha(original) == before


def test_resume_checks_only_the_rest(tmp_path, videos, monkeypatch):
    data, cfg = kinetics_dir(tmp_path, videos)
    first = dc.check_dataset(cfg, ["train"], workers=2, progress=False)
    progress = os.path.join(data, "dataset_check.progress.jsonl")
    with open(progress) as f:
        header, *records = f.read().splitlines()
    assert len(records) == 10 and first["checked_now"] == 10
    # an interrupted run: 4 videos done, the 5th cut mid-write; one done record says "ok" for a
    # broken file, which only a run that does not decode it again can keep
    kept = records[:4]
    planted = next(i for i, r in enumerate(kept) if json.loads(r)["problems"] and "label7" not in r)
    rec = json.loads(kept[planted])
    rec["problems"] = []
    kept[planted] = json.dumps(rec)
    with open(progress, "w") as f:
        f.write("\n".join([header] + kept) + "\n" + records[4][:30])
    done_paths = {json.loads(r)["path"] for r in kept}

    scanned = []
    real_scan = dc.scan_video
    monkeypatch.setattr(dc, "scan_video", lambda p: scanned.append(p) or real_scan(p))
    again = dc.check_dataset(cfg, ["train"], workers=0, progress=False)

    assert again["checked_now"] == 6 and len(scanned) == 6
    assert not done_paths & set(scanned)
    assert kinds(again)[os.path.basename(rec["path"])] == []  # kept from the progress file
    with open(progress) as f:
        lines = f.read().splitlines()
    assert len(lines) == 11 and all(json.loads(line) for line in lines)  # the cut line is gone


def test_refuses_to_overwrite_files_it_did_not_write(tmp_path, videos):
    data, cfg = kinetics_dir(tmp_path, videos)
    theirs = os.path.join(data, "train.clean.csv")
    with open(theirs, "w") as f:
        f.write("my own cleaned list\n")
    with pytest.raises(dc.OutputExists, match="train.clean.csv"):
        dc.check_dataset(cfg, ["train"], workers=0, progress=False)
    assert open(theirs).read() == "my own cleaned list\n"
    assert not os.path.exists(os.path.join(data, "dataset_check.json"))
    assert not os.path.exists(os.path.join(data, "dataset_check.progress.jsonl"))

    os.remove(theirs)
    notes = os.path.join(data, "notes.json")
    with open(notes, "w") as f:
        f.write('{"mine": true}\n')
    with pytest.raises(dc.OutputExists, match="notes.json"):
        dc.check_dataset(cfg, ["train"], out=notes, workers=0, progress=False)
    assert open(notes).read() == '{"mine": true}\n'

    dc.check_dataset(cfg, ["train"], workers=0, progress=False)
    dc.check_dataset(cfg, ["train"], workers=0, progress=False)  # its own outputs: rewritten
    with open(theirs, "a") as f:
        f.write("a line the user added\n")
    with pytest.raises(dc.OutputExists, match="changed since"):
        dc.check_dataset(cfg, ["train"], workers=0, progress=False)
    assert open(theirs).read().endswith("a line the user added\n")


def as_nobody(fn):
    """``fn()`` in a forked child that gave up root (uid 65534), for permission checks; its json result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        try:
            os.setgid(65534)
            os.setuid(65534)
            result = fn()
        except Exception as e:
            result = {"error": repr(e)}
        os.write(w, json.dumps(result).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        out = json.loads(f.read())
    os.waitpid(pid, 0)
    return out


def test_unreadable_file(videos):
    """chmod 000 stops everyone but root, so as root the check runs in a child that dropped root."""
    d = tempfile.mkdtemp()  # /tmp: a folder uid 65534 may enter (pytest's tmp_path is root-only)
    try:
        os.chmod(d, 0o755)
        path = os.path.join(d, "locked.mp4")
        shutil.copy(os.path.join(videos, "good_a.mp4"), path)
        os.chmod(path, 0)
        run = lambda: dc.scan_video(path)[0]  # noqa: E731
        problems = as_nobody(run) if os.geteuid() == 0 else run()
    finally:
        shutil.rmtree(d)
    if isinstance(problems, dict):
        pytest.skip(f"could not drop root to test a file without read permission: {problems['error']}")
    assert [p["kind"] for p in problems] == ["unreadable"] and "permission" in problems[0]["reason"]


def test_cli_on_a_folder(tmp_path, videos, capsys):
    folder = tmp_path / "mixed"
    shutil.copytree(videos, folder)
    report = str(folder) + ".check.json"
    assert cli.main(["--videos", str(folder), "--workers", "2", "DATA.NUM_FRAMES", "4", "DATA.SAMPLING_RATE", "2"]) == 1
    assert "9 videos: 3 ok, 1 with warnings, 5 with problems" in capsys.readouterr().out
    expected = {n: [k] if k else [] for n, (_, k) in EXPECTED.items() if n != "missing.mp4"}
    expected["label7.mp4"] = []  # a folder has no labels
    assert kinds(json.load(open(report))) == expected
    with open(str(folder) + ".check.clean.txt") as f:
        assert sorted(os.path.basename(p) for p in f.read().split()) == [
            "good_a.mp4", "good_b.mp4", "label7.mp4", "short.mp4"]
    args = cli.parse_args(["--split", "train", "val", "DATA.NUM_FRAMES", "4"])  # overrides after --split
    assert args.split == ["train", "val"] and args.opts == ["DATA.NUM_FRAMES", "4"]
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(os.path.join(videos, "good_a.mp4"), good)
    assert cli.main(["--videos", str(good), "--workers", "0", "DATA.NUM_FRAMES", "4"]) == 0


def test_ssv2_json_files(tmp_path, videos):
    labels = {"Pushing something": "0", "Pulling something": "1"}
    entries = [{"id": "1", "template": "Pushing [something]"}, {"id": "2", "template": "Pulling [something]"},
               {"id": "3", "template": "Pushing [something]"}]
    d = tmp_path / "ssv2"
    d.mkdir()
    (d / "something-something-v2-labels.json").write_text(json.dumps(labels))
    (d / "something-something-v2-validation.json").write_text(json.dumps(entries))
    shutil.copy(os.path.join(videos, "good_a.mp4"), d / "1.webm")
    shutil.copy(os.path.join(videos, "good_b.mp4"), d / "2.mp4")  # the loader's <id>.mp4 fallback
    cfg = small_cfg(str(d), **{"TRAIN.DATASET": "ssv2", "TEST.DATASET": "ssv2", "MODEL.NUM_CLASSES": 2})
    report = dc.check_dataset(cfg, workers=0, progress=False)
    assert list(report["splits"]) == ["val"]  # no train json; test reads the same file as val
    assert [(v["label"], [p["kind"] for p in v["problems"]]) for v in report["videos"]] == [
        (0, []), (1, []), (0, ["missing"])]
    clean = json.load(open(d / "something-something-v2-validation.clean.json"))
    assert [e["id"] for e in clean] == ["1", "2"]


def test_ava_frames(tmp_path):
    root = str(tmp_path / "ava")
    make_synthetic_ava(root, train_videos=3, val_videos=0, keyframes=1, height=32, width=32)
    frames = os.path.join(root, "frames")
    # keyframe 902 (list position 60, file 000061); 4 frames 8 apart: files 000045, 53, 61, 69
    os.remove(os.path.join(frames, "syn_train_001", "syn_train_001_000061.jpg"))
    with open(os.path.join(frames, "syn_train_002", "syn_train_002_000053.jpg"), "wb") as f:
        f.write(b"\xff\xd8 not really a jpeg")
    cfg = small_cfg(root, **{"TRAIN.DATASET": "ava", "TEST.DATASET": "ava", "DATA.SAMPLING_RATE": 8})
    report = dc.check_dataset(cfg, ["train"], workers=0, progress=False)
    assert [(os.path.basename(v["path"]), v["status"], [p["kind"] for p in v["problems"]])
            for v in report["videos"]] == [("syn_train_000", "ok", []),
                                           ("syn_train_001", "warning", ["missing_frames"]),
                                           ("syn_train_002", "problem", ["bad_frame"])]
    with open(os.path.join(root, "frame_lists", "train.clean.csv")) as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("original_vido_id") and {line.split()[0] for line in lines[1:]} == {
        "syn_train_000", "syn_train_001"}


def test_a_video_that_kills_its_worker_is_reported(tmp_path, videos, monkeypatch):
    """A decoder crash (here: the worker exits while scanning good_b.mp4) costs that video only."""
    data, cfg = kinetics_dir(tmp_path, videos)
    real_scan = dc.scan_video

    def crashing_scan(path):
        if path.endswith("good_b.mp4"):
            os._exit(3)
        return real_scan(path)

    monkeypatch.setattr(dc, "scan_video", crashing_scan)  # forked workers inherit it
    report = dc.check_dataset(cfg, ["train"], workers=2, progress=False)
    expected = {n: [k] if k else [] for n, (_, k) in EXPECTED.items()}
    expected["good_b.mp4"] = ["crashed"]
    assert kinds(report) == expected
