"""Build the right Source for a URL.

=================================  ===========================================
``rtsp://``, ``rtsps://``          :class:`~device_runtime.sources.rtsp.RtspSource`
``file:///x.mp4`` or a plain path  :class:`~device_runtime.sources.file.FileSource`
``test://pattern?...``             :class:`~device_runtime.sources.testpattern.TestPatternSource`
anything registered                ``register_scheme("sim", factory)``
=================================  ===========================================

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

from device_runtime.media.redact import redact_url
from device_runtime.sources.base import Source
from device_runtime.sources.errors import InvalidSourceUrl, UnsupportedScheme
from device_runtime.sources.file import FileSource
from device_runtime.sources.rtsp import RtspSource
from device_runtime.sources.testpattern import TestPatternSource

SourceFactory = Callable[..., Source]
"""``factory(url, stream_id, **options) -> Source`` (not started)."""

_PLUGIN_MODULES = {"sim": "device_runtime.sources.synthetic_line"}
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")

_lock = threading.Lock()
_factories: dict[str, SourceFactory] = {
    "rtsp": RtspSource,
    "rtsps": RtspSource,
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
