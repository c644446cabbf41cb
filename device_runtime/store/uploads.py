"""Receive an upload (package or model) as a stream of chunks, checked as it arrives.

The gRPC servicer reads the header (size, sha256) and hands the data chunks
here. Bytes go straight to a temp file while being hashed, so memory stays
flat whatever the size; anything wrong deletes the temp file before the error
leaves this function.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from device_runtime.errors import InvalidArgument
from device_runtime.store.atomic import disk_full_error, fsync_dir
from device_runtime.store.errors import (
    ChecksumMismatch,
    MalformedDigest,
    UploadOverrun,
    UploadTooLarge,
    UploadTruncated,
)

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def format_size(size: int) -> str:
    """Human-readable size in decimal units, as a user's file manager shows it: ``3.1 GB``."""
    if size < 1000:
        return f"{size} bytes"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        value /= 1000.0
        if value < 999.95 or unit == "PB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def check_sha256(value: object, what: str = "sha256") -> str:
    """Return ``value`` as a lowercase hex SHA-256 digest, or raise MalformedDigest."""
    if not isinstance(value, str):
        raise MalformedDigest(f"{what} must be a hex string, got {type(value).__name__}")
    normalized = value.strip().lower()
    if not _SHA256_HEX.fullmatch(normalized):
        raise MalformedDigest(
            f"{what} {value!r} is not a SHA-256 digest: expected 64 hex characters, "
            f"got {len(value)} characters"
        )
    return normalized


def receive_upload(
    declared_size: int,
    declared_sha256: str,
    chunks: Iterable[bytes],
    staging_dir: Path,
    max_size: int,
    *,
    label: str = "upload",
    verify: Callable[[str], None] | None = None,
) -> Path:
    """Stream ``chunks`` into a new file in ``staging_dir`` and return its path.

    Checks, in the order a client would want to hear about them:

    - ``declared_sha256`` is a 64-character hex digest (MalformedDigest);
    - ``declared_size`` is positive, at most ``max_size`` and fits on the disk
      (InvalidArgument / UploadTooLarge), all before reading a single chunk;
    - the stream never carries more than ``declared_size`` bytes (UploadOverrun,
      raised at the chunk that overruns, so a runaway client is cut off early);
    - it carries exactly ``declared_size`` bytes (UploadTruncated);
    - the bytes hash to ``declared_sha256`` (ChecksumMismatch).

    ``label`` names the thing in messages (``"package"``, ``"model"``).
    ``verify`` is the hook for package signatures: it is called with the
    verified lowercase hex digest once everything above has passed, and may
    raise (e.g. ``PermissionDenied``) to reject the upload.

    The returned file is fsynced and belongs to the caller, who moves or
    deletes it. On any failure, including an exception raised by the chunk
    iterator itself (a cancelled RPC), the temp file is deleted.
    """
    expected_sha256 = check_sha256(declared_sha256, f"{label} sha256")
    if isinstance(declared_size, bool) or not isinstance(declared_size, int):
        raise InvalidArgument(f"{label} size must be an integer, got {declared_size!r}")
    if declared_size <= 0:
        raise InvalidArgument(f"{label} declares {declared_size} bytes; nothing to receive")
    if declared_size > max_size:
        raise UploadTooLarge(
            f"{label} is {format_size(declared_size)} ({declared_size:,} bytes); this device "
            f"accepts at most {format_size(max_size)} ({max_size:,} bytes)"
        )
    staging_dir = Path(staging_dir)
    staging_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(staging_dir).free
    if declared_size > free:
        raise UploadTooLarge(
            f"{label} is {format_size(declared_size)} ({declared_size:,} bytes) but only "
            f"{format_size(free)} is free on the disk holding {staging_dir}"
        )

    fd, temp_name = tempfile.mkstemp(prefix=f"{label}-", suffix=".upload", dir=staging_dir)
    temp_path = Path(temp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                if isinstance(chunk, memoryview):
                    size = chunk.nbytes
                elif isinstance(chunk, (bytes, bytearray)):
                    size = len(chunk)
                else:
                    raise TypeError(f"upload chunks must be bytes, got {type(chunk).__name__}")
                if received + size > declared_size:
                    raise UploadOverrun(
                        f"{label} overran its declared size: received at least "
                        f"{received + size:,} bytes, declared {declared_size:,}"
                    )
                out.write(chunk)
                digest.update(chunk)
                received += size
            if received < declared_size:
                raise UploadTruncated(
                    f"{label} truncated: received {received:,} of {declared_size:,} bytes"
                )
            out.flush()
            os.fsync(out.fileno())
        actual_sha256 = digest.hexdigest()
        if actual_sha256 != expected_sha256:
            raise ChecksumMismatch(
                f"{label} sha256 mismatch: expected {expected_sha256}, got {actual_sha256}"
            )
        if verify is not None:
            verify(actual_sha256)
        fsync_dir(staging_dir)
        return temp_path
    except BaseException as exc:
        temp_path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            full = disk_full_error(exc, f"{label} to {staging_dir}")
            if full is not None:
                raise full from exc
        raise
