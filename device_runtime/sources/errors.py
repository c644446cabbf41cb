"""Errors of the sources package (all built on ``device_runtime.errors``).

Messages never carry a camera password: they are built from redacted URLs.
"""

from __future__ import annotations

from device_runtime.errors import FailedPrecondition, InvalidArgument, SightlineError


class SourceError(SightlineError):
    """Base of every error raised by ``device_runtime.sources``."""


class InvalidSourceUrl(SourceError, InvalidArgument):
    """A camera/source URL that cannot be used: malformed, bad parameter, bad option."""


class UnsupportedScheme(InvalidSourceUrl):
    """A URL whose scheme no source handles; the message lists the ones that do."""


class SourceStateError(SourceError, FailedPrecondition):
    """A source used in a way its lifecycle forbids (started twice, for one)."""


class SourceOpenError(Exception):
    """Raised by a source's ``_open``/``_read`` to the reader loop (internal).

    ``permanent`` errors end the stream in FAILED (retrying cannot help:
    wrong credentials, a missing file); the others are retried with backoff
    while the stream shows RECONNECTING with ``reason``.
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class EndOfStream(Exception):
    """Raised by ``_read`` when a finite source (a file, loop off) has ended (internal)."""
