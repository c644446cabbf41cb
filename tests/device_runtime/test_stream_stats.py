"""The inferred-fps rate health reports: never a spike from a frame recorded as it is read."""

from __future__ import annotations

import pytest

from device_runtime.pipeline import StreamStats


def test_fps_is_frames_over_the_span_of_the_window():
    stats = StreamStats(window_s=5.0)
    for n in range(16):
        stats.record(10.0, 100.0 + n / 15)
    assert stats.fps(101.0) == pytest.approx(15.0, rel=0.01)


def test_a_frame_recorded_after_the_sampler_read_the_clock_does_not_make_millions_of_fps():
    """The health sampler reads the clock, then the worker records a frame: that frame is newer than
    'now'. It used to make the span negative, clamped to 1 µs: about a million fps on the plot."""
    stats = StreamStats()
    stats.record(10.0, 100.0)
    stats.record(10.0, 100.0000005)
    assert stats.fps(100.0000001) == 0.0
    assert stats.fps(100.0000006) == 0.0  # two frames a microsecond apart are no rate either
    assert stats.fps(100.5) == pytest.approx(2.0)
