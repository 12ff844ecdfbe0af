"""A small CNN for one image column: conv blocks, then global average pooling to a vector."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SmallCNN"]


class SmallCNN(nn.Module):
    """``conv_channels`` blocks of conv3x3 + BatchNorm + ReLU + 2x2 max-pool, then global average pool.

    The pool uses ``ceil_mode`` so a block never shrinks a 1x1 map to nothing; any ``size``
    works with any number of blocks. With no blocks it is a per-channel global average.
    """

    def __init__(self, in_channels: int, conv_channels: list[int]) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = in_channels
        for out_channels in conv_channels:
            blocks += [
                nn.Conv2d(channels, out_channels, kernel_size=3, padding=1, bias=False),  # bias is BatchNorm's job
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=2, ceil_mode=True),
            ]
            channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.out_dim = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x)  # (B, C_last, H / 2^k, W / 2^k)
        return h.mean(dim=(2, 3))  # (B, C_last)
