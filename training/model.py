"""A small anchor-free, YOLOv8-style detector in plain PyTorch.

Backbone to stride 16, a one-step feature pyramid back to stride 8, and one
decoupled head (box branch, class branch) on the stride-8 grid. Every grid
cell predicts its distances to the four box sides (left, top, right, bottom,
in strides) and one logit per class. ``export=True`` turns the raw outputs
into the YOLOv8 layout the runtime's decoder reads: ``[1, 4 + C, N]`` with
``cx, cy, w, h`` in input pixels followed by per-class sigmoid scores.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

STRIDE = 8


class ConvBlock(nn.Sequential):
    """Conv, batch norm, SiLU: the unit everything here is built from."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.SiLU(inplace=True),
        )


class Residual(nn.Module):
    """A 3x3 conv block with a skip connection (keeps gradients flowing in a deep-ish stack)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = ConvBlock(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


class TinyDetector(nn.Module):
    """The demo detector. ``forward`` returns ``(box_raw, cls_logits)`` while training."""

    def __init__(self, num_classes: int, width: int = 32):
        super().__init__()
        c1, c2, c3, c4 = width // 2, width, width * 2, width * 3
        self.num_classes = num_classes
        self.stem = nn.Sequential(
            ConvBlock(3, c1, stride=2), ConvBlock(c1, c2, stride=2), Residual(c2)
        )
        self.p3 = nn.Sequential(ConvBlock(c2, c3, stride=2), Residual(c3), Residual(c3))
        self.p4 = nn.Sequential(ConvBlock(c3, c4, stride=2), Residual(c4), Residual(c4))
        self.fuse = nn.Sequential(ConvBlock(c3 + c4, c3, k=1), Residual(c3))
        self.box_head = nn.Sequential(ConvBlock(c3, c3), nn.Conv2d(c3, 4, 1))
        self.cls_head = nn.Sequential(ConvBlock(c3, c3), nn.Conv2d(c3, num_classes, 1))
        # Start with rare positives (prior 1 %) so the class loss does not swamp the box loss early.
        nn.init.constant_(self.cls_head[-1].bias, -4.6)
        self.export = False

    def forward(self, images: torch.Tensor):
        p3 = self.p3(self.stem(images))
        p4 = self.p4(p3)
        up = F.interpolate(p4, size=p3.shape[-2:], mode="nearest")
        feat = self.fuse(torch.cat([p3, up], dim=1))
        box_raw = self.box_head(feat).flatten(2)  # [B, 4, N]
        cls_logits = self.cls_head(feat).flatten(2)  # [B, C, N]
        if not self.export:
            return box_raw, cls_logits
        h, w = feat.shape[-2:]
        boxes = decode_boxes(box_raw, grid_points(h, w, images.device))
        xy1, xy2 = boxes[:, :2], boxes[:, 2:]
        return torch.cat([(xy1 + xy2) / 2, xy2 - xy1, cls_logits.sigmoid()], dim=1)


def grid_points(h: int, w: int, device=None) -> torch.Tensor:
    """Cell centres of an ``h × w`` stride-8 grid in input pixels, shape ``[2, h*w]`` (x, y)."""
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij"
    )
    return torch.stack([xs.flatten(), ys.flatten()]).float().add(0.5).mul(STRIDE)


def decode_boxes(box_raw: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Distances (softplus, in strides) to ``x1, y1, x2, y2`` in input pixels, shape ``[B, 4, N]``."""
    dist = F.softplus(box_raw) * STRIDE
    return torch.cat([points - dist[:, :2], points + dist[:, 2:]], dim=1)
