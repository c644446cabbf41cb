"""Suite-wide: the ``slow`` marker, set on every test that starts a real server or process.

``pytest -m "not slow"`` then runs the fast part (pure logic, Qt widgets, files) in about a
minute; ``make test`` runs everything. A test is slow when it is marked ``integration``, or when
it or any fixture it uses (however deep) refers to something that starts a server: a peer from
``tests/peers`` (RTSP, TLS device, PostgreSQL, S3, Avahi, WS-Discovery responders, TCP relays),
a simulated ONVIF camera (``console_app.sim``), a device runtime, a zeroconf advert, or a
subprocess. Nothing needs
marking by hand, so a new test that starts a server is never run as a fast one by mistake.
"""

from __future__ import annotations

import types
from collections.abc import Iterator

import pytest

#: Where the things that start servers or processes are defined.
SERVER_MODULES = (
    "tests.peers.avahi",
    "tests.peers.line_safety_device",
    "tests.peers.moto_s3",
    "tests.peers.postgres",
    "tests.peers.rtsp_server",
    "tests.peers.tcp_relay",
    "tests.peers.tls_device",
    "tests.peers.wsd_responders",
    "console_app.sim",
    "console_app.demo",  # the demo site and the demo console start devices and cameras
    "console_app.ui.smoke_test",
    "device_runtime.runtime",
    "device_runtime.discovery",
    "zeroconf",
    "subprocess",
)
#: Helpers followed into (their own globals are checked too).
HELPER_MODULES = ("tests.", "benchmarks.")


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    """``code`` and every function defined inside it."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _starts_servers(function: object, seen: set[int] | None = None) -> bool:
    """Whether ``function`` names a global from :data:`SERVER_MODULES`, itself, in a function
    nested in it, or in a helper function it calls (``tests.*``, ``benchmarks.*``, to any depth)."""
    function = getattr(function, "__wrapped__", function)
    code = getattr(function, "__code__", None)
    namespace = getattr(function, "__globals__", None)
    seen = set() if seen is None else seen
    if code is None or namespace is None or id(code) in seen:
        return False
    seen.add(id(code))
    for nested in _codes(code):
        for name in nested.co_names:
            if name.startswith(SERVER_MODULES):  # imported inside the function: `from tests.peers.x import Y`
                return True
            value = namespace.get(name)
            if value is None:
                continue
            origin = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", "")
            if not isinstance(origin, str):
                continue
            if origin.startswith(SERVER_MODULES):
                return True
            if origin.startswith(HELPER_MODULES) and isinstance(value, types.FunctionType) \
                    and _starts_servers(value, seen):
                return True
    return False


def _is_slow(item: pytest.Item) -> bool:
    if item.get_closest_marker("integration") is not None:
        return True
    if _starts_servers(getattr(item, "function", None)):
        return True
    fixture_info = getattr(item, "_fixtureinfo", None)
    definitions = fixture_info.name2fixturedefs.values() if fixture_info is not None else ()
    return any(_starts_servers(d.func) for defs in definitions for d in defs)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)
    # Tests that need an NVIDIA GPU run only when asked for by name (-m gpu, as
    # scripts/gpu-check.sh does on a lent GPU machine); no CI machine has one.
    if "gpu" not in (config.getoption("markexpr") or ""):
        gpu = [item for item in items if item.get_closest_marker("gpu") is not None]
        if gpu:
            config.hook.pytest_deselected(items=gpu)
            items[:] = [item for item in items if item.get_closest_marker("gpu") is None]
