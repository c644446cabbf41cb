"""open_source picks the source for a URL; schemes can be added by other packages."""

from __future__ import annotations

import pytest

from device_runtime.errors import InvalidArgument
from device_runtime.sources import (
    InvalidSourceUrl,
    UnsupportedScheme,
    open_source,
    register_scheme,
    supported_schemes,
)
from device_runtime.sources.factory import scheme_of, unregister_scheme
from device_runtime.sources.file import FileSource
from device_runtime.sources.rtsp import RtspSource
from device_runtime.sources.testpattern import TestPatternSource
from device_runtime.types import StreamState


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("rtsp://cam/s", RtspSource),
        ("RTSPS://u:p@cam:322/s", RtspSource),
        ("file:///data/a.mp4", FileSource),
        ("/data/a.mp4", FileSource),
        ("clips/a.mp4", FileSource),
        ("test://pattern?seed=2", TestPatternSource),
    ],
)
def test_open_source_dispatches_on_scheme(url, kind):
    source = open_source(url, "s1")
    assert type(source) is kind
    assert source.stream_id == "s1" and source.state is StreamState.CONNECTING
    assert not source.running  # not started until asked


def test_windows_drive_letters_are_paths_not_schemes():
    assert scheme_of(r"C:\videos\line.mp4") == "file"
    assert scheme_of("rtsp://cam") == "rtsp"


def test_unknown_scheme_error_names_it_and_lists_the_supported_ones():
    with pytest.raises(UnsupportedScheme) as info:
        open_source("onvif://admin:secret99@cam/profile1", "s1")
    message = str(info.value)
    assert "unsupported scheme 'onvif'" in message
    for scheme in ("rtsp://", "rtsps://", "file://", "test://"):
        assert scheme in message
    assert "secret99" not in message
    assert isinstance(info.value, InvalidArgument)  # becomes INVALID_ARGUMENT at the API


def test_registered_scheme_builds_its_source_with_options():
    built = {}

    def make_demo(url, stream_id, *, seed=0):
        built["seed"] = seed
        return TestPatternSource(f"test://pattern?seed={seed}", stream_id)

    register_scheme("demo-test", make_demo)
    try:
        assert "demo-test" in supported_schemes()
        source = open_source("demo-test://anything", "s1", seed=9)
        assert built == {"seed": 9} and source.spec.seed == 9
    finally:
        unregister_scheme("demo-test")
    assert "demo-test" not in supported_schemes()


def test_an_option_the_source_does_not_take_is_rejected_by_name():
    with pytest.raises(InvalidSourceUrl, match=r"option\(s\) loop do not apply to rtsp"):
        open_source("rtsp://cam/s", "s1", loop=True)


def test_empty_url_is_rejected():
    with pytest.raises(InvalidSourceUrl, match="empty"):
        open_source("  ", "s1")


def test_register_scheme_rejects_non_schemes():
    with pytest.raises(ValueError, match="not a URL scheme"):
        register_scheme("a b", TestPatternSource)


def test_sim_scheme_is_offered_and_loaded_on_demand():
    assert "sim" in supported_schemes()
