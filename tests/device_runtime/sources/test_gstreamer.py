"""What only the GStreamer backend does: decoder choice, backend choice, picture layout.

The behaviour it shares with the OpenCV backend (states, reconnects,
credentials) is tested on both in test_rtsp.py.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import numpy as np
import pytest

from device_runtime.sources import InvalidSourceUrl, open_source
from device_runtime.sources.gst_setup import PTH_NAME, find_system_gi, link_system_gi
from device_runtime.sources.gst_support import (
    available_decoders,
    gstreamer_status,
    hardware_decoder_present,
    pick_decoder,
)
from device_runtime.sources.gstreamer import GstRtspSource
from device_runtime.sources.rtsp import RtspSource
from device_runtime.types import StreamState
from tests.peers.rtsp_server import RtspServer

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_gstreamer_is_usable_on_a_machine_set_up_by_make_test():
    status = gstreamer_status()
    assert status.available, status.reason
    assert status.version.startswith("GStreamer 1.")
    assert "avdec_h264" in available_decoders() and "avdec_h265" in available_decoders()


def test_hardware_decoders_are_preferred_and_a_failed_one_is_skipped():
    present = ["nvh264dec", "vah264dec", "avdec_h264", "avdec_h265"]
    assert pick_decoder("h264", present) == "nvh264dec"
    assert pick_decoder("h264", present, exclude=frozenset({"nvh264dec"})) == "vah264dec"
    assert pick_decoder("h264", present, wanted="software") == "avdec_h264"
    assert pick_decoder("h265", present) == "avdec_h265"
    assert pick_decoder("h264", ["nvv4l2decoder", "nvh264dec", "avdec_h264"]) == "nvv4l2decoder"
    assert pick_decoder("h264", present, wanted="nvh265dec") == ""  # an H.265 decoder cannot do H.264
    assert pick_decoder("mjpeg", present) == ""


def test_automatic_choice_takes_gstreamer_only_where_a_hardware_decoder_is_present():
    source = open_source("rtsp://cam/stream1", "s1")
    expected = GstRtspSource if hardware_decoder_present() else RtspSource
    assert type(source) is expected


def test_url_fragment_picks_the_backend_and_decoder_and_never_reaches_the_camera(make_source):
    with RtspServer() as camera:
        source, states = make_source(camera.url + "#backend=gstreamer&decoder=software")
        frames = source.subscribe("a")
        source.start()
        states.wait_for(StreamState.LIVE, timeout=10)
        assert frames.get(timeout=5) is not None
    assert isinstance(source, GstRtspSource)
    assert (source.backend, source.decoder, source.codec) == ("gstreamer", "avdec_h264", "h264")
    assert "#" not in source.url and source.url.endswith("/cam")


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("rtsp://cam/s#backend=vlc", {}, "unknown RTSP backend 'vlc'"),
        ("rtsp://cam/s#codec=h264", {}, "unknown option 'codec' in the URL fragment"),
        ("rtsp://cam/s", {"backend": "gstreamer", "decoder": "nvjpegdec"}, "unknown decoder 'nvjpegdec'"),
        ("rtsp://cam/s", {"backend": "opencv", "decoder": "software"}, "decoder do not apply to rtsp (opencv"),
        ("rtsp://u:sekrit@cam/s#backend=gstreamer&latency_ms=9", {}, "unknown option 'latency_ms'"),
    ],
)
def test_bad_backend_options_are_rejected_naming_the_problem(url, options, message):
    with pytest.raises(InvalidSourceUrl) as info:
        open_source(url, "s1", **options)
    assert message in str(info.value)
    assert "sekrit" not in str(info.value)


def test_a_decoder_that_cannot_do_the_cameras_codec_is_retried_naming_what_is_present(make_source):
    with RtspServer() as camera:
        source, states = make_source(camera.url, backend="gstreamer", decoder="avdec_h265")
        source.start()
        change = states.wait_for(StreamState.RECONNECTING, timeout=10)
    assert "no GStreamer decoder 'avdec_h265' for H264" in change.reason
    assert "avdec_h264" in change.reason  # what the engineer could pick instead


# The seven top bars of GStreamer's 100 % SMPTE pattern, left to right, in BGR.
SMPTE_BARS_BGR = [
    (255, 255, 255), (0, 255, 255), (255, 255, 0), (0, 255, 0), (255, 0, 255), (0, 0, 255), (255, 0, 0),
]


def test_gstreamer_frames_are_bgr_pictures_of_what_the_camera_shows(make_source):
    """Channel order, orientation and scale: the camera's colour bars come out where and as they are."""
    with RtspServer(pattern="smpte") as camera:
        source, states = make_source(camera.url, backend="gstreamer")
        frames = source.subscribe("a")
        source.start()
        states.wait_for(StreamState.LIVE, timeout=10)
        frame = frames.get(timeout=5)
    assert frame is not None
    width = frame.image.shape[1]
    for index, expected in enumerate(SMPTE_BARS_BGR):
        x = int((index + 0.5) * width / 7)
        got = frame.image[30, x].astype(int)
        assert np.abs(got - expected).max() < 16, f"bar {index} at x={x}: expected BGR {expected}, got {got}"


def test_the_first_gstreamer_frame_is_a_whole_picture_not_a_half_decoded_one(make_source):
    """Frames before the first keyframe would show green and smeared areas; none is handed on."""
    with RtspServer(pattern="smpte") as camera:
        source, states = make_source(camera.url, backend="gstreamer")
        frames = source.subscribe("a")
        source.start()
        states.wait_for(StreamState.LIVE, timeout=10)
        first = frames.get(timeout=5)
    assert first is not None
    top_left = first.image[20, 5].tolist()
    assert min(top_left) > 200, f"the SMPTE pattern starts with a white bar; got {top_left}"


def test_frames_of_a_width_whose_rows_are_padded_are_not_skewed(make_source):
    """322 px of BGR is 966 bytes, which GStreamer pads to 968 per row."""
    with RtspServer(width=322, height=240, pattern="smpte") as camera:
        source, states = make_source(camera.url, backend="gstreamer")
        frames = source.subscribe("a")
        source.start()
        states.wait_for(StreamState.LIVE, timeout=10)
        frame = frames.get(timeout=5)
    assert frame is not None and frame.image.shape == (240, 322, 3)
    # The bars are vertical: a row near the top and one lower down must match.
    skew = np.abs(frame.image[10].astype(np.int16) - frame.image[120].astype(np.int16)).mean()
    assert skew < 10, f"rows 10 and 120 differ by {skew:.1f} levels: the image is sheared"


def test_without_pygobject_gstreamer_is_reported_unavailable_and_cameras_use_opencv():
    """gi is made unimportable in a child interpreter (a missing python3-gi cannot be caused otherwise)."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["gi"] = None  # import gi now raises ImportError, as without python3-gi
        from device_runtime.sources import InvalidSourceUrl, open_source
        from device_runtime.sources.gst_support import gstreamer_status
        status = gstreamer_status()
        print("available", status.available)
        print("reason", status.reason)
        print("auto", type(open_source("rtsp://cam/s", "s1")).__name__)
        try:
            open_source("rtsp://cam/s#backend=gstreamer", "s1")
        except InvalidSourceUrl as exc:
            print("forced", exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
        cwd=REPO_ROOT, env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines["available"] == "False"
    assert "python3-gi" in lines["reason"]
    assert lines["auto"] == "RtspSource"
    assert "GStreamer backend cannot be used here" in lines["forced"] and "python3-gi" in lines["forced"]


def test_setup_links_only_the_system_gi_into_a_virtualenv(tmp_path):
    site_packages = tmp_path / "site-packages"
    site_packages.mkdir()
    message = link_system_gi(site_packages)
    system_gi = find_system_gi()
    assert system_gi is not None, message
    folder = Path((site_packages / PTH_NAME).read_text().strip())
    assert sorted(p.name for p in folder.iterdir()) == ["gi"]  # nothing else of the system's
    assert (folder / "gi").resolve() == system_gi.resolve()
    # A fresh interpreter that reads only this site folder imports GStreamer through it.
    check = subprocess.run(
        [sys.executable, "-S", "-c",
         f"import site; site.addsitedir({str(site_packages)!r}); import gi;"
         " gi.require_version('Gst', '1.0'); from gi.repository import Gst; print(Gst.version_string())"],
        capture_output=True, text=True, timeout=60,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("GStreamer 1.")
    assert link_system_gi(site_packages).startswith("linked")  # running it again is harmless



def test_a_reconnected_camera_leaves_no_old_pipeline_behind(make_source):
    """Each reconnect builds a new pipeline; the old one (and its decoder's buffers) must be freed."""
    with RtspServer() as camera:
        source, states = make_source(camera.url, backend="gstreamer", read_timeout_s=1.0)
        source.start()
        states.wait_for(StreamState.LIVE, timeout=10)
        first = weakref.ref(source._pipeline)
        mark = states.mark()
        camera.restart()
        states.wait_for(StreamState.RECONNECTING, timeout=10, after=mark)
        states.wait_for(StreamState.LIVE, timeout=10, after=mark)
    gc.collect()
    assert first() is None, "the pipeline of the first connection is still alive after reconnecting"
