"""Assignment of grid cells to objects, and the detector's loss.

Assigner (centre sampling): a cell is a positive for an object when its
centre lies inside the object's box and within 2.5 strides of the box centre;
the cell nearest the centre is always positive, so tiny objects get one. A
cell claimed by two objects goes to the smaller one.

Loss: GIoU on the positives' boxes, and BCE on every cell's class scores
whose target for a positive is its IoU with the object, rescaled so each
object's best cell aims at 1 (the task-alignment idea of YOLOv8, in its
plainest form): scores then rank boxes by how well they fit, which is what
mAP rewards.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from training.model import STRIDE, decode_boxes

CENTRE_RADIUS = 2.5


def assign(points: torch.Tensor, gt_boxes: torch.Tensor) -> torch.Tensor:
    """Index of the object each cell is assigned to (``-1`` for background), shape ``[N]``.

    ``points`` is ``[2, N]`` cell centres, ``gt_boxes`` ``[M, 4]`` as ``x1, y1, x2, y2``.
    """
    n = points.shape[1]
    if gt_boxes.numel() == 0:
        return torch.full((n,), -1, dtype=torch.long)
    px, py = points[0][:, None], points[1][:, None]  # [N, 1]
    x1, y1, x2, y2 = gt_boxes.T  # [M]
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    inside = (px > x1) & (px < x2) & (py > y1) & (py < y2)
    near = ((px - cx).abs() < CENTRE_RADIUS * STRIDE) & ((py - cy).abs() < CENTRE_RADIUS * STRIDE)
    candidate = inside & near  # [N, M]
    nearest = ((px - cx) ** 2 + (py - cy) ** 2).argmin(dim=0)  # [M]
    candidate[nearest, torch.arange(len(gt_boxes))] = True
    area = ((x2 - x1) * (y2 - y1))[None, :].expand(n, -1)
    area = torch.where(candidate, area, torch.full_like(area, float("inf")))
    best_area, best = area.min(dim=1)
    return torch.where(torch.isfinite(best_area), best, torch.full_like(best, -1))


def giou(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """IoU and generalised IoU of matching rows of two ``[K, 4]`` box tensors."""
    ix1, iy1 = torch.max(a[:, 0], b[:, 0]), torch.max(a[:, 1], b[:, 1])
    ix2, iy2 = torch.min(a[:, 2], b[:, 2]), torch.min(a[:, 3], b[:, 3])
    inter = (ix2 - ix1).clamp(min=0) * (iy2 - iy1).clamp(min=0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter + 1e-7
    iou = inter / union
    hull = (torch.max(a[:, 2], b[:, 2]) - torch.min(a[:, 0], b[:, 0])) * (
        torch.max(a[:, 3], b[:, 3]) - torch.min(a[:, 1], b[:, 1])
    )
    return iou, iou - (hull - union) / (hull + 1e-7)


def detection_loss(box_raw, cls_logits, points, targets, box_weight: float = 2.5):
    """Mean loss over a batch and its parts (for the log): ``(total, box, cls)``.

    ``targets`` is one ``[M_i, 5]`` tensor (``class, x1, y1, x2, y2`` in input
    pixels) per image.
    """
    boxes = decode_boxes(box_raw, points)  # [B, 4, N]
    cls_target = torch.zeros_like(cls_logits)
    box_losses, num_pos = [], 0
    for i, tgt in enumerate(targets):
        owner = assign(points, tgt[:, 1:])
        pos = owner >= 0
        if not pos.any():
            continue
        gt = tgt[owner[pos]]
        iou, g = giou(boxes[i, :, pos].T, gt[:, 1:])
        box_losses.append((1.0 - g).sum())
        quality = iou.detach().clamp(min=0)
        best = torch.zeros(len(tgt)).scatter_reduce(
            0, owner[pos], quality, "amax", include_self=True
        )
        quality = quality / best[owner[pos]].clamp(min=1e-6)
        cls_target[i, gt[:, 0].long(), pos.nonzero().squeeze(1)] = quality
        num_pos += int(pos.sum())
    num_pos = max(num_pos, 1)
    cls_loss = F.binary_cross_entropy_with_logits(cls_logits, cls_target, reduction="sum") / num_pos
    box_loss = torch.stack(box_losses).sum() / num_pos if box_losses else cls_loss * 0
    return cls_loss + box_weight * box_loss, box_loss.detach(), cls_loss.detach()
