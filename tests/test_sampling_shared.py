"""The demo (``predict_video``) and feature extraction sample a video as the test dataset does,
SSv2's segments included (the demo once took Kinetics clip starts whatever the dataset)."""
import json

import numpy as np
import pytest
import torch

from data_helpers import make_list, small_cfg
from hiera_video.data import build_dataset
from hiera_video.synthetic.mp4 import write_mp4
from hiera_video.inference import extract_features
from hiera_video.inference.predict import predict_video

NUM_FRAMES = 60  # 2 s at 30 fps: segment frames and uniform clip starts differ


class Recorder(torch.nn.Module):
    """A stand-in model that keeps every input it is given and scores 3 classes equally."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.inputs = []

    def forward(self, x):
        self.inputs.append(x.clone())
        return torch.zeros(x.shape[0], 3)

    def forward_features(self, x):
        self.inputs.append(x.clone())
        return torch.zeros(x.shape[0], 8)


@pytest.fixture(scope="module")
def ramp(tmp_path_factory):
    """One video whose frame k has grey level 4k (every frame tells its index), listed both as
    an SSv2 validation entry and as a Kinetics test line."""
    root = tmp_path_factory.mktemp("ramp")
    levels = (4 * np.arange(NUM_FRAMES)).astype(np.uint8)
    frames = np.ascontiguousarray(np.broadcast_to(levels[:, None, None, None], (NUM_FRAMES, 32, 48, 3)))
    write_mp4(str(root / "7.mp4"), frames, fps=30)
    names = ["Holding something", "Pushing something", "Dropping something"]
    (root / "something-something-v2-labels.json").write_text(json.dumps({n: str(i) for i, n in enumerate(names)}))
    entry = [{"id": "7", "label": "x", "template": "Holding [something]", "placeholders": ["x"]}]
    (root / "something-something-v2-validation.json").write_text(json.dumps(entry))
    make_list(str(root), "test", [(str(root / "7.mp4"), 0)])
    make_list(str(root), "val", [(str(root / "7.mp4"), 0)])
    return str(root)


def _cfg(root, dataset, **kw):
    return small_cfg(root, **{"TRAIN.DATASET": dataset, "TEST.DATASET": dataset, "MODEL.NUM_CLASSES": 3,
                              "DATA.PATH_PREFIX": root, "DATA.SSV2_VIDEO_EXT": "mp4", "DATA.NUM_FRAMES": 4,
                              "TEST.NUM_ENSEMBLE_VIEWS": 2, "TEST.NUM_SPATIAL_CROPS": 3, **kw})


@pytest.mark.parametrize("dataset", ["ssv2", "kinetics"])
def test_demo_takes_the_test_datasets_views(ramp, dataset):
    cfg = _cfg(ramp, dataset)
    expected = build_dataset(cfg, "test")[0]["video"]  # [6, C, T, S, S]
    model = Recorder()
    predict_video(model, f"{ramp}/7.mp4", cfg, cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS)
    assert len(model.inputs) == 1 and model.inputs[0].shape == expected.shape
    assert torch.equal(model.inputs[0], expected)


def test_extraction_of_an_ssv2_model_takes_its_segments(ramp):
    cfg = _cfg(ramp, "ssv2")
    expected = build_dataset(cfg, "val")[0]["video"]  # the centre view: one frame of each segment
    model = Recorder()
    result = extract_features(model, f"{ramp}/7.mp4", cfg)
    assert result["clip_times"].shape == (1, 2)  # the whole video is one window
    assert torch.equal(model.inputs[0], expected)
