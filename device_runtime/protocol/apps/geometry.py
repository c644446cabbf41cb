"""Plane geometry for zones and counting lines.

All functions work in one coordinate system chosen by the caller (the
detector logic uses pixels of the frame, after scaling the manifest's
normalised points by the frame size). Image coordinates: x grows to the
right, y grows *downwards*.

Sides of a directed line a→b, and the direction names used for counting::

            left of a→b          (smaller y here: above the line on screen)
       a ──────────────────▶ b
            right of a→b         (larger y here: below the line on screen)

       "in"  = crossing from the left of a→b to its right (here: moving down)
       "out" = crossing from the right to the left         (here: moving up)

In general "in" is the direction of a→b turned 90° clockwise *as seen on the
screen*. For a vertical line drawn top to bottom (a above b), "in" therefore
means moving from the screen's right to its left; draw the line the other way
round (b above a) to flip it. The console shows the arrow, so users never need
to work this out by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Point = tuple[float, float]

IN = "in"
OUT = "out"


def _cross(ox: float, oy: float, ax: float, ay: float, bx: float, by: float) -> float:
    """z of (a - o) × (b - o); positive when b is to the right of o→a in image coordinates."""
    return (ax - ox) * (by - oy) - (ay - oy) * (bx - ox)


def polygon_area(polygon: Sequence[Point] | np.ndarray) -> float:
    """Unsigned area of a simple polygon (shoelace formula)."""
    pts = np.asarray(polygon, dtype=float).reshape(-1, 2)
    if len(pts) < 3:
        return 0.0
    x, y = pts[:, 0], pts[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def points_in_polygon(
    points: Sequence[Point] | np.ndarray, polygon: Sequence[Point] | np.ndarray
) -> np.ndarray:
    """Which of ``points`` (N×2) lie inside ``polygon`` (M×2), as an N-long bool array.

    Even-odd ray casting, vectorised over points and edges. Points exactly on
    an edge may fall either way; callers that care use
    :func:`distance_to_boundary` as a dead band.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=float).reshape(-1, 2)
    if len(pts) == 0 or len(poly) < 3:
        return np.zeros(len(pts), dtype=bool)
    x = pts[:, 0:1]
    y = pts[:, 1:2]
    xi, yi = poly[:, 0], poly[:, 1]
    xj, yj = np.roll(xi, 1), np.roll(yi, 1)
    straddles = (yi > y) != (yj > y)  # N×M: the edge spans the point's y
    # Horizontal edges never straddle; give them a harmless denominator.
    dy = np.where(yj == yi, 1.0, yj - yi)
    x_at_y = xi + (xj - xi) * (y - yi) / dy
    crossings = straddles & (x < x_at_y)
    return np.logical_xor.reduce(crossings, axis=1)


def point_in_polygon(point: Point, polygon: Sequence[Point] | np.ndarray) -> bool:
    """Whether one point lies inside ``polygon`` (see :func:`points_in_polygon`)."""
    return bool(points_in_polygon([point], polygon)[0])


def distance_to_boundary(point: Point, polygon: Sequence[Point] | np.ndarray) -> float:
    """Shortest distance from ``point`` to any edge of the closed ``polygon``."""
    poly = np.asarray(polygon, dtype=float).reshape(-1, 2)
    p = np.asarray(point, dtype=float)
    start = poly
    end = np.roll(poly, -1, axis=0)
    edge = end - start
    length_sq = np.einsum("ij,ij->i", edge, edge)
    safe = np.where(length_sq == 0, 1.0, length_sq)
    t = np.clip(np.einsum("ij,ij->i", p - start, edge) / safe, 0.0, 1.0)
    nearest = start + edge * t[:, None]
    return float(np.min(np.hypot(*(p - nearest).T)))


def signed_distance_to_line(point: Point, a: Point, b: Point) -> float:
    """Distance from ``point`` to the infinite line through a and b, signed by side.

    Positive on the right of a→b, negative on its left, zero on the line (see
    the module docstring for which side is which on screen). ``a`` and ``b``
    must differ.
    """
    length = float(np.hypot(b[0] - a[0], b[1] - a[1]))
    if length == 0.0:
        raise ValueError("a line needs two distinct endpoints")
    return _cross(a[0], a[1], b[0], b[1], point[0], point[1]) / length


def segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """Whether segment p1–p2 and segment q1–q2 share at least one point (touching counts)."""
    d1 = _cross(q1[0], q1[1], q2[0], q2[1], p1[0], p1[1])
    d2 = _cross(q1[0], q1[1], q2[0], q2[1], p2[0], p2[1])
    d3 = _cross(p1[0], p1[1], p2[0], p2[1], q1[0], q1[1])
    d4 = _cross(p1[0], p1[1], p2[0], p2[1], q2[0], q2[1])
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return (
        (d1 == 0 and _on_segment(q1, q2, p1))
        or (d2 == 0 and _on_segment(q1, q2, p2))
        or (d3 == 0 and _on_segment(p1, p2, q1))
        or (d4 == 0 and _on_segment(p1, p2, q2))
    )


def _on_segment(s1: Point, s2: Point, p: Point) -> bool:
    """For p collinear with s1–s2: whether it lies within the segment's bounding box."""
    return min(s1[0], s2[0]) <= p[0] <= max(s1[0], s2[0]) and min(s1[1], s2[1]) <= p[1] <= max(
        s1[1], s2[1]
    )


def crossing_direction(start: Point, end: Point, a: Point, b: Point) -> str | None:
    """How a movement from ``start`` to ``end`` crosses the segment a–b.

    Returns ``"in"`` (left of a→b to right), ``"out"`` (right to left), or
    ``None`` when the movement does not cross the segment: it stays on one
    side, ends on the line, or passes beyond an endpoint.
    """
    s0 = _cross(a[0], a[1], b[0], b[1], start[0], start[1])
    s1 = _cross(a[0], a[1], b[0], b[1], end[0], end[1])
    if s0 == 0 or s1 == 0 or (s0 > 0) == (s1 > 0):
        return None
    if not segments_intersect(start, end, a, b):
        return None
    return IN if s0 < 0 else OUT


def polygon_self_intersects(polygon: Sequence[Point] | np.ndarray) -> bool:
    """Whether two non-adjacent edges of the closed polygon meet (a bow-tie shape)."""
    pts = [tuple(p) for p in np.asarray(polygon, dtype=float).reshape(-1, 2)]
    n = len(pts)
    if n < 4:
        return False
    edges = [(pts[i], pts[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # the closing edge is adjacent to the first one
            if segments_intersect(*edges[i], *edges[j]):
                return True
    return False
