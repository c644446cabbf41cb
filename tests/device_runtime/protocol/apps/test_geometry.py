"""Specifications of the plane geometry behind zones and counting lines (image coordinates, y down)."""

from __future__ import annotations

import numpy as np
import pytest

from device_runtime.protocol.apps.geometry import (
    crossing_direction,
    distance_to_boundary,
    point_in_polygon,
    points_in_polygon,
    polygon_area,
    polygon_self_intersects,
    segments_intersect,
    signed_distance_to_line,
)

SQUARE = [(10, 10), (30, 10), (30, 30), (10, 30)]
# An L shape: the square [0, 20]² with its top-right quarter [10, 20]×[0, 10] cut away.
L_SHAPE = [(0, 0), (10, 0), (10, 10), (20, 10), (20, 20), (0, 20)]


def test_points_in_polygon_classifies_many_points_at_once():
    points = np.array([(20, 20), (5, 20), (35, 20), (20, 5), (29.9, 29.9)])

    assert points_in_polygon(points, SQUARE).tolist() == [True, False, False, False, True]


def test_the_notch_of_a_concave_zone_is_outside_it():
    assert point_in_polygon((5, 5), L_SHAPE)
    assert not point_in_polygon((15, 5), L_SHAPE)  # in the cut-away corner
    assert point_in_polygon((15, 15), L_SHAPE)


def test_points_in_polygon_handles_no_points_and_degenerate_polygons():
    assert points_in_polygon(np.empty((0, 2)), SQUARE).shape == (0,)
    assert points_in_polygon([(1, 1)], [(0, 0), (2, 2)]).tolist() == [False]


def test_distance_to_boundary_measures_to_the_nearest_edge():
    assert distance_to_boundary((20, 12), SQUARE) == pytest.approx(2)
    assert distance_to_boundary((33, 34), SQUARE) == pytest.approx(5)  # to the corner (30, 30)


def test_right_of_a_to_b_is_below_a_rightward_line_on_screen():
    a, b = (0, 100), (100, 100)  # pointing right on screen

    assert signed_distance_to_line((50, 110), a, b) == pytest.approx(10)  # below: right of a→b
    assert signed_distance_to_line((50, 95), a, b) == pytest.approx(-5)  # above: left
    assert signed_distance_to_line((500, 100), a, b) == 0


def test_in_means_crossing_from_left_to_right_of_a_to_b():
    horizontal = ((0, 100), (100, 100))
    downward = ((50, 0), (50, 100))  # a above b

    assert crossing_direction((50, 90), (50, 110), *horizontal) == "in"  # moving down
    assert crossing_direction((50, 110), (50, 90), *horizontal) == "out"
    # For a line drawn top to bottom, "in" is moving from the screen's right to its left.
    assert crossing_direction((60, 50), (40, 50), *downward) == "in"
    assert crossing_direction((40, 50), (60, 50), *downward) == "out"


def test_passing_beyond_the_end_of_a_line_is_not_a_crossing():
    a, b = (0, 100), (100, 100)

    assert crossing_direction((150, 90), (150, 110), a, b) is None
    assert crossing_direction((90, 90), (120, 110), a, b) is None  # meets the line at x=105


def test_a_movement_that_stops_on_the_line_has_not_crossed_it_yet():
    a, b = (0, 100), (100, 100)

    assert crossing_direction((50, 90), (50, 100), a, b) is None
    assert crossing_direction((50, 90), (60, 95), a, b) is None


def test_segments_intersect_counts_touching_and_rejects_disjoint():
    assert segments_intersect((0, 0), (10, 10), (0, 10), (10, 0))
    assert segments_intersect((0, 0), (10, 0), (10, 0), (20, 5))  # share an endpoint
    assert segments_intersect((0, 0), (10, 0), (5, 0), (20, 0))  # collinear overlap
    assert not segments_intersect((0, 0), (10, 0), (11, 0), (20, 0))
    assert not segments_intersect((0, 0), (10, 10), (0, 1), (9, 10))  # parallel


def test_signed_distance_refuses_a_line_without_length():
    with pytest.raises(ValueError, match="two distinct endpoints"):
        signed_distance_to_line((1, 1), (5, 5), (5, 5))


def test_polygon_area_and_self_intersection():
    assert polygon_area(SQUARE) == pytest.approx(400)
    assert polygon_area(L_SHAPE) == pytest.approx(300)
    assert polygon_area([(0, 0), (1, 1), (2, 2)]) == 0
    assert polygon_self_intersects([(0, 0), (10, 10), (10, 0), (0, 10)])  # bow-tie
    assert not polygon_self_intersects(L_SHAPE)
    assert not polygon_self_intersects([(0, 0), (1, 0), (0, 1)])
