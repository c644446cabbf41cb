"""The synthetic production line seen from above: the drawing and its ground truth.

``ProductionLineRenderer`` draws a conveyor belt carrying metal parts (some
defective: a missing hole, a crack, the wrong colour) and workers walking
across a painted safety zone (some with a hard hat, some without), and
returns the exact ground truth of every frame. It is a plain class, no
threads: ``render(frame_index)`` is random-access and depends only on
``(seed, width, height, fps, frame_index)``, so tests, training and
evaluation can ask for any frame in any order. Everything is drawn with
OpenCV primitives over a background, lighting map and noise bank painted
once per renderer, which keeps a 640x480 frame at a couple of milliseconds.

What varies, and how: per seed, the camera height (object scale), belt
position and speed (so motion blur), safety-zone placement, floor tone,
lighting level, gradient and colour temperature, sensor noise, focus blur,
part mix, defect rate and hard-hat rate; per object, part orientation, size,
lane and defect, worker path, pace, pauses, clothing, hat or hair colour.

Ground-truth rule: boxes are clipped to the frame; an object whose clipped
box keeps less than 30 % of its full box area is dropped (``clip_box``), and
so is a worker whose head is out of frame (hat or no hat cannot be told
then).

The live camera built on this is ``synthetic_line.SyntheticLineSource``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from device_runtime.types import Detection

CLASS_NAMES: tuple[str, ...] = ("part", "defective_part", "person", "person_without_helmet")
"""Class ids are positions in this tuple. ``person`` is a worker wearing a hard hat."""

PART, DEFECTIVE_PART, PERSON, PERSON_WITHOUT_HELMET = range(4)
MIN_VISIBLE_FRACTION = 0.30

_SHIFT = 4  # OpenCV drawing with 4 fractional bits: sub-pixel motion stays smooth
_ONE = 1 << _SHIFT
_PART_BLOCK = 240  # frames per independently seeded block of part arrivals
_WORKER_BLOCK = 300
_NOISE_BANK = 6

_METAL = ((190, 188, 182), (175, 176, 172), (205, 200, 192), (160, 164, 166))
_WRONG_COLOURS = (
    (60, 90, 200),
    (150, 90, 40),
    (40, 150, 200),
    (70, 140, 70),
)  # red, blue, brass, green
_HELMETS = ((0, 215, 245), (235, 235, 235), (0, 130, 250), (200, 120, 30), (30, 40, 210))
_HAIR = ((25, 25, 30), (30, 50, 80), (50, 80, 120), (120, 120, 125), (70, 110, 160))
_SKIN = ((150, 175, 220), (110, 140, 190), (70, 95, 140), (170, 195, 235))
_CLOTHES = (
    (0, 110, 245),
    (40, 220, 200),
    (90, 50, 30),
    (60, 60, 60),
    (50, 90, 40),
    (40, 40, 150),
    (140, 130, 120),
)


@dataclass(frozen=True)
class _Part:
    spawn: float  # frame at which its centre is one part-length left of the frame
    lane: float  # 0..1 across the belt
    size: float  # half-length in pixels
    angle: float
    kind: int  # 0 = bracket with two holes, 1 = flange with a bore and four bolt holes
    colour: tuple[int, int, int]
    defect: str  # "", "hole", "crack", "colour"
    hole: int  # which hole is missing
    crack: tuple[float, float, float, float]


@dataclass(frozen=True)
class _Worker:
    spawn: float
    path: tuple[tuple[float, float], ...]  # start, stop, end
    pause: float  # frames standing at the middle waypoint
    speed: float  # pixels per frame
    scale: float
    helmet: bool
    head_colour: tuple[int, int, int]
    skin: tuple[int, int, int]
    clothes: tuple[int, int, int]
    phase: float


class _Cache(OrderedDict):
    """A tiny LRU of generated blocks so sequential rendering reuses them."""

    def get_or(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make(key)
        if len(self) > 16:
            self.popitem(last=False)
        return value


class ProductionLineRenderer:
    """Renders the synthetic production line; see the module docstring.

    ``render(frame_index)`` returns ``(image, ground_truth)``: a BGR uint8
    ``height × width × 3`` array and one ``Detection`` (score 1.0, label
    filled) per visible object.
    """

    def __init__(self, width: int = 640, height: int = 480, seed: int = 7, fps: float = 30.0):
        if width < 64 or height < 48:
            raise ValueError(f"frame size {width}x{height} is too small; need at least 64x48")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.width, self.height, self.seed, self.fps = (
            int(width),
            int(height),
            int(seed),
            float(fps),
        )
        rng = np.random.default_rng([self.seed, 0x5EED])
        # Camera height: one scale for everything, so 720p frames see a wider floor at 1.5x detail.
        self.scale = self.height / 480.0 * float(rng.uniform(0.8, 1.25))
        s, w, h = self.scale, self.width, self.height
        self.belt_y0 = h * float(rng.uniform(0.08, 0.16))
        self.belt_y1 = self.belt_y0 + max(96.0 * s, h * float(rng.uniform(0.22, 0.28)))
        self.belt_speed = float(rng.uniform(60.0, 260.0)) * s / self.fps  # px per frame
        self.part_size = 26.0 * s
        self.flip = bool(rng.random() < 0.5)  # belt runs right to left
        self.flange_share = float(rng.uniform(0.2, 0.8))
        self.defect_share = float(rng.uniform(0.25, 0.45))
        self.helmet_share = float(rng.uniform(0.4, 0.7))
        self.workers_per_block = float(rng.uniform(1.2, 2.6))
        zx0, zx1 = w * rng.uniform(0.08, 0.3), w * rng.uniform(0.7, 0.92)
        zy0 = self.belt_y1 + 40 * s * rng.uniform(1.0, 2.0)
        self.zone = (float(zx0), float(zy0), float(zx1), float(min(h - 12 * s, zy0 + h * 0.45)))
        self.blur = float(rng.uniform(0.0, 1.2)) if rng.random() < 0.35 else 0.0
        self.flicker = float(rng.uniform(0.0, 0.08))
        self._background = self._paint_background(rng)
        self._gain = self._paint_lighting(rng)
        sigma = float(rng.uniform(2.0, 9.0))
        self._noise = [
            np.clip(rng.normal(0, sigma, (h, w, 3)), -40, 40).astype(np.int16)
            for _ in range(_NOISE_BANK)
        ]
        self._part_blocks = _Cache()
        self._worker_blocks = _Cache()
        self._part_travel = (w + 4 * self.part_size) / self.belt_speed
        # Frames the longest walk can take (two legs corner to corner at the slowest pace, the
        # longest pause): workers spawned further back than this are surely gone.
        longest_path = 2 * math.hypot(w + 60 * s, h + 60 * s)
        self._worker_life = longest_path / (60.0 * s / self.fps) + 5 * self.fps

    # ----- static scene -------------------------------------------------------------------

    def _paint_background(self, rng: np.random.Generator) -> np.ndarray:
        h, w, s = self.height, self.width, self.scale
        tone = rng.uniform(105, 150)
        tint = rng.uniform(-8, 8, 3)
        coarse = rng.normal(0, 9, (h // 24 + 2, w // 24 + 2, 1)).astype(np.float32)
        floor = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)[..., None]
        floor = floor + rng.normal(0, 3, (h, w, 1)).astype(np.float32) + tone + tint
        img = np.clip(floor, 0, 255).astype(np.uint8)
        for _ in range(rng.integers(2, 7)):  # oil stains and patches
            c = (int(rng.uniform(0, w)), int(rng.uniform(self.belt_y1, h)))
            ax = (int(rng.uniform(10, 50) * s), int(rng.uniform(6, 30) * s))
            shade = tuple(int(v) for v in np.clip(tone + tint - rng.uniform(10, 30), 0, 255))
            cv2.ellipse(img, c, ax, float(rng.uniform(0, 180)), 0, 360, shade, -1, cv2.LINE_AA)
        # Painted safety zone: yellow/black hatched border, "KEEP CLEAR" inside.
        x0, y0, x1, y1 = (int(v) for v in self.zone)
        band = max(6, int(12 * s))
        hatch = np.zeros_like(img)
        hatch[:] = (0, 200, 235)
        for d in range(-h, w + h, int(2 * band)):
            cv2.line(hatch, (d, 0), (d + h, h), (20, 20, 20), band // 2 + 2)
        ring = np.zeros((h, w), np.uint8)
        cv2.rectangle(ring, (x0, y0), (x1, y1), 255, -1)
        cv2.rectangle(ring, (x0 + band, y0 + band), (x1 - band, y1 - band), 0, -1)
        img[ring > 0] = (0.85 * hatch[ring > 0] + 0.15 * img[ring > 0]).astype(np.uint8)
        cv2.putText(
            img,
            "KEEP CLEAR",
            (x0 + 2 * band, y1 - 2 * band),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6 * s,
            (0, 180, 220),
            max(1, int(2 * s)),
            cv2.LINE_AA,
        )
        cv2.line(
            img,
            (0, int(y1 + 2 * band)),
            (w, int(y1 + 2 * band)),
            (210, 210, 210),
            max(2, int(3 * s)),
        )
        # Clutter that is not an object of interest: a pallet, a cabinet, bollards.
        px, py = int(rng.uniform(0, w * 0.2)), int(rng.uniform(y0, h - 60 * s))
        cv2.rectangle(img, (px, py), (px + int(60 * s), py + int(48 * s)), (60, 100, 140), -1)
        for k in range(5):
            yy = py + int(k * 11 * s)
            cv2.line(img, (px, yy), (px + int(60 * s), yy), (40, 70, 100), max(1, int(2 * s)))
        cx = int(w - rng.uniform(40, 90) * s)
        cv2.rectangle(img, (cx + int(5 * s), int(h - 70 * s)), (w, h), (60, 60, 60), -1)
        cv2.rectangle(img, (cx, int(h - 75 * s)), (w, h), (140, 150, 150), -1)
        for bx in (x0 - int(14 * s), x1 + int(14 * s)):
            cv2.circle(img, (bx, y0 - int(14 * s)), int(7 * s), (0, 160, 200), -1, cv2.LINE_AA)
            cv2.circle(
                img,
                (bx, y0 - int(14 * s)),
                int(7 * s),
                (20, 20, 20),
                max(1, int(2 * s)),
                cv2.LINE_AA,
            )
        # The conveyor: rails, then the belt surface (cleats are drawn per frame since they move).
        b0, b1 = int(self.belt_y0), int(self.belt_y1)
        rail = int(8 * s)
        cv2.rectangle(img, (0, b0 - rail), (w, b1 + rail), (150, 152, 158), -1)
        cv2.rectangle(img, (0, b1 + rail - 2), (w, b1 + rail + int(4 * s)), (70, 70, 72), -1)
        belt = np.clip(rng.normal(rng.uniform(42, 62), 4, (b1 - b0, w, 1)), 0, 255).astype(np.uint8)
        img[b0:b1] = belt
        return img

    def _paint_lighting(self, rng: np.random.Generator) -> np.ndarray:
        """A per-seed gain map (uint8, 128 = 1.0): brightness, colour temperature, a light gradient."""
        h, w = self.height, self.width
        level = rng.uniform(0.65, 1.2)
        warmth = rng.uniform(-0.08, 0.08)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        lx, ly = rng.uniform(-0.3, 1.3) * w, rng.uniform(-0.3, 1.3) * h
        dist = np.sqrt((xx - lx) ** 2 + (yy - ly) ** 2) / math.hypot(w, h)
        gain = level * (1.0 - rng.uniform(0.1, 0.5) * dist)
        channels = np.stack([gain * (1 - warmth), gain, gain * (1 + warmth)], axis=-1)
        return np.clip(channels * 128, 0, 255).astype(np.uint8)

    # ----- schedules: random access by block ----------------------------------------------

    def _parts_in(self, block: int) -> list[_Part]:
        rng = np.random.default_rng([self.seed, 1, block & 0xFFFFFFFF, block >> 32 & 0xFFFF])
        gap = 2.6 * self.part_size / self.belt_speed  # frames: parts never overlap
        t, end, parts = block * _PART_BLOCK + gap / 2, (block + 1) * _PART_BLOCK - gap / 2, []
        while True:
            t += gap * float(rng.uniform(0.0, 2.5)) if parts else float(rng.uniform(0, gap))
            if t > end:
                return parts
            defect = (
                ""
                if rng.random() > self.defect_share
                else ("hole", "crack", "colour")[rng.integers(3)]
            )
            colour = _METAL[rng.integers(len(_METAL))]
            if defect == "colour":
                colour = _WRONG_COLOURS[rng.integers(len(_WRONG_COLOURS))]
            a = rng.uniform(0, 2 * math.pi)
            parts.append(
                _Part(
                    spawn=t,
                    lane=float(rng.uniform(0.2, 0.8)),
                    size=self.part_size * float(rng.uniform(0.85, 1.2)),
                    angle=float(rng.uniform(0, math.pi)),
                    kind=int(rng.random() < self.flange_share),
                    colour=colour,
                    defect=defect,
                    hole=int(rng.integers(4)),
                    crack=(
                        float(a),
                        float(rng.uniform(0.5, 0.9)),
                        float(rng.uniform(-0.4, 0.4)),
                        float(rng.uniform(0, 1)),
                    ),
                )
            )
            t += gap

    def _workers_in(self, block: int) -> list[_Worker]:
        rng = np.random.default_rng([self.seed, 2, block & 0xFFFFFFFF, block >> 32 & 0xFFFF])
        h, w, s = self.height, self.width, self.scale
        floor_top = self.belt_y1 + 30 * s
        zx0, zy0, zx1, zy1 = self.zone
        workers = []
        for _ in range(rng.poisson(self.workers_per_block)):

            def edge_point() -> tuple[float, float]:
                side = rng.integers(3)
                if side == 2:  # bottom edge
                    return float(rng.uniform(0, w)), h + 30 * s
                x = -30 * s if side == 0 else w + 30 * s
                return x, float(rng.uniform(floor_top, h))

            mid = (float(rng.uniform(zx0, zx1)), float(rng.uniform(max(zy0, floor_top), zy1)))
            if rng.random() < 0.3:
                mid = (float(rng.uniform(0, w)), float(rng.uniform(floor_top, h)))
            helmet = bool(rng.random() < self.helmet_share)
            heads = _HELMETS if helmet else _HAIR
            workers.append(
                _Worker(
                    spawn=block * _WORKER_BLOCK + float(rng.uniform(0, _WORKER_BLOCK)),
                    path=(edge_point(), mid, edge_point()),
                    pause=float(rng.uniform(1, 5) * self.fps) if rng.random() < 0.35 else 0.0,
                    speed=float(rng.uniform(60, 140)) * s / self.fps,
                    scale=float(rng.uniform(0.85, 1.2)) * s,
                    helmet=helmet,
                    head_colour=heads[rng.integers(len(heads))],
                    skin=_SKIN[rng.integers(len(_SKIN))],
                    clothes=_CLOTHES[rng.integers(len(_CLOTHES))],
                    phase=float(rng.uniform(0, 2 * math.pi)),
                )
            )
        return workers

    # ----- per frame ----------------------------------------------------------------------

    def render(self, frame_index: int) -> tuple[np.ndarray, list[Detection]]:
        """Draw frame ``frame_index`` (any integer ≥ 0) and return it with its ground truth."""
        if frame_index < 0:
            raise ValueError(f"frame_index must be >= 0, got {frame_index}")
        img = self._background.copy()
        boxes: list[tuple[float, float, float, float, int]] = []
        self._draw_belt(img, frame_index, boxes)
        first = int((frame_index - self._worker_life) // _WORKER_BLOCK)
        for block in range(first, frame_index // _WORKER_BLOCK + 1):
            for wk in self._worker_blocks.get_or(block, self._workers_in):
                self._draw_worker(img, wk, frame_index - wk.spawn, boxes)
        if self.blur:
            cv2.GaussianBlur(img, (0, 0), self.blur, dst=img)
        flick = 1.0 + self.flicker * math.sin(frame_index * 0.07 + self.seed)
        img = cv2.multiply(img, self._gain, scale=flick / 128.0)
        img = cv2.add(img, self._noise[(frame_index * 5) % _NOISE_BANK], dtype=cv2.CV_8U)
        return img, self._ground_truth(boxes)

    def _draw_belt(self, img: np.ndarray, frame_index: int, boxes: list) -> None:
        w, s, v = self.width, self.scale, self.belt_speed
        b0, b1 = int(self.belt_y0), int(self.belt_y1)
        belt = img[b0:b1]
        pitch = 48 * s
        offset = (frame_index * v) % pitch
        for k in range(int(w / pitch) + 2):  # cleats move with the belt
            x = k * pitch + offset
            x = w - x if self.flip else x
            cv2.line(
                belt,
                (int(x * _ONE), 0),
                (int(x * _ONE), (b1 - b0) * _ONE),
                (34, 34, 36),
                max(1, int(3 * s)),
                cv2.LINE_AA,
                _SHIFT,
            )
        first = int((frame_index - self._part_travel) // _PART_BLOCK)
        for block in range(first, frame_index // _PART_BLOCK + 1):
            for part in self._part_blocks.get_or(block, self._parts_in):
                x = -2 * self.part_size + v * (frame_index - part.spawn)
                if -2 * self.part_size < x < w + 2 * self.part_size:
                    x = w - x if self.flip else x
                    y = (b1 - b0) * (0.5 + (part.lane - 0.5) * 0.75)
                    box, cls = self._draw_part(belt, part, x, y)
                    boxes.append((box[0], box[1] + b0, box[2], box[3] + b0, cls))
        # Motion blur along the belt: the exposure smears whatever moves with it.
        k = int(round(v * 0.6))
        if k >= 2:
            cv2.blur(belt, (k, 1), dst=belt)

    def _draw_part(self, img: np.ndarray, part: _Part, x: float, y: float):
        r, ca, sa = part.size, math.cos(part.angle), math.sin(part.angle)

        def at(u: float, v: float) -> tuple[int, int]:
            return int((x + u * ca - v * sa) * _ONE), int((y + u * sa + v * ca) * _ONE)

        shadow = (int(4 * self.scale * _ONE), int(4 * self.scale * _ONE))
        if part.kind == 0:  # bracket: rounded bar with two holes
            hw, hh = r, r * 0.5
            outline = _rounded_rect(hw, hh, hh * 0.6)
            pts = np.array([at(u, v) for u, v in outline], np.int32)
            holes = [(-hw * 0.55, 0.0), (hw * 0.55, 0.0)]
            hole_r = hh * 0.38
        else:  # flange: disc with a bore and four bolt holes
            hw = hh = r * 0.8
            pts = np.array(
                [
                    at(hw * math.cos(t), hw * math.sin(t))
                    for t in np.linspace(0, 2 * math.pi, 28, False)
                ],
                np.int32,
            )
            holes = [
                (hw * 0.65 * math.cos(t), hw * 0.65 * math.sin(t)) for t in (0.0, 1.57, 3.14, 4.71)
            ]
            hole_r = hw * 0.15
            cv2.fillPoly(img, [pts + shadow], (24, 24, 26), cv2.LINE_AA, _SHIFT)
            shadow = None
        if shadow is not None:
            cv2.fillPoly(img, [pts + shadow], (24, 24, 26), cv2.LINE_AA, _SHIFT)
        cv2.fillPoly(img, [pts], part.colour, cv2.LINE_AA, _SHIFT)
        cv2.polylines(
            img,
            [pts],
            True,
            tuple(c * 0.6 for c in part.colour),
            max(1, int(self.scale)),
            cv2.LINE_AA,
            _SHIFT,
        )
        hole_colour = (30, 30, 32)
        for i, (u, v) in enumerate(holes):
            if part.defect == "hole" and i == part.hole % len(holes):
                continue
            cv2.circle(img, at(u, v), int(hole_r * _ONE), hole_colour, -1, cv2.LINE_AA, _SHIFT)
        if part.kind == 1:
            cv2.circle(img, at(0, 0), int(hw * 0.3 * _ONE), hole_colour, -1, cv2.LINE_AA, _SHIFT)
        if part.defect == "crack":
            a, length, bend, start = part.crack
            u0, v0 = (start - 0.5) * hw * 0.6, hh * 0.9 * (1 if start > 0.5 else -1)
            pts_c = [
                (u0, v0),
                (u0 + bend * hw * 0.5, v0 * 0.3),
                (u0 - bend * hw * 0.3, -v0 * length),
            ]
            cv2.polylines(
                img,
                [np.array([at(u, v) for u, v in pts_c], np.int32)],
                False,
                (18, 18, 20),
                max(2, int(2.5 * self.scale)),
                cv2.LINE_AA,
                _SHIFT,
            )
        xs, ys = pts[:, 0] / _ONE, pts[:, 1] / _ONE
        cls = DEFECTIVE_PART if part.defect else PART
        return (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())), cls

    def _worker_pose(self, wk: _Worker, t: float):
        """Where the worker is ``t`` frames after spawning, which way it faces, and whether it walks."""
        (ax, ay), (mx, my), (bx, by) = wk.path
        leg1, leg2 = math.hypot(mx - ax, my - ay), math.hypot(bx - mx, by - my)
        d = t * wk.speed
        if d < leg1:
            f = d / max(leg1, 1e-6)
            return ax + (mx - ax) * f, ay + (my - ay) * f, math.atan2(my - ay, mx - ax), True
        if t < leg1 / wk.speed + wk.pause:
            return mx, my, math.atan2(by - my, bx - mx), False
        d = d - leg1 - wk.pause * wk.speed
        if d > leg2:
            return None
        f = d / max(leg2, 1e-6)
        return mx + (bx - mx) * f, my + (by - my) * f, math.atan2(by - my, bx - mx), True

    def _draw_worker(self, img: np.ndarray, wk: _Worker, t: float, boxes: list) -> None:
        if t < 0:
            return
        pose = self._worker_pose(wk, t)
        if pose is None:
            return
        x, y, heading, walking = pose
        s = wk.scale
        fx, fy = math.cos(heading), math.sin(heading)  # forward
        sx, sy = -fy, fx  # to the right shoulder
        swing = 7 * s * math.sin(t * 0.25 + wk.phase) if walking else 0.0
        sh_a, sh_b = 28 * s, 14 * s  # shoulder half-width, chest half-depth
        arm_r = 7.5 * s
        arms = [
            (x + sx * sh_a * k + fx * swing * k, y + sy * sh_a * k + fy * swing * k)
            for k in (1, -1)
        ]
        head_r = (12.5 if wk.helmet else 10.0) * s
        hx, hy = x + fx * 2 * s, y + fy * 2 * s
        angle = math.degrees(heading) + 90.0
        off = 5 * s
        c = lambda px, py: (int(px * _ONE), int(py * _ONE))  # noqa: E731
        cv2.ellipse(
            img,
            c(x + off, y + off),
            c(sh_a + 4 * s, sh_b + 4 * s),
            angle,
            0,
            360,
            (35, 35, 38),
            -1,
            cv2.LINE_AA,
            _SHIFT,
        )
        for ax_, ay_ in arms:
            cv2.circle(
                img,
                c(ax_, ay_),
                int(arm_r * _ONE),
                tuple(v * 0.8 for v in wk.clothes),
                -1,
                cv2.LINE_AA,
                _SHIFT,
            )
        cv2.ellipse(img, c(x, y), c(sh_a, sh_b), angle, 0, 360, wk.clothes, -1, cv2.LINE_AA, _SHIFT)
        if wk.helmet:
            brim = tuple(v * 0.8 for v in wk.head_colour)
            cv2.circle(img, c(hx, hy), int(head_r * _ONE), brim, -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(
                img, c(hx, hy), int(head_r * 0.72 * _ONE), wk.head_colour, -1, cv2.LINE_AA, _SHIFT
            )
            cv2.line(
                img,
                c(hx - fx * head_r * 0.6, hy - fy * head_r * 0.6),
                c(hx + fx * head_r * 0.6, hy + fy * head_r * 0.6),
                brim,
                max(1, int(2 * s)),
                cv2.LINE_AA,
                _SHIFT,
            )
            cv2.circle(
                img,
                c(hx - 3 * s, hy - 3 * s),
                int(2.2 * s * _ONE),
                (250, 250, 250),
                -1,
                cv2.LINE_AA,
                _SHIFT,
            )
        else:
            cv2.circle(
                img,
                c(hx + fx * 3 * s, hy + fy * 3 * s),
                int(head_r * 0.8 * _ONE),
                wk.skin,
                -1,
                cv2.LINE_AA,
                _SHIFT,
            )
            cv2.circle(
                img,
                c(hx - fx * 1 * s, hy - fy * 1 * s),
                int(head_r * _ONE),
                wk.head_colour,
                -1,
                cv2.LINE_AA,
                _SHIFT,
            )
        # Box: the rotated shoulder ellipse, both arms and the head.
        ex = math.sqrt(
            (sh_a * math.cos(math.radians(angle))) ** 2
            + (sh_b * math.sin(math.radians(angle))) ** 2
        )
        ey = math.sqrt(
            (sh_a * math.sin(math.radians(angle))) ** 2
            + (sh_b * math.cos(math.radians(angle))) ** 2
        )
        xs = (
            [x - ex, x + ex]
            + [a[0] - arm_r for a in arms]
            + [a[0] + arm_r for a in arms]
            + [hx - head_r, hx + head_r]
        )
        ys = (
            [y - ey, y + ey]
            + [a[1] - arm_r for a in arms]
            + [a[1] + arm_r for a in arms]
            + [hy - head_r, hy + head_r]
        )
        if not (0 <= hx < self.width and 0 <= hy < self.height):
            return  # head out of frame: hat or no hat cannot be told, so no label
        boxes.append(
            (min(xs), min(ys), max(xs), max(ys), PERSON if wk.helmet else PERSON_WITHOUT_HELMET)
        )

    def _ground_truth(self, boxes: list) -> list[Detection]:
        out = []
        for x1, y1, x2, y2, cls in boxes:
            clipped = clip_box((x1, y1, x2, y2), self.width, self.height)
            if clipped is not None:
                out.append(Detection(*clipped, 1.0, cls, CLASS_NAMES[cls]))
        return out


def clip_box(box: tuple[float, float, float, float], width: int, height: int):
    """``box`` (x1, y1, x2, y2) clipped to the frame, or None when under 30 % of it is visible."""
    x1, y1, x2, y2 = box
    cx1, cy1, cx2, cy2 = max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)
    if (
        cx2 <= cx1
        or cy2 <= cy1
        or (cx2 - cx1) * (cy2 - cy1) < MIN_VISIBLE_FRACTION * (x2 - x1) * (y2 - y1)
    ):
        return None
    return cx1, cy1, cx2, cy2


def _rounded_rect(hw: float, hh: float, radius: float, steps: int = 5) -> list[tuple[float, float]]:
    """Outline of a rounded rectangle centred on the origin, as (u, v) points."""
    pts = []
    for cx, cy, start in (
        (hw - radius, hh - radius, 0.0),
        (-hw + radius, hh - radius, 90.0),
        (-hw + radius, -hh + radius, 180.0),
        (hw - radius, -hh + radius, 270.0),
    ):
        for k in range(steps + 1):
            t = math.radians(start + 90.0 * k / steps)
            pts.append((cx + radius * math.cos(t), cy + radius * math.sin(t)))
    return pts
