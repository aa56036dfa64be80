"""AVA ROI head on Hiera: pooling values by hand, shapes, gradients, bad boxes."""
import math

import pytest
import torch

from hiera_video import create_model
from hiera_video.models.roi_head import AVAROIHead, HieraAVADetector


def _head(dim=1, num_classes=1):
    head = AVAROIHead(dim, num_classes=num_classes, spatial_scale=1 / 32, dropout=0.0)
    with torch.no_grad():  # logit = sum of the pooled channels
        head.projection.weight.fill_(1.0)
        head.projection.bias.zero_()
    return head.eval()


def _bright_corner_map():
    """[1, 2, 4, 4, 1] map of a 128x128 input (stride 32): cell (row 3, col 3) is 10 in
    frame 0 and 0 in frame 1, everything else 0 -> temporal mean 5 at that cell."""
    x = torch.zeros(1, 2, 4, 4, 1)
    x[0, 0, 3, 3, 0] = 10.0
    return x


def test_temporal_mean_then_spatial_max_by_hand():
    head, x = _head(), _bright_corner_map()
    boxes = torch.tensor([[0, 96, 96, 128, 128],   # exactly the bright cell -> mean 5
                          [0, 64, 64, 128, 128],   # 2x2 cells holding it -> max still 5
                          [0, 0, 0, 32, 32],       # far corner -> 0
                          [0, 0, 0, 64, 64]], dtype=torch.float32)  # 2x2 cells away from it -> 0
    out = head(x, boxes)
    assert out.shape == (4, 1)
    torch.testing.assert_close(out[:, 0], torch.tensor([5.0, 5.0, 0.0, 0.0]))
    # Constant frames 1 and 3 with C = 4 channels: every ROI pools mean 2 per channel -> logit 8.
    x = torch.cat([torch.full((1, 1, 4, 4, 4), 1.0), torch.full((1, 1, 4, 4, 4), 3.0)], dim=1)
    torch.testing.assert_close(_head(dim=4)(x, boxes), torch.full((4, 1), 8.0))


def test_boxes_outside_the_map_are_clamped():
    head, x = _head(), _bright_corner_map()
    boxes = torch.tensor([[0, 96, 96, 400, 300],    # partly outside -> clamped to the bright cell: 5
                          [0, -50, -80, 20, 20],    # partly outside at the origin -> 0
                          [0, 300, 300, 500, 500],   # wholly outside -> zero-size box -> 0
                          [0, 112, 0, 112, 128]], dtype=torch.float32)    # zero width -> 0
    out = head(x, boxes)
    torch.testing.assert_close(out[:, 0], torch.tensor([5.0, 0.0, 0.0, 0.0]))


def test_bad_boxes_and_maps_raise_clear_errors():
    head, x = _head(), _bright_corner_map()
    with pytest.raises(ValueError, match=r"batch indices must be integers in \[0, 0\]"):
        head(x, torch.tensor([[1.0, 0, 0, 32, 32]]))
    with pytest.raises(ValueError, match=r"boxes \[N, 5\]"):
        head(x, torch.tensor([[0.0, 0, 32, 32]]))
    with pytest.raises(ValueError, match=r"feature map \[B, T', H', W', 1\]"):
        head(x.permute(0, 4, 1, 2, 3).repeat(1, 3, 1, 1, 1), torch.tensor([[0.0, 0, 0, 32, 32]]))
    with pytest.raises(ValueError, match="loss must be"):
        AVAROIHead(8, loss="focal")
    assert head(x, torch.zeros(0, 5)).shape == (0, 1)


def test_losses_by_hand():
    logits = torch.zeros(2, 4)
    multi_hot = torch.tensor([[1.0, 1, 0, 0], [0, 0, 1, 0]])
    bce, ce = AVAROIHead(8, num_classes=4), AVAROIHead(8, num_classes=4, loss="cross_entropy")
    # sigmoid(0) = 1/2 for every entry -> BCE = log 2 whatever the targets
    assert bce.loss(logits, multi_hot).item() == pytest.approx(math.log(2))
    # softmax(0) = 1/4; soft target (1/2, 1/2) or one-hot: -sum t log(1/4) = log 4
    assert ce.loss(logits, multi_hot).item() == pytest.approx(math.log(4))
    logits = torch.tensor([[2.0, 0.0, 0.0, 0.0]])
    # CE with index 0: -log(e^2 / (e^2 + 3))
    assert ce.loss(logits, torch.tensor([0])).item() == pytest.approx(-math.log(math.e**2 / (math.e**2 + 3)))
    torch.testing.assert_close(bce.loss(logits, torch.tensor([0])), bce.loss(logits, torch.tensor([[1.0, 0, 0, 0]])))
    torch.testing.assert_close(bce.predict(logits), torch.sigmoid(logits))
    torch.testing.assert_close(ce.predict(logits).sum(), torch.tensor(1.0))
    with pytest.raises(ValueError, match="at least one positive"):
        ce.loss(logits, torch.zeros(1, 4))


def _tiny_detector(**head_kw):
    torch.manual_seed(0)
    backbone = create_model("hiera_tiny_16x224", embed_dim=16, num_heads=1, stages=(1, 1, 1, 1),
                            input_size=(4, 64, 64), num_classes=10)
    return HieraAVADetector(backbone, AVAROIHead(128, num_classes=5, **head_kw))


def test_detector_shape_and_gradients_reach_head_and_backbone():
    det = _tiny_detector()
    det.train()
    video = torch.randn(2, 3, 4, 64, 64)
    boxes = torch.tensor([[0, 0, 0, 40, 60], [1, 10, 5, 64, 64], [1, 0, 0, 20, 20]], dtype=torch.float32)
    assert det.features(video).shape == (2, 2, 2, 2, 128)  # [B, T', H', W', C], stride 32
    logits = det(video, boxes)
    assert logits.shape == (3, 5)
    det.head.loss(logits, torch.tensor([[1.0, 0, 1, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 1]])).backward()
    missing = [n for n, p in det.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing}"
    assert det.head.projection.weight.grad.abs().sum() > 0
    assert det.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
    assert det.backbone.norm.weight.grad.abs().sum() > 0


def test_detector_checks_stride_and_backbone():
    with pytest.raises(ValueError, match="stride 32"):
        _tiny_detector(spatial_scale=1 / 16)
    with pytest.raises(TypeError, match="hiera_video Hiera"):
        HieraAVADetector(torch.nn.Linear(2, 2), AVAROIHead(2))
