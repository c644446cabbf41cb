"""Specifications of gathering a Panorama app's pip requirements as wheels for the devices it goes to."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from console_app.core.services.panorama_wheels import WheelError, WheelTarget, gather_wheels
from console_app.core.settings import PythonPackagesSettings
from device_runtime.protocol.v1 import device_pb2 as pb
from tests.device_runtime.panorama.fixture_apps import pip_wheel, write_wheel

JETSON = WheelTarget("jetson-1", "3.10.12", "cp", ("manylinux_2_35_aarch64", "manylinux2014_aarch64", "linux_aarch64"),
                     {"numpy": "1.26.4", "opencv-python": "4.8.0"})
PC = WheelTarget("pc-1", "3.11.7", "cp", ("manylinux_2_36_x86_64", "manylinux2014_x86_64", "linux_x86_64"),
                {"numpy": "2.1.0", "opencv-python-headless": "4.10.0"})


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    """A site's offline wheelhouse: a pure-Python wheel built with pip, and native wheels per platform."""
    folder = tmp_path / "wheelhouse"
    pip_wheel(folder, tmp_path)
    write_wheel(folder, "fastlib", tag="cp310-cp310-manylinux2014_aarch64")
    write_wheel(folder, "fastlib", tag="cp311-cp311-manylinux2014_x86_64")
    write_wheel(folder, "fastlib", tag="cp312-cp312-win_amd64")
    return folder


def names(wheels: list[Path]) -> list[str]:
    return sorted(w.name for w in wheels)


@pytest.mark.integration
def test_each_devices_platform_and_python_gets_its_own_wheels_from_the_wheelhouse(tmp_path, wheelhouse):
    wheels = gather_wheels(["tinylib==1.0", "fastlib", "numpy>=1.20", "opencv-python-headless"], [JETSON, PC],
                           PythonPackagesSettings(wheelhouse=str(wheelhouse)), tmp_path / "out")

    assert names(wheels) == [
        "fastlib-1.0-cp310-cp310-manylinux2014_aarch64.whl",
        "fastlib-1.0-cp311-cp311-manylinux2014_x86_64.whl",
        "tinylib-1.0-py3-none-any.whl",
    ], "numpy and OpenCV are on both devices already; nothing for Windows"


def test_nothing_is_gathered_when_every_device_has_the_requirements(tmp_path):
    assert gather_wheels(["numpy", "opencv-contrib-python"], [JETSON], PythonPackagesSettings(), tmp_path / "out") == []


def test_without_a_wheelhouse_or_index_the_error_names_the_devices_and_the_setting(tmp_path):
    with pytest.raises(WheelError, match="jetson-1 lack\\(s\\) the app's pip requirement\\(s\\) tinylib: set a wheelhouse folder"):
        gather_wheels(["tinylib", "numpy"], [JETSON], PythonPackagesSettings(), tmp_path / "out")


@pytest.mark.integration
def test_a_requirement_with_no_wheel_for_a_devices_platform_is_named_with_the_device(tmp_path, wheelhouse):
    write_wheel(wheelhouse, "armonly", tag="cp310-cp310-manylinux2014_aarch64")

    with pytest.raises(WheelError, match="no wheel of armonly for pc-1 \\(Python 3.11, manylinux_2_36_x86_64\\): ERROR"):
        gather_wheels(["armonly"], [JETSON, PC], PythonPackagesSettings(wheelhouse=str(wheelhouse)), tmp_path / "out")


@pytest.mark.integration
def test_wheels_come_from_the_index_url_of_the_settings(tmp_path, wheelhouse):
    # A PEP 503 "simple" index on 127.0.0.1, as a site mirror serves it.
    root = tmp_path / "index"
    (root / "simple" / "tinylib").mkdir(parents=True)
    wheel = next(wheelhouse.glob("tinylib-*.whl"))
    (root / "simple" / "tinylib" / wheel.name).write_bytes(wheel.read_bytes())
    (root / "simple" / "tinylib" / "index.html").write_text(f'<a href="{wheel.name}">{wheel.name}</a>\n')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = PythonPackagesSettings(index_url=f"http://127.0.0.1:{server.server_address[1]}/simple")
        wheels = gather_wheels(["tinylib==1.0"], [JETSON], settings, tmp_path / "out")
    finally:
        server.shutdown()
        server.server_close()

    assert names(wheels) == ["tinylib-1.0-py3-none-any.whl"]


def test_a_device_reports_its_python_in_get_info_and_an_older_one_is_skipped():
    info = pb.DeviceInfo(name="jetson-1", python=pb.PythonEnvironment(
        version="3.10.12", implementation="cp", platforms=["manylinux2014_aarch64"], packages=["NumPy==1.26.4"]))

    target = WheelTarget.from_device_info(info)

    assert (target.python_version, target.platforms, target.packages) == ("3.10", ("manylinux2014_aarch64",), {"numpy": "1.26.4"})
    assert target.missing(["numpy<2", "tinylib"]) == ["tinylib"]
    assert WheelTarget.from_device_info(pb.DeviceInfo(name="old")) is None


def test_an_index_url_that_is_not_http_is_refused_naming_it():
    with pytest.raises(ValueError, match="index URL 'ftp://mirror' is not an http\\(s\\) URL"):
        PythonPackagesSettings(index_url="ftp://mirror")
