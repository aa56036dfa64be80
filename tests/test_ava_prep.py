"""datasets_prep/ava.py: 30 fps frame extraction from a generated movie (timing, size, resume,
originals untouched, failures reported) and PySlowFast frame lists."""
import hashlib
import os
import sys

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from datasets_prep import ava as prep  # noqa: E402

SRC_FPS, NUM_SRC_FRAMES, H, W = 25, 62, 48, 80


def _level(t: float) -> int:
    """Grey level that encodes the source frame's time (one level per source frame)."""
    return int(round(t * SRC_FPS)) * 4 + 4


def _movie(path: str) -> None:
    import av

    with av.open(path, "w") as out:
        st = out.add_stream("libx264", rate=SRC_FPS)
        st.width, st.height, st.pix_fmt = W, H, "yuv420p"
        st.options = {"crf": "0"} if path.endswith(".mp4") else {}
        for i in range(NUM_SRC_FRAMES):
            img = np.full((H, W, 3), _level(i / SRC_FPS), np.uint8)
            for p in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)


def _md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


@pytest.fixture(scope="module")
def movies(tmp_path_factory):
    root = tmp_path_factory.mktemp("movies")
    _movie(str(root / "vidA.mp4"))
    (root / "broken.mkv").write_bytes(b"not a movie")
    return root


def test_extract_times_sizes_resume(movies, tmp_path, capsys):
    before = _md5(movies / "vidA.mp4")
    out = tmp_path / "frames"
    args = ["extract", "--videos", str(movies), "--out", str(out), "--start", "1", "--end", "2",
            "--short-side", "24", "--no-progress"]
    assert prep.main(args) == 1  # one failure
    msg = capsys.readouterr().out
    assert "2 movies: 1 extracted, 0 already done, 1 failed" in msg
    assert "broken" in (out / "extract_failures.txt").read_text()
    names = sorted(os.listdir(out / "vidA"))
    assert len(names) == 30 and names[0] == "vidA_000001.jpg" and names[-1] == "vidA_000030.jpg"
    for k in range(30):  # image k+1 shows the source frame at or before 1 + k/30 s
        img = np.asarray(Image.open(out / "vidA" / names[k]))
        assert img.shape == (24, 40, 3)
        t_src = np.floor((1 + k / 30) * SRC_FPS + 1e-6) / SRC_FPS
        # neighbouring source frames differ by 4 levels; YUV->RGB and scaling cost up to 2
        assert abs(float(img.mean()) - _level(t_src)) < 2.5, (k, img.mean(), _level(t_src))
    assert _md5(movies / "vidA.mp4") == before and sorted(os.listdir(movies)) == ["broken.mkv", "vidA.mp4"]
    # resumable: finished videos are skipped; an interrupted one (temp folder) is redone
    import shutil

    more = tmp_path / "movies2"
    more.mkdir()
    for vid in ("vidA", "vidB"):
        shutil.copy(movies / "vidA.mp4", more / f"{vid}.mp4")
    os.makedirs(out / ".vidB.tmp")
    (out / ".vidB.tmp" / "vidB_000077.jpg").write_bytes(b"partial")
    assert prep.main(args[:2] + [str(more)] + args[3:]) == 0
    assert "2 movies: 1 extracted, 1 already done, 0 failed" in capsys.readouterr().out
    assert sorted(os.listdir(out / "vidB")) == [n.replace("vidA", "vidB") for n in names]
    assert not os.path.exists(out / ".vidB.tmp")
    with pytest.raises(ValueError, match="must not contain each other"):
        prep.extract(str(movies), str(movies / "frames"))


def test_lists_pyslowfast_format_and_missing(tmp_path, capsys):
    frames = tmp_path / "frames"
    for vid, n in (("v1", 3), ("v2", 2)):
        os.makedirs(frames / vid)
        for i in range(n):
            (frames / vid / f"{vid}_{i + 1:06d}.jpg").write_bytes(b"jpg")
    ann = tmp_path / "ava_val_v2.2.csv"
    ann.write_text("v2,0902,0.1,0.1,0.5,0.5,12,0\nv9,0902,0.1,0.1,0.5,0.5,12,0\nv1,0903,0.1,0.1,0.5,0.5,1,1\n")
    assert prep.main(["lists", "--frames", str(frames), "--out", str(tmp_path / "lists"), "--val", str(ann)]) == 0
    assert "val: 2 of 3 videos listed, 1 without frames" in capsys.readouterr().out
    lines = (tmp_path / "lists" / "val.csv").read_text().splitlines()
    assert lines[0] == "original_vido_id video_id frame_id path labels"
    assert lines[1:] == ['v2 0 0 v2/v2_000001.jpg ""', 'v2 0 1 v2/v2_000002.jpg ""', 'v1 1 0 v1/v1_000001.jpg ""',
                         'v1 1 1 v1/v1_000002.jpg ""', 'v1 1 2 v1/v1_000003.jpg ""']
    assert (tmp_path / "lists" / "missing_val.txt").read_text() == "v9\n"
    from hiera_video.data.ava import read_frame_lists

    assert read_frame_lists([str(tmp_path / "lists" / "val.csv")])["v1"] == [f"v1/v1_00000{i}.jpg" for i in (1, 2, 3)]
