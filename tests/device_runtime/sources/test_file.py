"""Video file sources: real-time pacing, looping, end of file, bad files."""

from __future__ import annotations

import threading
import time

import pytest

from device_runtime.sources import InvalidSourceUrl
from device_runtime.sources.file import path_from_url
from device_runtime.types import StreamState


def test_file_source_loops_at_the_file_fps(ramp_video, make_source):
    source, states = make_source(str(ramp_video.path))
    frames = source.subscribe("t")
    source.start()
    got = []
    deadline = time.monotonic() + 10
    while not got or got[-1].seq < 45:  # past two loops of 20 frames
        frame = frames.get(timeout=max(0.0, deadline - time.monotonic()))
        assert frame is not None, f"stream stopped delivering after {len(got)} frames"
        got.append(frame)

    states.wait_for(StreamState.LIVE, timeout=1)
    for frame in got:
        assert ramp_video.index_of(frame.image) == frame.seq % 20, "frame out of file order"
    assert source.loops >= 2
    span = got[-1].monotonic - got[0].monotonic
    expected = (got[-1].seq - got[0].seq) / ramp_video.fps
    assert expected * 0.8 <= span <= expected * 1.6, (
        f"{got[-1].seq - got[0].seq} frames took {span:.2f} s, expected about {expected:.2f} s"
    )
    assert (source.width, source.height, source.codec, source.nominal_fps) == (64, 48, "h264", 40.0)


def test_file_source_without_loop_stops_at_end_of_file(ramp_video, make_source):
    source, states = make_source(f"file://{ramp_video.path}", loop=False, realtime=False)
    frames = source.subscribe("t")
    source.start()
    end = states.wait_for(StreamState.STOPPED, timeout=10)
    assert end.reason == "end of file"
    assert source.frames_read == 20
    assert frames.received + frames.dropped + (frames.get(timeout=0) is not None) == 20


def test_file_source_waiting_for_consumers_hands_a_slow_consumer_every_frame_in_order(
    ramp_video, make_source
):
    source, states = make_source(
        f"file://{ramp_video.path}", loop=False, realtime=False, wait_for_consumers=True
    )
    frames = source.subscribe("t")
    source.start()
    busy = threading.Event()  # never set: its wait stands for a consumer's work per frame
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 20 and time.monotonic() < deadline:
        frame = frames.get(timeout=max(0.0, deadline - time.monotonic()))
        if frame is None:
            break
        got.append(frame)
        busy.wait(0.01)
    assert [ramp_video.index_of(f.image) for f in got] == list(range(20))
    assert frames.dropped == 0
    assert states.wait_for(StreamState.STOPPED, timeout=5).reason == "end of file"


def test_file_source_waiting_for_consumers_stops_at_once_while_a_consumer_takes_nothing(
    ramp_video, make_source
):
    source, states = make_source(
        f"file://{ramp_video.path}", loop=False, realtime=False, wait_for_consumers=True
    )
    source.subscribe("idle")  # subscribed, never reads
    source.start()
    states.wait_for(StreamState.LIVE, timeout=5)
    started = time.monotonic()
    assert source.stop(timeout=5), "the reader thread did not end while waiting for a consumer"
    assert time.monotonic() - started < 0.5, "stop() waited out the consumer wait"


def test_missing_file_fails_naming_the_path(tmp_path, make_source):
    missing = tmp_path / "nope.mp4"
    source, states = make_source(str(missing))
    source.start()
    change = states.wait_for(StreamState.FAILED, timeout=5)
    assert change.reason == f"video file not found: {missing}"


def test_file_that_is_not_a_video_fails(tmp_path, make_source):
    junk = tmp_path / "notes.mp4"
    junk.write_text("this is not a video\n" * 50)
    source, states = make_source(str(junk))
    source.start()
    change = states.wait_for(StreamState.FAILED, timeout=10)
    assert str(junk) in change.reason


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("file:///data/a%20b.mp4", "/data/a b.mp4"),
        ("file://localhost/data/a.mp4", "/data/a.mp4"),
        ("/data/a.mp4", "/data/a.mp4"),
        ("clips/a.mp4", "clips/a.mp4"),
    ],
)
def test_file_urls_map_to_local_paths(url, path):
    assert path_from_url(url) == path


def test_file_url_on_another_host_is_rejected():
    with pytest.raises(InvalidSourceUrl, match="not host 'nas'"):
        path_from_url("file://nas/share/a.mp4")
