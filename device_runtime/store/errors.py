"""Errors of the store: every one names the file, member, id or value at fault.

Each subclasses one of the roots in ``device_runtime.errors`` so the RPC
interceptor maps it to a status code without knowing this package.
"""

from __future__ import annotations

from device_runtime.errors import (
    DataLoss,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)


class MalformedDigest(InvalidArgument):
    """A declared sha256 is not 64 hex characters."""


class UploadTooLarge(ResourceExhausted):
    """The declared size is over the device's limit, or the disk cannot hold it."""


class DiskFull(ResourceExhausted):
    """The disk (or a file size limit) ran out while writing."""


class UploadSizeMismatch(DataLoss):
    """The bytes received do not add up to the declared size."""


class UploadTruncated(UploadSizeMismatch):
    """The stream ended before the declared size was reached."""


class UploadOverrun(UploadSizeMismatch):
    """The stream carried more bytes than it declared."""


class ChecksumMismatch(DataLoss):
    """The bytes received do not hash to the declared sha256."""


class UnsafePackage(InvalidArgument):
    """An archive member could write outside its folder or is not a plain file."""


class InvalidPackage(InvalidArgument):
    """The archive is not a readable package: not a tar, damaged, empty, bad id."""


class PackageTooLarge(ResourceExhausted):
    """The archive unpacks to too many members or too many bytes."""


class PackageConflict(FailedPrecondition):
    """The same app id and version is installed with different content."""


class NothingToRollBack(FailedPrecondition):
    """Rollback was asked for but no earlier version is installed."""


class AppNotFound(NotFound):
    """No installed app (or no such version of it) has this id."""


class ModelNotFound(NotFound):
    """No stored model has this name."""


class ModelInUse(FailedPrecondition):
    """A model cannot be removed while apps refer to it."""


class InvalidName(InvalidArgument):
    """An app id, version or model name cannot be used as a file name."""
