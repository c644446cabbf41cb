"""The decode benchmark: one real RTSP camera serving a file, both backends' CPU per frame."""

from __future__ import annotations

import pytest

from benchmarks import decode
from benchmarks.media import Clip, make_clip
from tests.peers.rtsp_server import RtspServer

pytestmark = pytest.mark.integration


def test_each_backend_worker_measures_cpu_per_frame_of_a_served_file(tmp_path):
    clip = make_clip(Clip(frames=250, width=320, height=240, fps=25, seed=3), tmp_path)  # 10 s
    with RtspServer(media_file=str(clip)) as camera:
        rows = [decode.worker(backend, camera.url, seconds=0.5, warm_up_s=0.3) for backend in ("opencv", "gstreamer-software")]
    opencv, gstreamer = rows
    assert (opencv["decoder"], gstreamer["decoder"]) == ("ffmpeg (OpenCV)", "avdec_h264")
    for row in rows:
        assert (row["width"], row["height"]) == (320, 240)
        assert row["frames"] > 0 and row["cpu_ms_per_frame"] > 0
        assert row["cores_per_stream"] == pytest.approx(row["cpu_ms_per_frame"] * 25 / 1000, abs=0.001)


def test_the_software_backends_always_run_and_hardware_decoding_only_where_present():
    names = decode.backends_to_run()
    assert names[:2] == ["opencv", "gstreamer-software"]
    assert len(names) in (2, 3)
