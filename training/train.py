"""Train the demo detector on the synthetic production line and export it.

    python -m training.train --out resources/models/

Fixed seeds and two CPU threads: the same command gives the same weights on
the same machine. The defaults (1000 steps) take about 15 minutes on 2 idle
cores. The run writes ``sightline-demo.onnx`` and ``sightline-demo.labels``
to ``--out``, a PyTorch checkpoint and the recipe under ``build/`` (not
shipped), then evaluates the export (``training.evaluate``) and writes the
model card ``sightline-demo.md`` beside the model.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch

from device_runtime.sources.synthetic_line import CLASS_NAMES
from training.dataset import INPUT_HEIGHT, INPUT_WIDTH, FrameSampler
from training.export import export_onnx
from training.loss import detection_loss
from training.model import STRIDE, TinyDetector, grid_points

MODEL_NAME = "sightline-demo"
TRAIN_SEEDS = range(0, 96)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("resources/models"),
        help="where the .onnx, labels and card go",
    )
    p.add_argument("--checkpoint", type=Path, default=Path("build/sightline-demo.pt"))
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--width", type=int, default=32, help="base channel width of the network")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--wide-share",
        type=float,
        default=0.25,
        help="share of 1280x720 frames (16:9, letterboxed)",
    )
    p.add_argument(
        "--wide-seeds", type=int, default=16, help="how many training seeds also render 1280x720"
    )
    p.add_argument(
        "--skip-eval", action="store_true", help="export only; no evaluation, no model card"
    )
    return p.parse_args(argv)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[B, H, W, 3]`` RGB to float ``[B, 3, H, W]`` in 0..1, as the runtime feeds the model."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)


class Ema:
    """Exponential moving average of the weights: steadier than the last step's weights."""

    def __init__(self, model: torch.nn.Module, decay: float = 0.998):
        self.model = copy.deepcopy(model).eval()
        self.decay = decay
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = self.decay * (1 - math.exp(-step / 200))  # ramp up so early averages are not stale
        for e, m in zip(self.model.state_dict().values(), model.state_dict().values(), strict=True):
            if e.dtype.is_floating_point:
                e.mul_(d).add_(m.detach(), alpha=1 - d)
            else:
                e.copy_(m)


def train(args: argparse.Namespace) -> TinyDetector:
    """Run the training loop and return the EMA model."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    sampler = FrameSampler(
        TRAIN_SEEDS, np.random.default_rng(args.seed), args.wide_share, args.wide_seeds
    )
    model = TinyDetector(len(CLASS_NAMES), width=args.width)
    ema = Ema(model)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.99),
    )
    warmup = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            min(1.0, (s + 1) / warmup)
            * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * s / args.steps)))
        ),
    )
    points = grid_points(INPUT_HEIGHT // STRIDE, INPUT_WIDTH // STRIDE)
    start = time.monotonic()
    for step in range(1, args.steps + 1):
        images, targets = sampler.batch(args.batch)
        model.train()
        box_raw, cls_logits = model(to_tensor(images))
        loss, box_loss, cls_loss = detection_loss(
            box_raw, cls_logits, points, [torch.from_numpy(t) for t in targets]
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        sched.step()
        ema.update(model, step)
        if step % 20 == 0 or step == 1:
            elapsed = time.monotonic() - start
            print(
                f"step {step}/{args.steps} loss {loss.item():.3f} box {box_loss.item():.3f} "
                f"cls {cls_loss.item():.3f} lr {sched.get_last_lr()[0]:.2e} {elapsed / 60:.1f} min",
                flush=True,
            )
        if step % 200 == 0 or step == args.steps:
            args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
            torch.save(
                {"model": ema.model.state_dict(), "step": step, "width": args.width},
                args.checkpoint,
            )
    print(f"trained {args.steps} steps in {(time.monotonic() - start) / 60:.1f} min", flush=True)
    return ema.model


def main(argv=None) -> None:
    args = parse_args(argv)
    started = time.monotonic()
    model = train(args)
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = export_onnx(model, args.out / f"{MODEL_NAME}.onnx")
    (args.out / f"{MODEL_NAME}.labels").write_text("\n".join(CLASS_NAMES) + "\n")
    recipe = {
        "steps": args.steps,
        "batch": args.batch,
        "lr": args.lr,
        "width": args.width,
        "seed": args.seed,
        "threads": args.threads,
        "wide_share": args.wide_share,
        "wide_seeds": args.wide_seeds,
        "train_seeds": f"{TRAIN_SEEDS.start}-{TRAIN_SEEDS.stop - 1}",
        "train_minutes": round((time.monotonic() - started) / 60, 1),
    }
    (args.checkpoint.parent / f"{MODEL_NAME}.recipe.json").write_text(json.dumps(recipe, indent=2))
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.1f} MB)", flush=True)
    if not args.skip_eval:
        from training.evaluate import main as evaluate_main

        evaluate_main(
            [
                "--model",
                str(onnx_path),
                "--card",
                str(args.out / f"{MODEL_NAME}.md"),
                "--recipe",
                str(args.checkpoint.parent / f"{MODEL_NAME}.recipe.json"),
            ]
        )


if __name__ == "__main__":
    main()
