"""Domain errors of the device runtime.

Every error a user can cause is one of these, with a message that names the
problem. Each class carries the gRPC status code it becomes at the API edge;
the one interceptor in ``device_runtime.rpc`` does that mapping, so no
servicer handles errors itself. Packages subclass these for their own errors
(``class ModelLoadError(InvalidArgument)``) rather than inventing new roots.
"""

from __future__ import annotations


class SightlineError(Exception):
    """Base class; ``code`` is the name of a ``grpc.StatusCode`` member."""

    code = "INTERNAL"


class InvalidArgument(SightlineError):
    """The request itself is wrong: bad manifest, corrupt model, malformed URL."""

    code = "INVALID_ARGUMENT"


class NotFound(SightlineError):
    """An app, model, camera or snapshot id that does not exist."""

    code = "NOT_FOUND"


class AlreadyExists(SightlineError):
    code = "ALREADY_EXISTS"


class FailedPrecondition(SightlineError):
    """The request is fine but the device's state forbids it (model in use, nothing to roll back to)."""

    code = "FAILED_PRECONDITION"


class ResourceExhausted(SightlineError):
    """Too large or too many: an oversized upload, a full disk."""

    code = "RESOURCE_EXHAUSTED"


class DataLoss(SightlineError):
    """Bytes arrived damaged: truncated upload, checksum mismatch."""

    code = "DATA_LOSS"


class Unauthenticated(SightlineError):
    code = "UNAUTHENTICATED"


class PermissionDenied(SightlineError):
    code = "PERMISSION_DENIED"


class Unavailable(SightlineError):
    """A dependency (camera, disk) cannot be reached right now; retrying may help."""

    code = "UNAVAILABLE"
