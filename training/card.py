"""Write the model card (resources/models/sightline-demo.md) from measured figures."""

from __future__ import annotations

import hashlib
from pathlib import Path

from device_runtime.sources.synthetic_line import CLASS_NAMES
from training.dataset import HELD_OUT_SEEDS, INPUT_HEIGHT, INPUT_WIDTH


def write_card(path: Path, model: Path, metrics: dict, recipe: dict) -> None:
    """Render the card; every number in it comes from ``metrics`` (evaluate) or ``recipe`` (train)."""
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    rows = "\n".join(
        f"| {name} | {metrics['objects'][name]} | {metrics['ap50'][name]:.3f} |"
        for name in CLASS_NAMES
    )
    lat = metrics["latency_ms"]
    r = recipe
    text = f"""# Model card: sightline-demo

The detector of Sightline's demo site. It finds parts, defective parts and
workers with and without a hard hat on the synthetic production line
(`sim://production-line`), and nowhere else: it has only ever seen that scene.

| | |
| --- | --- |
| file | `sightline-demo.onnx` ({model.stat().st_size / 1e6:.2f} MB, sha256 `{digest[:16]}…`) |
| labels | `sightline-demo.labels` (one class per line, line n = class id n) |
| input | `images`, float32 `[1, 3, {INPUT_HEIGHT}, {INPUT_WIDTH}]`, RGB scaled to 0..1, letterboxed (centred, grey 114 bars); 4:3 frames fill it exactly |
| output | `output0`, float32 `[1, {4 + len(CLASS_NAMES)}, {(INPUT_HEIGHT // 8) * (INPUT_WIDTH // 8)}]`: `cx, cy, w, h` in input pixels, then one sigmoid score per class (YOLOv8 layout; the runtime's `yolov8` decoder applies NMS) |
| architecture | anchor-free, YOLOv8-style: conv/BN/SiLU backbone to stride 16, one-step feature pyramid, decoupled box and class heads on the stride-8 grid ({(INPUT_HEIGHT // 8) * (INPUT_WIDTH // 8)} cells); written in plain PyTorch in `training/model.py` |
| licence | Apache-2.0, like the code. The weights are the project's own: trained from random initialisation on frames the project renders; no pretrained weights, no outside data |

## Classes

| id | class | meaning |
| --- | --- | --- |
| 0 | part | a part on the belt (bracket with two holes, or flange with a bore and four bolt holes) |
| 1 | defective_part | a part with a missing hole, a crack, or the wrong colour |
| 2 | person | a worker wearing a hard hat (seen from above) |
| 3 | person_without_helmet | a worker without a hard hat |

A rule about *everyone* in a zone selects classes 2 and 3.

## Training data and recipe

Frames are rendered on the fly by `ProductionLineRenderer` (device_runtime/sources/synthetic_scene.py)
from training seeds {r.get("train_seeds", "0-95")} (640x480, and {round(100 * r.get("wide_share", 0.1))} % 1280x720 from the first
{r.get("wide_seeds", 8)} seeds), at random frame indices, so no picture repeats. Each seed changes the
camera height (object scale), belt speed (motion blur), belt and safety-zone
position, lighting level, gradient and colour temperature, sensor noise, focus
blur, part mix, defect rate and how many workers wear hard hats.

- {r.get("steps", "?")} steps of batch {r.get("batch", "?")}, AdamW (lr {r.get("lr", "?")}, weight decay 5e-4, cosine schedule with warm-up), EMA of the weights, base width {r.get("width", "?")}
- loss: GIoU on boxes of the assigned cells, BCE on class scores with IoU-quality targets; assignment by centre sampling (training/loss.py)
- seed {r.get("seed", "?")}, `torch.set_num_threads({r.get("threads", 2)})`; the run took {r.get("train_minutes", "?")} minutes on this 2-core machine (shared with other work while it ran)

Reproduce (needs the `train` extra, PyTorch 2.13.0 CPU):

```
pip install -e '.[train]'
python -m training.train --out resources/models/      # trains, exports, evaluates, writes this card
python -m training.evaluate                            # re-measures the shipped model
```

## Measured accuracy

Held-out seeds {HELD_OUT_SEEDS[0]}-{HELD_OUT_SEEDS[-1]} (never drawn in training), {metrics["frames"]} frames
(640x480 from every seed, some 1280x720), detections through the runtime's
own inference path. AP at IoU 0.5, all-point interpolation.

| class | objects | AP@0.5 |
| --- | --- | --- |
{rows}
| **mAP@0.5** | | **{metrics["map50"]:.3f}** |

Recall at confidence 0.25 (one-to-one matches, IoU >= 0.5, right class): {metrics["recall_at_0.25"]:.3f}.

## Inference cost on this CPU

Median per 640x480 frame through `ModelSession.infer` (letterbox + onnxruntime CPU
provider + yolov8 decode + NMS), on {lat.get("cpu", "this CPU")}:
{lat.get("1_thread", "?")} ms with 1 thread, {lat.get("2_threads", "?")} ms with 2 threads
(1-minute load average {lat.get("load_average", "?")} while measuring: the machine was shared, so
two threads competed with other work; on an idle machine the 2-thread figure is the lower one).

## Limits

Trained on one synthetic scene only: it is a demo of the product's pipeline,
not a safety device. It will not find people or parts in real camera images.
Workers whose head is out of frame carry no label (hat or no hat cannot be
told), and objects less than 30 % in frame are not labelled either.
"""
    path.write_text(text)
