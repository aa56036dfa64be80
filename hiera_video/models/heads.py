"""Prediction heads that sit on the Hiera encoder."""
import torch
import torch.nn as nn


class ClassificationHead(nn.Module):
    """Dropout then linear: pooled feature ``[B, C]`` -> logits ``[B, num_classes]``.

    No softmax inside: the loss and the multi-view test apply it where they need it.
    """

    def __init__(self, dim: int, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.projection = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(self.dropout(x))
