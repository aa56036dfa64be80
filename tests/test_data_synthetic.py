"""The generated dataset: determinism, a task that needs time, atomic generation, config hook."""
import filecmp
import os

import numpy as np
import pytest

from data_helpers import small_cfg
from hiera_video.synthetic import motion as syn
from hiera_video.data.video_decoding import decode_clip


def _appearances(n, size=32):
    return [syn.sample_appearance(np.random.default_rng([7, k]), size) for k in range(n)]


def test_first_frame_is_identical_for_every_class():
    """Appearance is drawn without the class: frame 0 carries no information about it."""
    for app in _appearances(10):
        clips = [syn.render_clip(app, label, 8, 32) for label in range(len(syn.CLASSES))]
        assert all(np.array_equal(c[0], clips[0][0]) for c in clips)
        # ... while the motion differs: every pair of classes differs by frame 7
        last = [c[7].astype(int) for c in clips]
        assert min(np.abs(a - b).mean() for i, a in enumerate(last) for b in last[i + 1:]) > 0.5


def test_playing_a_clip_backwards_gives_the_opposite_class():
    for app in _appearances(10):
        app = syn.replace(app, noise_sigma=0.0)
        for label in range(len(syn.CLASSES)):
            forward = syn.render_clip(app, label, 12, 32)
            back = syn.render_clip(syn.reversed_appearance(app, label, 12), syn.OPPOSITE[label], 12, 32)
            assert np.abs(forward[::-1].astype(int) - back).max() <= 1


def test_class_independent_appearance_statistics():
    """Across many clips, per-class frame-0 colour statistics agree (labels are n % 6)."""
    means = np.array([[syn.render_clip(*syn.clip_spec(0, "train", n, 32), 1, 32).mean()]
                      for n in range(240)]).reshape(40, 6)
    per_class = means.mean(axis=0)
    spread = means.std(axis=0).mean() / np.sqrt(40)
    assert np.ptp(per_class) < 6 * spread


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("syn") / "a")
    syn.generate(out, num_train=12, num_val=6, num_test=6, num_frames=16, size=32, seed=1, workers=2)
    return out


def test_files_lists_and_class_names(small_dataset):
    for split, n in (("train", 12), ("val", 6), ("test", 6)):
        lines = open(os.path.join(small_dataset, f"{split}.csv")).read().split("\n")[:-1]
        assert len(lines) == n
        assert [int(line.split()[1]) for line in lines] == [k % 6 for k in range(n)]  # balanced
    assert open(os.path.join(small_dataset, "classnames.txt")).read().split() == list(syn.CLASSES)
    path = os.path.join(small_dataset, "videos", "train", "00004.mp4")
    clip = decode_clip(path, "pyav", 16, 1 / 30, start_sec=0)
    rendered = syn.render_clip(*syn.clip_spec(1, "train", 4, 32), 16, 32)
    assert clip.shape == (16, 3, 32, 32)
    # H.264 at crf 18 keeps the picture (noise aside): frames match what was rendered
    assert np.abs(clip.permute(0, 2, 3, 1).numpy().astype(int) - rendered).mean() < 8
    assert not [f for f in os.listdir(os.path.dirname(small_dataset)) if ".tmp-" in f]


def test_generation_is_deterministic_whatever_the_worker_count(small_dataset, tmp_path):
    again = str(tmp_path / "b")
    syn.generate(again, num_train=12, num_val=6, num_test=6, num_frames=16, size=32, seed=1, workers=1)
    names = [os.path.join(d, f) for d in ("videos/train", "videos/val", "videos/test")
             for f in sorted(os.listdir(os.path.join(small_dataset, d)))] + ["train.csv", "test.csv"]
    match, mismatch, errors = filecmp.cmpfiles(small_dataset, again, names, shallow=False)
    assert not mismatch and not errors and len(match) == len(names)
    other = str(tmp_path / "c")
    syn.generate(other, num_train=2, num_val=1, num_test=1, num_frames=16, size=32, seed=2, workers=1)
    assert not filecmp.cmp(os.path.join(small_dataset, "videos/train/00000.mp4"),
                           os.path.join(other, "videos/train/00000.mp4"), shallow=False)


def test_interrupted_generation_leaves_nothing_and_is_redone(tmp_path, monkeypatch):
    cfg = small_cfg(str(tmp_path / "data"), **{"DATA.SYNTHETIC.ENABLE": True, "DATA.SYNTHETIC.NUM_TRAIN": 6,
                                                "DATA.SYNTHETIC.NUM_VAL": 2, "DATA.SYNTHETIC.NUM_TEST": 2,
                                                "DATA.SYNTHETIC.NUM_FRAMES": 8, "DATA.SYNTHETIC.SIZE": 32})
    calls = []
    real_write = syn.write_mp4

    def flaky_write(path, frames, **kw):
        calls.append(path)
        if len(calls) == 4:
            raise KeyboardInterrupt  # the user pressed Ctrl-C mid-way
        real_write(path, frames, **kw)

    monkeypatch.setattr(syn, "write_mp4", flaky_write)
    monkeypatch.setattr(syn.os, "cpu_count", lambda: 1)  # one process, so the patch applies
    with pytest.raises(KeyboardInterrupt):
        syn.ensure_synthetic_dataset(cfg)
    assert not os.path.exists(cfg.DATA.PATH_TO_DATA_DIR) and os.listdir(tmp_path) == []
    monkeypatch.setattr(syn, "write_mp4", real_write)
    assert syn.ensure_synthetic_dataset(cfg)["counts"] == {"train": 6, "val": 2, "test": 2}
    stamp = os.path.getmtime(os.path.join(cfg.DATA.PATH_TO_DATA_DIR, "train.csv"))
    assert syn.ensure_synthetic_dataset(cfg) is None  # present: nothing is rewritten
    assert os.path.getmtime(os.path.join(cfg.DATA.PATH_TO_DATA_DIR, "train.csv")) == stamp


def test_generates_into_an_existing_empty_folder_via_the_cli(tmp_path):
    out = tmp_path / "pre"
    out.mkdir()
    syn.main(["--out", str(out), "--num-train", "3", "--num-val", "1", "--num-test", "1",
              "--num-frames", "4", "--size", "16", "--workers", "1"])
    assert syn.is_complete(str(out)) and len(os.listdir(out / "videos" / "train")) == 3


def test_bad_sizes_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="SIZE must be even"):
        syn.generate(str(tmp_path / "x"), 1, 1, 1, 8, 33)


def test_moving_shape_is_lighter_than_its_background():
    """Fixed contrast polarity (module docstring): inside the shape is lighter than around it."""
    for n in range(30):
        app, label = syn.clip_spec(0, "train", n, 64)
        with_shape = syn.render_clip(app, label, 1, 64).astype(float).mean(-1)[0]
        background = syn._background(app, 64).mean(-1)
        inside = np.abs(with_shape - background) > 30
        assert inside.sum() > 50, n
        assert with_shape[inside].mean() > background[inside].mean() + 60, n
