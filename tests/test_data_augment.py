"""The finetuning augmentation recipe: consistent over a clip's frames, repeated augmentation, presets."""
import numpy as np
import pytest
import torch

from data_helpers import small_cfg
from hiera_video.data import build_loader
from hiera_video.data import transforms as T
from hiera_video.data.samplers import seeded
from hiera_video.synthetic.motion import generate


def _texture(t=8, h=48, w=64):
    """uint8 [T, 3, H, W]: the same asymmetric, textured frame T times."""
    rng = np.random.default_rng(0)
    img = np.zeros((h, w, 3))
    img[..., 0] = np.linspace(0, 255, w)[None]
    img[..., 1] = rng.uniform(0, 255, (h // 8, w // 8)).repeat(8, 0).repeat(8, 1)
    img[: h // 3, : w // 4, 2] = 255
    frame = torch.from_numpy(img.astype(np.uint8)).permute(2, 0, 1)
    return frame[None].repeat(t, 1, 1, 1)


def _recipe_cfg(**kw):
    return small_cfg("", **{"AUG.ENABLE": True, "AUG.RE_PROB": 1.0, "AUG.AA_TYPE": "rand-m7-n4-mstd0.5-inc1",
                            "DATA.TRAIN_JITTER_SCALES_RELATIVE": [0.3, 1.0], **kw})


def test_recipe_keeps_every_frame_of_a_clip_consistent():
    """Identical input frames stay identical: one crop, one flip, one RandAugment draw, one erasing box."""
    transform = T.build_train_transform(_recipe_cfg())
    clip = _texture()
    outputs = []
    for seed in range(12):
        with seeded(seed):
            out = transform(T.as_video(clip)).as_subclass(torch.Tensor)
        assert out.shape == (8, 3, 32, 32) and out.dtype == torch.float32
        assert torch.equal(out, out[:1].expand_as(out)), f"frames differ for seed {seed}"
        outputs.append(out[0])
    # ... and the augmentation really varies from draw to draw
    assert min((a - b).abs().mean() for i, a in enumerate(outputs) for b in outputs[i + 1:]) > 0.01


def test_randaugment_same_ops_on_every_frame_but_not_identity():
    ra = T.ClipRandAugment("rand-m9-n3-mstd0.5", 64, [0.485, 0.456, 0.406])
    clip = _texture(t=4)
    changed = 0
    for seed in range(6):
        with seeded(seed):
            out = ra(T.as_video(clip)).as_subclass(torch.Tensor)
        assert out.dtype == torch.uint8 and torch.equal(out, out[:1].expand_as(out))
        changed += int(not torch.equal(out, clip))
    assert changed >= 4


def test_random_erasing_is_a_cube():
    er = T.ClipRandomErasing(1.0, "pixel", 1)
    video = torch.randn(6, 3, 32, 32)
    with seeded(3):
        out = er(video).as_subclass(torch.Tensor)
    diff = (out != video).any(dim=1)  # [T, H, W]
    assert diff[0].sum() > 0 and all(torch.equal(diff[0], d) for d in diff)
    box = diff[0]
    assert all(torch.equal(out[0][:, box], out[t][:, box]) for t in range(6))  # same fill too


def test_bad_randaugment_string_is_named():
    with pytest.raises(ValueError, match="AUG.AA_TYPE 'autoaug-nonsense'"):
        T.build_train_transform(_recipe_cfg(**{"AUG.AA_TYPE": "autoaug-nonsense"}))


def test_presets_build_the_expected_ops():
    ops = lambda cfg: [type(o).__name__ for o in T.build_train_transform(cfg).transforms]
    assert ops(small_cfg("")) == ["RandomResize", "RandomCrop", "RandomHorizontalFlip", "ToDtype", "Normalize"]
    mae = small_cfg("", **{"DATA.TRAIN_CROP_MODE": "random_resized", "DATA.TRAIN_JITTER_SCALES_RELATIVE": [0.5, 1.0]})
    assert ops(mae) == ["RandomResizedCrop", "RandomHorizontalFlip", "ToDtype", "Normalize"]
    assert T.build_train_transform(mae).transforms[0].scale == (0.5, 1.0)
    assert ops(_recipe_cfg()) == ["RandomResizedCrop", "RandomHorizontalFlip", "ClipRandAugment", "ToDtype",
                                  "Normalize", "ClipRandomErasing"]
    with pytest.raises(ValueError, match="TRAIN_CROP_MODE"):
        T.build_train_transform(small_cfg("", **{"DATA.TRAIN_CROP_MODE": "zoom"}))


def test_repeated_augmentation_batches(tmp_path):
    out = str(tmp_path / "syn")
    generate(out, num_train=8, num_val=1, num_test=1, num_frames=16, size=32, seed=0, workers=1)
    cfg = small_cfg(out, **{"AUG.ENABLE": True, "AUG.NUM_SAMPLE": 2, "DATA.TRAIN_CROP_NUM_TEMPORAL": 1,
                            "TRAIN.BATCH_SIZE": 4})
    loader = build_loader(cfg, "train")
    batches = list(loader)
    assert len(batches) == 4  # 8 videos, 2 per batch
    b = batches[0]
    assert b["video"].shape == (4, 3, 4, 32, 32) and b["label"].shape == (4,)
    assert b["index"][0] == b["index"][1] and b["index"][2] == b["index"][3] and b["index"][0] != b["index"][2]
    assert not torch.allclose(b["video"][0], b["video"][1])  # two different augmentations of one clip
    assert b["decode_failures"].tolist() == [0, 0, 0, 0]
    cfg.TRAIN.BATCH_SIZE = 3
    with pytest.raises(ValueError, match="must divide by the clips per video"):
        build_loader(cfg, "train")
