"""Build the right Source for a URL.

=================================  ===========================================
``rtsp://``, ``rtsps://``          :class:`~device_runtime.sources.rtsp.RtspSource` (OpenCV)
                                   or :class:`~device_runtime.sources.gstreamer.GstRtspSource`
``file:///x.mp4`` or a plain path  :class:`~device_runtime.sources.file.FileSource`
``test://pattern?...``             :class:`~device_runtime.sources.testpattern.TestPatternSource`
anything registered                ``register_scheme("sim", factory)``
=================================  ===========================================

An RTSP camera is read by OpenCV or GStreamer: ``backend="auto"`` (the
default) takes GStreamer where a hardware decoder element is present (the
CPU then decodes nothing) and OpenCV otherwise. A camera chooses for itself
with the ``backend`` option or the URL fragment, which never reaches the
camera: ``rtsp://cam/stream1#backend=gstreamer&decoder=software``.

Other packages add schemes with :func:`register_scheme`. A scheme listed in
``_PLUGIN_MODULES`` is imported on first use; the module registers itself
at import time (``device_runtime.sources.synthetic_line`` for ``sim://``).
"""

from __future__ import annotations

import importlib
import inspect
import re
import threading
from collections.abc import Callable
from urllib.parse import parse_qsl

from device_runtime.media.redact import get_logger, redact_url
from device_runtime.sources.base import Source
from device_runtime.sources.errors import InvalidSourceUrl, UnsupportedScheme
from device_runtime.sources.file import FileSource
from device_runtime.sources.gst_support import gstreamer_status, hardware_decoder_present
from device_runtime.sources.gstreamer import GstRtspSource
from device_runtime.sources.rtsp import RtspSource
from device_runtime.sources.testpattern import TestPatternSource

log = get_logger(__name__)

SourceFactory = Callable[..., Source]
"""``factory(url, stream_id, **options) -> Source`` (not started)."""

_PLUGIN_MODULES = {"sim": "device_runtime.sources.synthetic_line"}
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")

RTSP_BACKENDS = ("auto", "opencv", "gstreamer")
_FRAGMENT_OPTIONS = ("backend", "decoder")


def choose_rtsp_backend(backend: str = "auto", *, decoder: str = "") -> str:
    """ "opencv" or "gstreamer" for an RTSP camera that asked for ``backend``.

    "auto" takes GStreamer where it is usable and has a hardware decoder (or
    where a GStreamer ``decoder`` was asked for), OpenCV otherwise.
    """
    if backend not in RTSP_BACKENDS:
        raise InvalidSourceUrl(f"unknown RTSP backend {backend!r}; expected one of {', '.join(RTSP_BACKENDS)}")
    if backend != "auto":
        return backend
    if gstreamer_status().available and (decoder or hardware_decoder_present()):
        return "gstreamer"
    return "opencv"


def open_rtsp(url: str, stream_id: str, *, backend: str = "auto", **options: object) -> Source:
    """An RTSP source read by the backend ``backend`` (see :func:`choose_rtsp_backend`).

    Options in the URL fragment (``#backend=...&decoder=...``) are the
    camera's own choice and win over the arguments (a device-wide default);
    the fragment is removed before the URL is used.
    """
    url, _hash, fragment = url.partition("#")
    try:
        pairs = parse_qsl(fragment, keep_blank_values=True, strict_parsing=bool(fragment))
    except ValueError:
        raise InvalidSourceUrl(f"{redact_url(url)}: cannot read the URL fragment {fragment!r}") from None
    for name, value in pairs:
        if name not in _FRAGMENT_OPTIONS:
            raise InvalidSourceUrl(
                f"{redact_url(url)}: unknown option {name!r} in the URL fragment; expected"
                f" {' or '.join(_FRAGMENT_OPTIONS)}"
            )
        if name == "backend":
            backend = value
        else:
            options[name] = value
    chosen = choose_rtsp_backend(backend, decoder=str(options.get("decoder") or ""))
    if backend == "auto":
        status = gstreamer_status()
        why = (
            "a GStreamer decoder was asked for" if options.get("decoder")
            else "a hardware decoder is present" if chosen == "gstreamer"
            else "no hardware decoder element" if status.available
            else f"GStreamer unavailable: {status.reason}"
        )
        log.info("stream %s: %s reads %s (%s)", stream_id, chosen, redact_url(url), why)
    factory: SourceFactory = GstRtspSource if chosen == "gstreamer" else RtspSource
    _check_options(factory, options, f"{scheme_of(url)} ({chosen} backend)", stream_id)
    return factory(url, stream_id, **options)


_lock = threading.Lock()
_factories: dict[str, SourceFactory] = {
    "rtsp": open_rtsp,
    "rtsps": open_rtsp,
    "file": FileSource,
    "test": TestPatternSource,
}


def register_scheme(scheme: str, factory: SourceFactory) -> None:
    """Make ``open_source`` build ``factory(url, stream_id, **options)`` for ``scheme://`` URLs.

    Registering a scheme again replaces the factory (tests, plugins reloading).
    """
    scheme = scheme.lower().rstrip(":/")
    if not _SCHEME_RE.match(scheme + ":") or len(scheme) < 2:
        raise ValueError(f"not a URL scheme: {scheme!r} (letters, digits, + . -; at least 2)")
    with _lock:
        _factories[scheme] = factory


def unregister_scheme(scheme: str) -> None:
    """Forget a registered scheme (built-in ones come back only on restart)."""
    with _lock:
        _factories.pop(scheme.lower().rstrip(":/"), None)


def supported_schemes() -> list[str]:
    """Schemes ``open_source`` accepts now (sorted), plus those it can load on demand."""
    with _lock:
        return sorted(set(_factories) | set(_PLUGIN_MODULES))


def scheme_of(url: str) -> str:
    """The URL's scheme in lower case; "file" for a plain path (Windows drive letters too)."""
    match = _SCHEME_RE.match(url)
    if match is None or len(match.group(1)) == 1:  # "C:\\videos\\a.mp4" is a path
        return "file"
    return match.group(1).lower()


def open_source(url: str, stream_id: str, **options: object) -> Source:
    """Return a new, not yet started Source for ``url``.

    ``options`` go to the source's constructor (``open_timeout_s``,
    ``read_timeout_s`` for RTSP; ``loop``, ``realtime`` for files...); an
    option the source does not take is an :class:`InvalidSourceUrl`. Call
    ``start()`` (or use it as a context manager) after adding listeners and
    subscriptions.
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidSourceUrl(f"stream {stream_id!r}: the source URL is empty")
    url = url.strip()
    scheme = scheme_of(url)
    factory = _factory_for(scheme, url)
    _check_options(factory, options, scheme, stream_id)
    return factory(url, stream_id, **options)


def source_opener(*, rtsp_backend: str = "auto") -> Callable[..., Source]:
    """``open_source`` with a device-wide RTSP backend (a URL's ``#backend=`` still wins)."""
    choose_rtsp_backend(rtsp_backend)  # refuse an unknown backend now, not at the first camera

    def open_with_default(url: str, stream_id: str, **options: object) -> Source:
        if rtsp_backend != "auto" and scheme_of(url.strip()) in ("rtsp", "rtsps"):
            options.setdefault("backend", rtsp_backend)
        return open_source(url, stream_id, **options)

    return open_with_default


def _factory_for(scheme: str, url: str) -> SourceFactory:
    with _lock:
        factory = _factories.get(scheme)
    if factory is None and scheme in _PLUGIN_MODULES:
        try:
            importlib.import_module(_PLUGIN_MODULES[scheme])
        except ImportError as exc:
            raise UnsupportedScheme(
                f"{redact_url(url)}: scheme {scheme!r} needs {_PLUGIN_MODULES[scheme]}, which"
                f" cannot be imported ({exc})"
            ) from None
        with _lock:
            factory = _factories.get(scheme)
    if factory is None:
        raise UnsupportedScheme(
            f"{redact_url(url)}: unsupported scheme {scheme!r}; supported:"
            f" {', '.join(s + '://' for s in supported_schemes())} or a file path"
        )
    return factory


def _check_options(factory: SourceFactory, options: dict[str, object], scheme: str, stream_id: str) -> None:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return  # a builtin or C callable: let the call itself complain
    params = list(signature.parameters.values())
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    # The first two parameters receive the URL and the stream id.
    accepted = [p.name for p in params[2:] if p.kind in named]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InvalidSourceUrl(
            f"stream {stream_id!r}: option(s) {', '.join(unknown)} do not apply to {scheme}"
            f" sources; they take: {', '.join(accepted) or 'no options'}"
        )
