"""Evaluate the exported demo detector on held-out seeds: mAP@0.5 per class and CPU cost.

    python -m training.evaluate [--model resources/models/sightline-demo.onnx] [--card resources/models/sightline-demo.md]

Frames come from ``HELD_OUT_SEEDS`` (never used in training), at 640x480 and
a few at 1280x720. AP is the area under the precision/recall curve with all
recall points interpolated (the VOC 2010+ / COCO-style definition) at IoU
0.5; mAP is the mean over classes. Detections come from the runtime's own
inference path, so what is measured here is what the product runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from device_runtime.inference.session import ModelSession, SessionSettings
from device_runtime.sources.synthetic_line import CLASS_NAMES, ProductionLineRenderer
from device_runtime.types import Detection
from training.dataset import HELD_OUT_SEEDS

IOU_THRESHOLD = 0.5


def open_model(model: Path, threads: int = 2) -> ModelSession:
    """The model as the runtime loads it, on the CPU provider (what this machine has)."""
    return ModelSession(
        model, settings=SessionSettings(providers=("cpu",), intra_op_threads=threads)
    )


def detect(session: ModelSession, image: np.ndarray, confidence: float) -> list[Detection]:
    """Detections in frame pixels, through the runtime's letterbox, yolov8 decoder and NMS."""
    return session.infer([image], confidence=confidence)[0].detections


def box_iou(a: Detection, b: Detection) -> float:
    """Intersection over union of two boxes."""
    iw = min(a.x2, b.x2) - max(a.x1, b.x1)
    ih = min(a.y2, b.y2) - max(a.y1, b.y1)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter)


def match_frame(preds: list[Detection], truth: list[Detection], class_id: int):
    """Greedy matching, best score first: ``(scores, is_true_positive)`` of the class's predictions."""
    gts = [g for g in truth if g.class_id == class_id]
    used = [False] * len(gts)
    out = []
    for p in sorted((p for p in preds if p.class_id == class_id), key=lambda d: -d.score):
        best, best_iou = -1, IOU_THRESHOLD
        for j, g in enumerate(gts):
            iou = box_iou(p, g)
            if not used[j] and iou >= best_iou:
                best, best_iou = j, iou
        if best >= 0:
            used[best] = True
        out.append((p.score, best >= 0))
    return out


def average_precision(hits: list[tuple[float, bool]], num_truth: int) -> float:
    """All-point interpolated AP of a class from its (score, true positive) list."""
    if num_truth == 0:
        return float("nan")
    hits = sorted(hits, key=lambda h: -h[0])
    tp = np.cumsum([h[1] for h in hits], dtype=np.float64)
    fp = np.cumsum([not h[1] for h in hits], dtype=np.float64)
    recall = np.concatenate([[0.0], tp / num_truth, [1.0]]) if hits else np.array([0.0, 1.0])
    precision = (
        np.concatenate([[1.0], tp / np.maximum(tp + fp, 1e-9), [0.0]])
        if hits
        else np.array([1.0, 0.0])
    )
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum((recall[1:] - recall[:-1]) * precision[1:]))


def evaluation_frames(frames_per_seed: int = 40, wide_seeds: int = 2):
    """The fixed held-out set: (image, truth) pairs, 640x480 from every seed, 1280x720 from a few."""
    for i, seed in enumerate(HELD_OUT_SEEDS):
        sizes = [(640, 480)] + ([(1280, 720)] if i < wide_seeds else [])
        for w, h in sizes:
            renderer = ProductionLineRenderer(w, h, seed=seed)
            n = frames_per_seed if w == 640 else frames_per_seed // 4
            for k in range(n):
                yield renderer.render(37 + k * 113)


def evaluate(model: Path, frames_per_seed: int = 40) -> dict:
    """mAP@0.5 overall and per class, recall at the runtime's default confidence, and latency."""
    session = open_model(model)
    hits = {c: [] for c in range(len(CLASS_NAMES))}
    truth_count = dict.fromkeys(range(len(CLASS_NAMES)), 0)
    found, frames = 0, 0
    for image, truth in evaluation_frames(frames_per_seed):
        preds = detect(session, image, confidence=0.01)
        frames += 1
        for c in hits:
            hits[c] += match_frame(preds, truth, c)
            truth_count[c] += sum(g.class_id == c for g in truth)
        confident = [p for p in preds if p.score >= 0.25]
        found += sum(tp for c in hits for _, tp in match_frame(confident, truth, c))
    per_class = {CLASS_NAMES[c]: average_precision(hits[c], truth_count[c]) for c in hits}
    return {
        "frames": frames,
        "objects": {CLASS_NAMES[c]: n for c, n in truth_count.items()},
        "map50": float(np.nanmean(list(per_class.values()))),
        "ap50": per_class,
        "recall_at_0.25": found / max(1, sum(truth_count.values())),
        "latency_ms": measure_latency(model),
    }


def measure_latency(model: Path, runs: int = 50) -> dict:
    """Median milliseconds per 640x480 frame (letterbox + inference + decode) with 1 and 2 threads."""
    image, _ = ProductionLineRenderer(640, 480, seed=HELD_OUT_SEEDS[0]).render(0)
    out = {}
    for threads in (1, 2):
        session = open_model(model, threads)
        for _ in range(5):
            detect(session, image, 0.25)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            detect(session, image, 0.25)
            times.append((time.perf_counter() - t) * 1000)
        out[f"{threads}_thread{'s' if threads > 1 else ''}"] = round(float(np.median(times)), 2)
    # Other work on the machine inflates these figures; say how busy it was.
    out["load_average"] = round(os.getloadavg()[0], 2)
    out["cpu"] = cpu_name()
    return out


def cpu_name() -> str:
    """The processor's model name (Linux), for the card's "on this CPU"."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical cores)"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", type=Path, default=Path("resources/models/sightline-demo.onnx"))
    p.add_argument("--frames-per-seed", type=int, default=40)
    p.add_argument("--card", type=Path, help="write the model card with these figures to this path")
    p.add_argument("--recipe", type=Path, default=Path("build/sightline-demo.recipe.json"))
    p.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = p.parse_args(argv)
    metrics = evaluate(args.model, args.frames_per_seed)
    print(json.dumps(metrics, indent=2))
    if args.json:
        args.json.write_text(json.dumps(metrics, indent=2))
    if args.card:
        from training.card import write_card

        recipe = json.loads(args.recipe.read_text()) if args.recipe.exists() else {}
        write_card(args.card, args.model, metrics, recipe)
    return metrics


if __name__ == "__main__":
    main()
