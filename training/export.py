"""Export a trained ``TinyDetector`` to the ONNX layout the runtime's yolov8 decoder reads."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from training.dataset import INPUT_HEIGHT, INPUT_WIDTH
from training.model import TinyDetector

OPSET = 17


def export_onnx(model: TinyDetector, path: Path) -> Path:
    """Write ``path``: input ``images`` float32 ``[1, 3, 240, 320]`` RGB/255, output ``[1, 4 + C, N]``."""
    model = model.eval()
    model.export = True
    dummy = torch.zeros(1, 3, INPUT_HEIGHT, INPUT_WIDTH)
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter is the one that needs no extra packages (onnxscript);
            # it warns that it is legacy, which is fine for a fixed-shape CNN.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (dummy,),
                str(path),
                dynamo=False,
                opset_version=OPSET,
                input_names=["images"],
                output_names=["output0"],
                do_constant_folding=True,
            )
    finally:
        model.export = False
    _add_metadata(path)
    return path


def _add_metadata(path: Path) -> None:
    """Store class names and input size the way ultralytics exports do, so any runtime can read them."""
    import onnx

    from device_runtime.sources.synthetic_line import CLASS_NAMES

    proto = onnx.load(str(path))
    entries = {
        "names": repr(dict(enumerate(CLASS_NAMES))),
        "imgsz": repr([INPUT_HEIGHT, INPUT_WIDTH]),
        "stride": "8",
        "task": "detect",
        "author": "Sightline project",
        "license": "Apache-2.0",
        "description": "Sightline demo detector for sim://production-line (see sightline-demo.md)",
    }
    del proto.metadata_props[:]
    for key, value in entries.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name = "sightline-training"
    onnx.save(proto, str(path))


def load_checkpoint(path: Path) -> TinyDetector:
    """A ``TinyDetector`` with the weights ``training.train`` saved at ``path``."""
    from device_runtime.sources.synthetic_line import CLASS_NAMES

    state = torch.load(path, map_location="cpu")
    model = TinyDetector(len(CLASS_NAMES), width=state["width"])
    model.load_state_dict(state["model"])
    return model


def main(argv=None) -> None:
    """``python -m training.export --checkpoint build/sightline-demo.pt --out model.onnx``."""
    import argparse

    p = argparse.ArgumentParser(description="Export a training checkpoint to ONNX.")
    p.add_argument("--checkpoint", type=Path, default=Path("build/sightline-demo.pt"))
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    print(export_onnx(load_checkpoint(args.checkpoint), args.out))


if __name__ == "__main__":
    main()
