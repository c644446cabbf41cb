"""The builder's "Parameters" page, in plain words, and the wording it shares with the other pages.

Each setting has an everyday label with the technical name in brackets, and
its tooltip is the manifest field's own description
(``device_runtime.protocol.apps.params``), so the explanation is written once.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QLabel, QSpinBox, QWidget

from console_app.core.services.app_builder import AppBuilder
from device_runtime.protocol.apps.params import DetectorParams, TrackingParams

#: A counting line's direction choices: (what the engineer reads, the manifest's value).
DIRECTIONS = (("both ways (both)", "both"), ("in the arrow's direction only (in)", "in"),
              ("against the arrow only (out)", "out"))


def explain(model: type, name: str) -> str:
    """The manifest field's own description: the one explanation of a setting, in docs and tooltips."""
    return str(model.model_fields[name].description or "")


def parameters_page(builder: AppBuilder, changed: Callable[[], object]) -> tuple[QWidget, QWidget]:
    """The page, and its NMS overlap box; every edit goes to ``builder``, then ``changed()`` is called."""
    page = QWidget()
    form = QFormLayout(page)

    def spin(value: float, low: float, high: float, step: float, apply: Callable[[float], None],
             whole: bool = False) -> QWidget:
        box = QSpinBox() if whole else QDoubleSpinBox()
        box.setRange(int(low) if whole else low, int(high) if whole else high)
        if not whole:
            box.setDecimals(3)
            box.setSingleStep(step)
        box.setValue(int(value) if whole else value)
        box.valueChanged.connect(lambda v: (apply(v), changed()))
        return box

    def row(text: str, box: QWidget, model: type, name: str) -> None:
        label = QLabel(text)
        label.setBuddy(box)
        label.setWordWrap(True)
        box.setToolTip(explain(model, name))
        label.setToolTip(box.toolTip())
        form.addRow(label, box)

    b, t = builder, builder.tracking
    form.addRow(QLabel("These work well as they are; hover over a setting for what it does."))
    iou = spin(b.iou, 0, 1, 0.05, lambda v: b.set_parameters(iou=v))
    row("Merge boxes that overlap more than (NMS &overlap, IoU):", iou, DetectorParams, "iou")
    row("Movement past a line before it counts (&dead band):",
        spin(b.hysteresis, 0, 0.25, 0.01, lambda v: b.set_parameters(hysteresis=v)), DetectorParams, "hysteresis")
    row("Same object from frame to frame above this overlap (track match overlap, IoU):",
        spin(t["iou_threshold"], 0, 1, 0.05, lambda v: b.set_parameters(iou_threshold=v)),
        TrackingParams, "iou_threshold")
    row("Frames an object must be seen before it counts (frames to confirm):",
        spin(t["min_hits"], 1, 30, 1, lambda v: b.set_parameters(min_hits=v), whole=True), TrackingParams, "min_hits")
    row("Frames an object may be missed (max missed frames):",
        spin(t["max_missed_frames"], 0, 1000, 1, lambda v: b.set_parameters(max_missed_frames=v), whole=True),
        TrackingParams, "max_missed_frames")
    row("Seconds an object may be missed (max age):",
        spin(t["max_age_s"], 0, 600, 0.5, lambda v: b.set_parameters(max_age_s=v)), TrackingParams, "max_age_s")
    return page, iou
