"""Every name the release has builds the release's architecture here, and has its checkpoints.

The reference is built only through its public factories (``hiera.<name>()``), so any default
that differs (heads, drop path, q_pool, norm eps, head dropout, decoder width/depth/heads)
shows. Models are built on the meta device: no memory, no weights, seconds for all sizes.
"""
import warnings

import pytest
import torch
import torch.nn as nn
from timm.layers import DropPath
from torch.utils._device import DeviceContext

from hiera_video import create_model, list_models
from hiera_video.models.zoo import PRETRAINED

hiera = pytest.importorskip("hiera", reason="reference implementation (hiera-transformer) not installed")
RELEASE_NAMES = sorted(n for n in dir(hiera) if hasattr(getattr(hiera, n), "checkpoints"))
# Architecture facts that leave no trace in the weights' shapes.
ATTRS = ("heads", "q_stride", "window_size", "use_mask_unit_attn", "q_pool", "mask_unit_size", "sep_pos_embed",
         "pred_stride")


class _Meta(DeviceContext):
    """``torch.device("meta")``, except the drop-path schedule the reference reads with ``.item()``."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is torch.linspace:
            kwargs = {**(kwargs or {}), "device": "cpu"}
        return super().__torch_function__(func, types, args, kwargs)


def build(factory, **kwargs) -> nn.Module:
    with warnings.catch_warnings(), _Meta("meta"):
        warnings.simplefilter("ignore")
        return factory(**kwargs)


def signature(model: nn.Module) -> dict:
    """Weight names and shapes, plus per module: norm eps, dropout and drop-path rates, attention
    heads, q-stride, window, mask-unit attention, and the model's q_pool / mask unit / strides."""
    sig = {"weights": {k: tuple(v.shape) for k, v in model.state_dict().items()}}
    for path, m in model.named_modules():
        facts = {}
        if isinstance(m, nn.LayerNorm):
            facts["eps"] = m.eps
        if isinstance(m, nn.Dropout) and m.p > 0:  # p=0 dropouts are no-ops either way
            facts["p"] = m.p
        if isinstance(m, DropPath):
            facts["drop_prob"] = round(m.drop_prob, 6)
        for attr in ATTRS:
            value = getattr(m, attr, None)
            if isinstance(value, (bool, int, list, tuple)):
                facts[attr] = tuple(value) if isinstance(value, (list, tuple)) else value
        if facts:
            sig[path or "<model>"] = facts
    return sig


def differences(a: dict, b: dict) -> list:
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k) and k != "weights"] + (
        [("weights", sorted(set(a["weights"].items()) ^ set(b["weights"].items()))[:6])]
        if a["weights"] != b["weights"] else [])


def test_release_names_are_ours():
    assert len(RELEASE_NAMES) == 20  # 6 image + 4 video sizes, classifier and MAE each
    assert set(RELEASE_NAMES) <= set(list_models())


@pytest.mark.parametrize("name", RELEASE_NAMES)
def test_same_architecture_as_release_factory(name):
    ref, ours = build(getattr(hiera, name)), build(create_model, name=name)
    assert differences(signature(ref), signature(ours)) == []


def test_signature_sees_defaults_the_weights_hide():
    """The check above has teeth: each of these changes no weight shape, yet shows."""
    ref = signature(build(hiera.mae_hiera_base_16x224))
    for change in (dict(decoder_num_heads=8), dict(drop_path_rate=0.1), dict(q_pool=3)):
        assert differences(ref, signature(build(create_model, name="mae_hiera_base_16x224", **change))), change
    ref = signature(build(hiera.hiera_base_224))
    assert differences(ref, signature(build(create_model, name="hiera_base_224", head_dropout=0.5)))


@pytest.mark.parametrize("name", RELEASE_NAMES)
def test_checkpoint_table_is_the_releases(name):
    factory = getattr(hiera, name)
    ours = PRETRAINED[name]
    assert {tag: c.url for tag, c in ours.items()} == factory.checkpoints
    assert next(iter(ours)) == factory.default
