"""The application builder: a Qt-free state machine behind the "New app" wizard.

Steps, in order: cameras → model → classes and confidence → zones and
counting lines → parameters → review. Every decision lives here, so the Qt
wizard (``console_app.ui.wizards.app_builder_wizard``) only shows state and
forwards edits, and the whole flow is tested without a screen.

* :meth:`AppBuilder.can_advance` says whether the current step is complete
  and, when not, why (each :class:`Problem` names the field).
* :meth:`AppBuilder.back` never discards anything: everything typed stays in
  the builder until it is edited again.
* Zones and lines belong to one camera each (``params.geometry`` in the
  manifest): they are drawn on that camera's snapshot, names are unique per
  camera, and :meth:`AppBuilder.copy_geometry` copies one camera's shapes to
  another as a start.
* :meth:`AppBuilder.result` gives the manifest (``sightline.app/v2``, kind
  ``detector``) plus the library model id; the app library versions it and
  builds the package. Camera URLs in it carry no credentials: the library
  adds them from the credential store when it builds a package.
* :meth:`AppBuilder.from_version` starts from an existing app version (edit →
  new version): the id is kept, the rest can change.

The console may not import ``device_runtime.apps``, so the manifest rules
that an engineer can break here (names, ≥3 zone points, distinct line ends,
classes from the model's labels) are checked again here and in
:mod:`~console_app.core.services.app_builder_types`; the tests
validate every produced manifest with the device's own parser.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from console_app.core.persistence.records import strip_credentials
from console_app.core.services.app_builder_types import (
    APP_ID_PATTERN,
    CAMERA_ID_PATTERN,
    DEFAULT_TRACKING,
    MIN_ZONE_AREA,
    MODEL_NAME_PATTERN,
    NAME_PATTERN,
    NAME_RULE,
    SCHEMA_V2,
    URL_PATTERN,
    BuilderError,
    BuilderResult,
    CameraOption,
    LineDraft,
    ModelOption,
    Problem,
    Step,
    ZoneDraft,
    clamp_point,
    polygon_area,
    polygon_self_intersects,
    slug,
)
from console_app.core.services.output_drafts import OutputDrafts
from device_runtime.protocol.apps.manifest import migrate_manifest


class AppBuilder:
    """The builder's state and rules. Mutate through the methods; read the attributes."""

    def __init__(self, cameras: Iterable[CameraOption] = (), models: Iterable[ModelOption] = ()):
        self.camera_options = list(cameras)
        self.model_options = list(models)
        self.step = Step.CAMERAS
        self.app_id = ""
        self.name = ""
        self.description = ""
        self.base_version: str | None = None  # set when editing an existing version
        self.cameras: list[CameraOption] = []
        self.camera_ids: list[str] = []
        # The only model in the library is the obvious choice: preselected (still changeable).
        self.model: ModelOption | None = self.model_options[0] if len(self.model_options) == 1 else None
        self.classes: list[str] = []
        self.confidence = 0.5
        self.iou = 0.45
        self.hysteresis = 0.02
        self.tracking = dict(DEFAULT_TRACKING)
        self.zones: list[ZoneDraft] = []
        self.lines: list[LineDraft] = []
        self.outputs = OutputDrafts()

    # ------------------------------------------------------------ navigation

    def problems(self, step: Step | None = None) -> list[Problem]:
        """What keeps ``step`` (default: the current one) from being complete."""
        step = self.step if step is None else step
        return {
            Step.CAMERAS: self._camera_problems,
            Step.MODEL: self._model_problems,
            Step.CLASSES: self._class_problems,
            Step.ZONES: self._zone_problems,
            Step.PARAMETERS: self._parameter_problems,
            Step.OUTPUTS: self._output_problems,
            Step.REVIEW: self._review_problems,
        }[step]()

    def can_advance(self) -> tuple[bool, str]:
        """``(True, "")``, or ``(False, reason)`` naming the first field to fix."""
        if self.step == Step.REVIEW:
            return False, "this is the last step; save the app"
        problems = self.problems()
        return (not problems, str(problems[0]) if problems else "")

    def next(self) -> Step:
        """Go to the next step; :class:`BuilderError` when the current one is not complete."""
        if self.step == Step.REVIEW:
            raise BuilderError([Problem("step", "review is the last step")])
        problems = self.problems()
        if problems:
            raise BuilderError(problems)
        self.step = Step(self.step + 1)
        return self.step

    def back(self) -> Step:
        """Go to the previous step, keeping every edit."""
        if self.step > Step.CAMERAS:
            self.step = Step(self.step - 1)
        return self.step

    def all_problems(self) -> list[Problem]:
        """Problems of every step (what the review shows, and what blocks :meth:`result`)."""
        return [p for step in Step for p in self.problems(step)]

    # ------------------------------------------------------------ cameras

    def set_cameras(self, cameras: Iterable[CameraOption]) -> None:
        """Choose the app's cameras (in order); manifest camera ids follow their names."""
        chosen = list(cameras)
        old = {c.key: cid for c, cid in zip(self.cameras, self.camera_ids, strict=True)}
        ids: list[str] = []
        for camera in chosen:
            cid = old.get(camera.key) or slug(camera.name, CAMERA_ID_PATTERN, lower=False) or "camera"
            base, n = cid, 2
            while cid in ids:
                cid, n = f"{base[:58]}-{n}", n + 1
            ids.append(cid)
        self.cameras, self.camera_ids = chosen, ids

    def add_camera_url(self, url: str, name: str = "") -> CameraOption:
        """Add a camera by stream URL (for one not in the inventory); credentials are stripped."""
        url = url.strip()
        if not URL_PATTERN.match(url):
            raise BuilderError([Problem("cameras", f"expected a stream URL such as rtsp://host:554/stream1, "
                                                   f"got {strip_credentials(url)!r}")])
        clean = strip_credentials(url) or url
        option = CameraOption(clean, name.strip() or clean.split("/")[-1] or clean, clean)
        self.camera_options.append(option)
        self.set_cameras([*self.cameras, option])
        return option

    def camera_id_of(self, key: str) -> str:
        """The manifest camera id of the chosen camera ``key``."""
        return self.camera_ids[[c.key for c in self.cameras].index(key)]

    def _camera_problems(self) -> list[Problem]:
        if not self.cameras:
            return [Problem("cameras", "choose at least one camera")]
        problems = []
        for i, camera in enumerate(self.cameras):
            if not URL_PATTERN.match(camera.url):
                problems.append(Problem(f"cameras[{i}].url", f"camera {camera.name!r} has no stream URL"))
        return problems

    # ------------------------------------------------------------ model

    def choose_model(self, model: ModelOption | None) -> None:
        """Pick the model; classes chosen before stay (and are checked against its labels)."""
        self.model = model

    def _model_problems(self) -> list[Problem]:
        if self.model is None:
            return [Problem("model", "choose a model from the library")]
        if not MODEL_NAME_PATTERN.match(self.model.device_name):
            return [Problem("model.name", f"model name {self.model.device_name!r} is not valid")]
        return []

    # ------------------------------------------------------------ classes and confidence

    def set_classes(self, classes: Iterable[str]) -> None:
        """The classes the app reports (empty: all of the model's)."""
        self.classes = list(dict.fromkeys(c.strip() for c in classes if c.strip()))

    def set_confidence(self, confidence: float) -> None:
        self.confidence = float(confidence)

    def _label_problems(self, path: str, classes: Sequence[str]) -> list[Problem]:
        labels = self.model.labels if self.model else ()
        if not labels:
            return []
        return [Problem(f"{path}[{i}]", f"class {c!r} is not a label of the model "
                                       f"(labels: {', '.join(labels)})")
                for i, c in enumerate(classes) if c not in labels]

    def _class_problems(self) -> list[Problem]:
        problems = self._label_problems("params.classes", self.classes)
        if not 0 < self.confidence <= 1:
            problems.append(Problem("params.confidence",
                                    f"must be in (0, 1], got {self.confidence:g}"))
        return problems

    # ------------------------------------------------------------ zones and lines

    def _drawn_on(self, camera_key: str | None) -> str:
        """The camera id a new shape belongs to: ``camera_key``'s, or the only camera's."""
        if camera_key is not None:
            return self.camera_id_of(camera_key)
        if len(self.camera_ids) == 1:
            return self.camera_ids[0]
        raise BuilderError([Problem("params.geometry", "choose the camera the shape is drawn on")])

    def add_zone(self, name: str, points: Sequence[Sequence[float]], camera_key: str | None = None,
                 classes: Iterable[str] = (), dwell_limit_s: float | None = None) -> ZoneDraft:
        """Add a closed polygon on one camera; refused (naming the zone) with fewer than three points."""
        zone = ZoneDraft(name.strip(), [clamp_point(p) for p in points], self._drawn_on(camera_key),
                         list(classes), dwell_limit_s)
        problems = self._zone_draft_problems(len(self.zones), zone)
        if problems:
            raise BuilderError(problems)
        self.zones.append(zone)
        return zone

    def add_line(self, name: str, a: Sequence[float], b: Sequence[float], camera_key: str | None = None,
                 classes: Iterable[str] = (), count: str = "both") -> LineDraft:
        """Add a counting line a→b on one camera; refused when a and b are the same point."""
        line = LineDraft(name.strip(), clamp_point(a), clamp_point(b), self._drawn_on(camera_key),
                         list(classes), count)
        problems = self._line_draft_problems(len(self.lines), line)
        if problems:
            raise BuilderError(problems)
        self.lines.append(line)
        return line

    def update_zone(self, index: int, **changes: Any) -> ZoneDraft:
        """Change a zone's fields (name, points, classes, dwell_limit_s, camera); validated."""
        if "points" in changes:
            changes["points"] = [clamp_point(p) for p in changes["points"]]
        zone = replace(self.zones[index], **changes)
        problems = self._zone_draft_problems(index, zone)
        if problems:
            raise BuilderError(problems)
        self.zones[index] = zone
        return zone

    def update_line(self, index: int, **changes: Any) -> LineDraft:
        """Change a line's fields (name, a, b, classes, count, camera); validated."""
        for key in ("a", "b"):
            if key in changes:
                changes[key] = clamp_point(changes[key])
        line = replace(self.lines[index], **changes)
        problems = self._line_draft_problems(index, line)
        if problems:
            raise BuilderError(problems)
        self.lines[index] = line
        return line

    def remove_zone(self, index: int) -> None:
        del self.zones[index]

    def remove_line(self, index: int) -> None:
        del self.lines[index]

    def zones_on(self, camera_id: str) -> list[tuple[int, ZoneDraft]]:
        """``(index into zones, zone)`` of the zones drawn on ``camera_id``, in order."""
        return [(i, z) for i, z in enumerate(self.zones) if z.camera == camera_id]

    def lines_on(self, camera_id: str) -> list[tuple[int, LineDraft]]:
        """``(index into lines, line)`` of the lines drawn on ``camera_id``, in order."""
        return [(i, ln) for i, ln in enumerate(self.lines) if ln.camera == camera_id]

    def copy_geometry(self, from_key: str, to_key: str) -> int:
        """Copy every zone and line of one chosen camera onto another, as a start to adjust.

        Shapes whose name the target camera already uses are left out (its
        own drawing wins). Returns how many were copied.
        """
        source, target = self.camera_id_of(from_key), self.camera_id_of(to_key)
        if source == target:
            return 0
        taken = {z.name for _, z in self.zones_on(target)} | {ln.name for _, ln in self.lines_on(target)}
        copied = 0
        for _, zone in self.zones_on(source):
            if zone.name not in taken:
                self.zones.append(replace(zone, camera=target, points=list(zone.points), classes=list(zone.classes)))
                copied += 1
        for _, line in self.lines_on(source):
            if line.name not in taken:
                self.lines.append(replace(line, camera=target, classes=list(line.classes)))
                copied += 1
        return copied

    def next_free_name(self, prefix: str, camera_key: str | None = None) -> str:
        """``prefix-1``, ``prefix-2``, … whichever no zone or line (of ``camera_key``'s camera) uses yet."""
        camera = self.camera_id_of(camera_key) if camera_key is not None else None
        taken = ({z.name for z in self.zones if camera in (None, z.camera)}
                 | {ln.name for ln in self.lines if camera in (None, ln.camera)})
        n = 1
        while f"{prefix}-{n}" in taken:
            n += 1
        return f"{prefix}-{n}"

    def _path(self, kind: str, index: int, camera: str) -> str:
        """``params.geometry.<camera>.zones[<n>]``: the shape's place in the manifest."""
        items = self.zones if kind == "zone" else self.lines
        within = sum(1 for other in items[:index] if other.camera == camera)
        return f"params.geometry.{camera}.{kind}s[{within}]"

    def _name_problems(self, path: str, kind: str, index: int, name: str, camera: str) -> list[Problem]:
        if not NAME_PATTERN.match(name):
            return [Problem(f"{path}.name", f"{kind} name {name!r} is not valid: use {NAME_RULE}")]
        others = [(self._path("zone", i, camera), z.name) for i, z in self.zones_on(camera)
                  if not (kind == "zone" and i == index)]
        others += [(self._path("line", i, camera), ln.name) for i, ln in self.lines_on(camera)
                   if not (kind == "line" and i == index)]
        for where, other in others:
            if other == name:
                where = where.rsplit(".", 1)[-1]
                return [Problem(f"{path}.name", f"{kind} name {name!r} is already used by {where} on this "
                                                "camera; a camera's zone and line names must be unique")]
        return []

    def _scope_problems(self, path: str, label: str, camera: str, classes: Sequence[str]) -> list[Problem]:
        problems = []
        if camera not in self.camera_ids:
            problems.append(Problem(path, f"{label} is drawn on camera {camera!r}, which is not one of the app's "
                                          f"cameras ({', '.join(self.camera_ids) or 'none chosen'}); remove it"))
        return problems + self._label_problems(f"{path}.classes", classes)

    def _zone_draft_problems(self, index: int, zone: ZoneDraft) -> list[Problem]:
        path = self._path("zone", index, zone.camera)
        problems = self._name_problems(path, "zone", index, zone.name, zone.camera)
        label = f"zone {zone.name!r}"
        if len(zone.points) < 3:
            problems.append(Problem(f"{path}.points", f"{label} needs at least 3 points, got {len(zone.points)}"))
        elif polygon_self_intersects(zone.points):
            problems.append(Problem(f"{path}.points", f"{label} has edges that cross each other; "
                                                      "click the points in order around the outline"))
        elif polygon_area(zone.points) < MIN_ZONE_AREA:
            problems.append(Problem(f"{path}.points", f"{label} has no area: its points lie on one line"))
        if zone.dwell_limit_s is not None and not zone.dwell_limit_s > 0:
            problems.append(Problem(f"{path}.dwell_limit_s", f"{label}: dwell limit must be more than 0 s"))
        return problems + self._scope_problems(path, label, zone.camera, zone.classes)

    def _line_draft_problems(self, index: int, line: LineDraft) -> list[Problem]:
        path = self._path("line", index, line.camera)
        problems = self._name_problems(path, "line", index, line.name, line.camera)
        if line.a == line.b:
            problems.append(Problem(f"{path}.b", f"line {line.name!r} needs two distinct endpoints, "
                                                 f"got a = b = {list(line.a)}"))
        if line.count not in ("in", "out", "both"):
            problems.append(Problem(f"{path}.count", f"expected 'in', 'out' or 'both', got {line.count!r}"))
        return problems + self._scope_problems(path, f"line {line.name!r}", line.camera, line.classes)

    def _zone_problems(self) -> list[Problem]:
        problems = []
        for i, zone in enumerate(self.zones):
            problems += self._zone_draft_problems(i, zone)
        for i, line in enumerate(self.lines):
            problems += self._line_draft_problems(i, line)
        return problems

    # ------------------------------------------------------------ parameters

    def set_parameters(self, iou: float | None = None, hysteresis: float | None = None,
                       **tracking: float) -> None:
        """NMS overlap, dead band and tracking settings (checked by :meth:`can_advance`)."""
        if iou is not None:
            self.iou = float(iou)
        if hysteresis is not None:
            self.hysteresis = float(hysteresis)
        unknown = set(tracking) - set(DEFAULT_TRACKING)
        if unknown:
            raise BuilderError([Problem(f"params.tracking.{sorted(unknown)[0]}", "no such tracking setting")])
        self.tracking.update(tracking)

    def _parameter_problems(self) -> list[Problem]:
        checks = [
            ("params.iou", self.iou, 0, 1, False, "(0, 1]"),
            ("params.hysteresis", self.hysteresis, 0, 0.25, True, "[0, 0.25]"),
            ("params.tracking.iou_threshold", self.tracking["iou_threshold"], 0, 1, False, "(0, 1)"),
            ("params.tracking.min_hits", self.tracking["min_hits"], 1, 30, True, "1..30"),
            ("params.tracking.max_missed_frames", self.tracking["max_missed_frames"], 0, 1000, True, "0..1000"),
            ("params.tracking.max_age_s", self.tracking["max_age_s"], 0, 600, True, "[0, 600]"),
        ]
        problems = []
        for path, value, low, high, low_ok, shown in checks:
            inside = (low <= value if low_ok else low < value) and value <= high
            if path.endswith("iou_threshold"):
                inside = inside and value < 1
            if not inside:
                problems.append(Problem(path, f"must be in {shown}, got {value:g}"))
        return problems

    # ------------------------------------------------------------ review

    def set_identity(self, name: str, app_id: str | None = None, description: str | None = None) -> None:
        """The app's display name and id (id derived from the name unless given or editing)."""
        self.name = name.strip()
        if self.base_version is None:
            self.app_id = app_id.strip() if app_id is not None else slug(self.name)
        if description is not None:
            self.description = description

    def _output_problems(self) -> list[Problem]:
        return self.outputs.problems(
            zones=[z.name for z in self.zones], lines=[ln.name for ln in self.lines],
            classes=list(self.model.labels) if self.model else None, camera_ids=list(self.camera_ids),
        )

    def _review_problems(self) -> list[Problem]:
        problems = []
        if not self.name:
            problems.append(Problem("name", "give the app a name"))
        elif len(self.name) > 200:
            problems.append(Problem("name", "at most 200 characters"))
        if not APP_ID_PATTERN.match(self.app_id):
            problems.append(Problem("id", f"app id {self.app_id!r} is not valid: use 1-63 lowercase letters, "
                                          "digits, '_' or '-', starting with a letter or digit"))
        return problems

    # ------------------------------------------------------------ output

    def manifest(self) -> dict[str, Any]:
        """The manifest as it stands (valid only when :meth:`all_problems` is empty)."""
        model = self.model
        geometry: dict[str, dict[str, list]] = {}
        for z in self.zones:
            geometry.setdefault(z.camera, {"zones": [], "lines": []})["zones"].append(
                {"name": z.name, "points": [list(p) for p in z.points], "classes": list(z.classes),
                 "dwell_limit_s": None if z.dwell_limit_s is None else float(z.dwell_limit_s)})
        for ln in self.lines:
            geometry.setdefault(ln.camera, {"zones": [], "lines": []})["lines"].append(
                {"name": ln.name, "a": list(ln.a), "b": list(ln.b), "classes": list(ln.classes), "count": ln.count})
        params = {
            "confidence": self.confidence, "iou": self.iou, "classes": list(self.classes),
            "geometry": geometry,
            "hysteresis": self.hysteresis,
            "tracking": {"iou_threshold": float(self.tracking["iou_threshold"]),
                         "min_hits": int(self.tracking["min_hits"]),
                         "max_missed_frames": int(self.tracking["max_missed_frames"]),
                         "max_age_s": float(self.tracking["max_age_s"])},
        }
        model_spec: dict[str, Any] = {"name": model.device_name if model else "", "labels": list(model.labels) if model else []}
        if model and model.decoder:
            model_spec["decoder"] = model.decoder
        if model and model.sha256:
            model_spec["sha256"] = model.sha256
        manifest = {
            "schema": SCHEMA_V2, "id": self.app_id, "name": self.name, "version": self.base_version or "1.0.0",
            "kind": "detector", "description": self.description,
            "cameras": [{"id": cid, "url": c.url, "name": c.name} for c, cid in zip(self.cameras, self.camera_ids, strict=True)],
            "model": model_spec, "params": params,
        }
        if self.outputs.items:
            manifest["outputs"] = self.outputs.manifest_entries()
        return manifest

    def result(self) -> BuilderResult:
        """The finished app; :class:`BuilderError` listing every problem when it is not finished."""
        problems = self.all_problems()
        if problems:
            raise BuilderError(problems)
        assert self.model is not None
        return BuilderResult(self.manifest(), self.model.model_id)

    @classmethod
    def from_version(cls, manifest: Mapping[str, Any], model_id: str, cameras: Iterable[CameraOption] = (),
                     models: Iterable[ModelOption] = ()) -> AppBuilder:
        """A builder holding an existing version (edit → new version): same app id, everything editable.

        A schema-v1 manifest is migrated first (its zones and lines copied onto the cameras they applied to).
        """
        manifest = migrate_manifest(manifest)
        builder = cls(cameras, models)
        builder.app_id = str(manifest["id"])
        builder.name = str(manifest.get("name", ""))
        builder.description = str(manifest.get("description", ""))
        builder.base_version = str(manifest.get("version", "1.0.0"))
        known = {c.url: c for c in builder.camera_options}
        chosen, ids = [], []
        for cam in manifest.get("cameras", []):
            url = strip_credentials(cam["url"]) or cam["url"]
            option = known.get(url) or CameraOption(url, cam.get("name") or cam["id"], url)
            if option not in builder.camera_options:
                builder.camera_options.append(option)
            chosen.append(option)
            ids.append(cam["id"])
        builder.cameras, builder.camera_ids = chosen, ids
        spec = manifest.get("model", {})
        builder.model = next((m for m in builder.model_options if m.model_id == model_id), None) or ModelOption(
            model_id, spec.get("name", model_id), tuple(spec.get("labels", ())), spec.get("decoder"),
            spec.get("sha256", ""))
        params = manifest.get("params", {})
        builder.classes = list(params.get("classes", []))
        builder.confidence = float(params.get("confidence", 0.5))
        builder.iou = float(params.get("iou", 0.45))
        builder.hysteresis = float(params.get("hysteresis", 0.02))
        builder.tracking.update(params.get("tracking", {}))
        builder.zones, builder.lines = [], []
        for camera, drawn in (params.get("geometry") or {}).items():
            builder.zones += [ZoneDraft(z["name"], [clamp_point(p) for p in z["points"]], camera,
                                        list(z.get("classes", [])), z.get("dwell_limit_s"))
                              for z in drawn.get("zones", [])]
            builder.lines += [LineDraft(ln["name"], clamp_point(ln["a"]), clamp_point(ln["b"]), camera,
                                        list(ln.get("classes", [])), ln.get("count", "both"))
                              for ln in drawn.get("lines", [])]
        builder.outputs = OutputDrafts(manifest.get("outputs", []))
        return builder
