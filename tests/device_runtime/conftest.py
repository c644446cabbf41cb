"""Shared fixtures for the device tests: the reference app manifest from the product brief."""

from __future__ import annotations

import copy

import pytest

LABELS = ["part", "defective_part", "person", "person_without_helmet"]

EXAMPLE_MANIFEST = {
    "schema": "sightline.app/v2",
    "id": "line3-safety",
    "name": "Line 3 defects and safety",
    "version": "1.0.0",
    "kind": "detector",
    "cameras": [
        {"id": "cam-1", "url": "rtsp://user:pw@10.0.0.5/stream1", "name": "Line 3 overhead"}
    ],
    "model": {
        "name": "sightline-demo",
        "file": "models/demo.onnx",
        "sha256": "0123456789abcdef" * 4,
        "decoder": "yolov8",
        "labels": LABELS,
        "input_size": [320, 320],
    },
    "params": {
        "confidence": 0.4,
        "iou": 0.45,
        "classes": ["person", "person_without_helmet"],
        "geometry": {
            "cam-1": {
                "zones": [
                    {
                        "name": "safety-zone",
                        "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6], [0.1, 0.6]],
                        "classes": ["person_without_helmet"],
                        "dwell_limit_s": 10,
                    }
                ],
                "lines": [
                    {
                        "name": "belt-count",
                        "a": [0.5, 0.0],
                        "b": [0.5, 1.0],
                        "classes": ["part", "defective_part"],
                        "count": "both",
                    }
                ],
            }
        },
    },
}

#: The same app as a console of schema v1 wrote it: app-wide zones and lines with camera filters.
EXAMPLE_MANIFEST_V1 = {
    **{k: v for k, v in EXAMPLE_MANIFEST.items() if k != "params"},
    "schema": "sightline.app/v1",
    "params": {
        "confidence": 0.4,
        "iou": 0.45,
        "classes": ["person", "person_without_helmet"],
        "zones": [
            {
                "name": "safety-zone",
                "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6], [0.1, 0.6]],
                "classes": ["person_without_helmet"],
                "dwell_limit_s": 10,
                "cameras": ["cam-1"],
            }
        ],
        "lines": [
            {
                "name": "belt-count",
                "a": [0.5, 0.0],
                "b": [0.5, 1.0],
                "classes": ["part", "defective_part"],
                "count": "both",
                "cameras": [],
            }
        ],
    },
}


@pytest.fixture
def manifest_data() -> dict:
    """A fresh deep copy of the reference manifest, free to mutate."""
    return copy.deepcopy(EXAMPLE_MANIFEST)


@pytest.fixture
def manifest_data_v1() -> dict:
    """A fresh deep copy of the reference manifest in schema v1, free to mutate."""
    return copy.deepcopy(EXAMPLE_MANIFEST_V1)


@pytest.fixture
def labels() -> list[str]:
    """The reference model's class names, by class id."""
    return list(LABELS)
