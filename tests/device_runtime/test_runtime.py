"""The device runtime assembles its parts from the configuration."""

from __future__ import annotations

import pytest

from device_runtime.config import ConfigError, load_config
from device_runtime.runtime import DeviceRuntime
from device_runtime.sources.gstreamer import GstRtspSource
from device_runtime.sources.rtsp import RtspSource
from device_runtime.sources.testpattern import TestPatternSource


@pytest.mark.parametrize(("backend", "expected"), [("gstreamer", GstRtspSource), ("opencv", RtspSource)])
def test_the_device_wide_video_backend_reads_rtsp_cameras_unless_a_camera_chooses(tmp_path, backend, expected):
    config = load_config(None, data_dir=tmp_path, providers=["cpu"], advertise=False, video_backend=backend)
    runtime = DeviceRuntime(config)
    pool = runtime.supervisor.sources
    try:
        assert type(pool.acquire("cam-1", "rtsp://127.0.0.1:1/stream1", "app")) is expected
        other = RtspSource if expected is GstRtspSource else GstRtspSource
        chooser = "opencv" if other is RtspSource else "gstreamer"
        assert type(pool.acquire("cam-2", f"rtsp://127.0.0.1:1/stream2#backend={chooser}", "app")) is other
        assert type(pool.acquire("cam-3", "test://pattern", "app")) is TestPatternSource  # not RTSP
        # (127.0.0.1:1: nothing listens, so the started sources only retry locally)
    finally:
        pool.close()
        runtime.supervisor.close()


def test_an_unknown_video_backend_is_refused_naming_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="video_backend"):
        load_config(None, data_dir=tmp_path, video_backend="vlc")


@pytest.mark.parametrize("seconds", [0.0, 2.5])
def test_the_outbox_write_behind_comes_from_the_device_config(tmp_path, seconds):
    config = load_config(None, data_dir=tmp_path, providers=["cpu"], advertise=False, outbox_write_behind_s=seconds)
    runtime = DeviceRuntime(config)
    try:
        assert runtime.supervisor.outputs.options["write_behind_s"] == seconds
    finally:
        runtime.supervisor.close()


@pytest.mark.parametrize("nice", [0, 15])
def test_the_outputs_process_niceness_comes_from_the_device_config(tmp_path, nice):
    config = load_config(None, data_dir=tmp_path, providers=["cpu"], advertise=False, outputs_nice=nice)
    runtime = DeviceRuntime(config)
    try:
        assert runtime.supervisor.outputs.options["nice"] == nice
    finally:
        runtime.supervisor.close()


def test_a_niceness_beyond_19_is_refused_naming_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="outputs_nice"):
        load_config(None, data_dir=tmp_path, outputs_nice=20)


def test_a_write_behind_beyond_ten_seconds_is_refused_naming_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="outbox_write_behind_s"):
        load_config(None, data_dir=tmp_path, outbox_write_behind_s=60)
