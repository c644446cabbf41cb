"""Unfinished apps from the builder, kept as drafts that reopen where the engineer left off.

Closing the builder with work in it (Cancel, Esc, the window's close button)
asks first; *Keep draft* writes the builder's state here, and the next
*New app…* (or *Edit* of the same app) reopens it. A draft is plain JSON in
``<data dir>/app-drafts/<key>.json`` (``new`` for a new app, the app id when
editing one); it holds what the builder holds: camera URLs without
credentials (the builder strips them), names, classes, zones and lines,
settings. Snapshots are not kept; the builder takes fresh ones.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from console_app.core.services.app_builder import AppBuilder
from console_app.core.services.app_builder_types import (
    CameraOption,
    LineDraft,
    ModelOption,
    Step,
    ZoneDraft,
    clamp_point,
)

log = logging.getLogger(__name__)

DRAFT_FORMAT = 1
NEW_APP = "new"
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def builder_to_draft(builder: AppBuilder) -> dict[str, Any]:
    """Everything the engineer has entered in ``builder``, as JSON-ready data."""
    return {
        "format": DRAFT_FORMAT,
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "step": int(builder.step),
        "app_id": builder.app_id, "name": builder.name, "description": builder.description,
        "base_version": builder.base_version,
        "cameras": [{"key": c.key, "name": c.name, "url": c.url, "id": cid}
                    for c, cid in zip(builder.cameras, builder.camera_ids, strict=True)],
        "model_id": builder.model.model_id if builder.model else None,
        "classes": list(builder.classes), "confidence": builder.confidence, "iou": builder.iou,
        "hysteresis": builder.hysteresis, "tracking": dict(builder.tracking),
        "zones": [{"name": z.name, "points": [list(p) for p in z.points], "camera": z.camera,
                   "classes": list(z.classes), "dwell_limit_s": z.dwell_limit_s} for z in builder.zones],
        "lines": [{"name": ln.name, "a": list(ln.a), "b": list(ln.b), "camera": ln.camera,
                   "classes": list(ln.classes), "count": ln.count} for ln in builder.lines],
    }


def work_of(draft: dict[str, Any]) -> dict[str, Any]:
    """The part of a draft that is the engineer's work (not when or on which step it was saved)."""
    return {k: v for k, v in draft.items() if k not in ("saved_at", "step", "format")}


def builder_from_draft(draft: dict[str, Any], cameras: Iterable[CameraOption] = (),
                       models: Iterable[ModelOption] = ()) -> AppBuilder:
    """A builder holding ``draft``, with today's camera and model options (the draft's come back too)."""
    builder = AppBuilder(cameras, models)
    builder.app_id = str(draft.get("app_id", ""))
    builder.name = str(draft.get("name", ""))
    builder.description = str(draft.get("description", ""))
    builder.base_version = draft.get("base_version")
    known = {c.key: c for c in builder.camera_options}
    chosen, ids = [], []
    for cam in draft.get("cameras", []):
        option = known.get(cam["key"]) or CameraOption(cam["key"], cam["name"], cam["url"])
        if option not in builder.camera_options:
            builder.camera_options.append(option)
        chosen.append(option)
        ids.append(str(cam["id"]))
    builder.cameras, builder.camera_ids = chosen, ids
    model_id = draft.get("model_id")
    builder.model = next((m for m in builder.model_options if m.model_id == model_id), None)
    builder.classes = [str(c) for c in draft.get("classes", [])]
    builder.confidence = float(draft.get("confidence", builder.confidence))
    builder.iou = float(draft.get("iou", builder.iou))
    builder.hysteresis = float(draft.get("hysteresis", builder.hysteresis))
    builder.tracking.update(draft.get("tracking", {}))
    builder.zones = [ZoneDraft(z["name"], [clamp_point(p) for p in z["points"]], z["camera"],
                               list(z.get("classes", [])), z.get("dwell_limit_s")) for z in draft.get("zones", [])]
    builder.lines = [LineDraft(ln["name"], clamp_point(ln["a"]), clamp_point(ln["b"]), ln["camera"],
                               list(ln.get("classes", [])), ln.get("count", "both")) for ln in draft.get("lines", [])]
    # Reopen on the step it was left on, unless a step before it is no longer complete (a model gone).
    target = Step(min(int(draft.get("step", 0)), int(Step.REVIEW)))
    while builder.step < target and not builder.problems():
        builder.next()
    return builder


class DraftStore:
    """Drafts as JSON files in ``<data_dir>/app-drafts`` (blocking: call it from a background task)."""

    def __init__(self, data_dir: Path):
        self.folder = Path(data_dir) / "app-drafts"

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"draft key {key!r} is not an app id or {NEW_APP!r}")
        return self.folder / f"{key}.json"

    def save(self, key: str, draft: dict[str, Any]) -> Path:
        """Write ``draft`` under ``key`` (replacing the last one) and return its path."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(draft, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
        log.info("kept the app builder's draft %s", key)
        return path

    def load(self, key: str) -> dict[str, Any] | None:
        """The draft under ``key``; None when there is none or it cannot be read (then it is set aside)."""
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != DRAFT_FORMAT:
                raise ValueError("not a draft of this console")
            return data
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable app draft %s: %s", path, exc)
            path.replace(path.with_suffix(".unreadable"))
            return None

    def discard(self, key: str) -> None:
        """Forget the draft under ``key`` (nothing happens when there is none)."""
        self._path(key).unlink(missing_ok=True)
