from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from device_runtime.errors import DataLoss, InvalidArgument, PermissionDenied, ResourceExhausted
from device_runtime.store.errors import (
    ChecksumMismatch,
    MalformedDigest,
    UploadOverrun,
    UploadTooLarge,
    UploadTruncated,
)
from device_runtime.store.uploads import format_size, receive_upload

MiB = 1024 * 1024
PAYLOAD = os.urandom(4 * MiB)
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


def chunked(data: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class CountingChunks:
    """A chunk stream that records how far the receiver read it."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.taken = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.taken += 1
            yield chunk


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    return tmp_path / "staging"


def test_receive_upload_writes_the_exact_bytes_into_the_staging_folder(staging: Path) -> None:
    path = receive_upload(len(PAYLOAD), PAYLOAD_SHA256, chunked(PAYLOAD), staging, 10 * MiB)

    assert path.parent == staging
    assert path.read_bytes() == PAYLOAD
    assert os.listdir(staging) == [path.name]


def test_receive_upload_accepts_an_uppercase_digest_and_bytearray_or_memoryview_chunks(
    staging: Path,
) -> None:
    chunks = [bytearray(PAYLOAD[: MiB]), memoryview(PAYLOAD[MiB:])]

    path = receive_upload(len(PAYLOAD), PAYLOAD_SHA256.upper(), chunks, staging, 10 * MiB)

    assert path.read_bytes() == PAYLOAD


def test_receive_upload_refuses_a_declared_size_over_the_limit_before_reading_any_chunk(
    staging: Path,
) -> None:
    chunks = CountingChunks([b"x"])

    with pytest.raises(UploadTooLarge) as caught:
        receive_upload(3_100_000_000, PAYLOAD_SHA256, chunks, staging, 2_000_000_000, label="package")

    assert str(caught.value) == (
        "package is 3.1 GB (3,100,000,000 bytes); this device accepts at most 2.0 GB "
        "(2,000,000,000 bytes)"
    )
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    assert chunks.taken == 0


def test_receive_upload_refuses_an_upload_larger_than_the_free_disk_space(staging: Path) -> None:
    staging.mkdir()
    too_big = shutil.disk_usage(staging).free + 10**9
    chunks = CountingChunks([b"x"])

    with pytest.raises(ResourceExhausted, match=r"only .* is free on the disk holding"):
        receive_upload(too_big, PAYLOAD_SHA256, chunks, staging, 10**18)

    assert chunks.taken == 0
    assert os.listdir(staging) == []


def test_receive_upload_stops_at_the_chunk_that_overruns_the_declared_size(staging: Path) -> None:
    chunks = CountingChunks([b"a" * 600, b"b" * 600, b"c" * 600])

    with pytest.raises(UploadOverrun) as caught:
        receive_upload(1000, PAYLOAD_SHA256, chunks, staging, 10 * MiB)

    assert str(caught.value) == (
        "upload overran its declared size: received at least 1,200 bytes, declared 1,000"
    )
    assert isinstance(caught.value, DataLoss)
    assert chunks.taken == 2
    assert os.listdir(staging) == []


def test_receive_upload_reports_a_truncated_stream_with_both_byte_counts(staging: Path) -> None:
    with pytest.raises(UploadTruncated) as caught:
        receive_upload(len(PAYLOAD), PAYLOAD_SHA256, chunked(PAYLOAD[:MiB]), staging, 10 * MiB)

    assert str(caught.value) == "upload truncated: received 1,048,576 of 4,194,304 bytes"
    assert caught.value.code == "DATA_LOSS"
    assert os.listdir(staging) == []


def test_receive_upload_reports_a_digest_mismatch_with_both_digests(staging: Path) -> None:
    damaged = bytearray(PAYLOAD)
    damaged[12345] ^= 0xFF
    actual = hashlib.sha256(damaged).hexdigest()

    with pytest.raises(ChecksumMismatch) as caught:
        receive_upload(len(PAYLOAD), PAYLOAD_SHA256, chunked(bytes(damaged)), staging, 10 * MiB)

    assert str(caught.value) == f"upload sha256 mismatch: expected {PAYLOAD_SHA256}, got {actual}"
    assert caught.value.code == "DATA_LOSS"
    assert os.listdir(staging) == []


@pytest.mark.parametrize(
    "digest",
    ["", "abc", "z" * 64, PAYLOAD_SHA256[:-1], PAYLOAD_SHA256 + "0", "sha256:" + PAYLOAD_SHA256],
)
def test_receive_upload_rejects_a_malformed_digest(staging: Path, digest: str) -> None:
    with pytest.raises(MalformedDigest, match="is not a SHA-256 digest: expected 64 hex"):
        receive_upload(len(PAYLOAD), digest, chunked(PAYLOAD), staging, 10 * MiB)

    assert not staging.exists() or os.listdir(staging) == []


@pytest.mark.parametrize("size", [0, -5])
def test_receive_upload_rejects_an_empty_or_negative_declared_size(staging: Path, size: int) -> None:
    with pytest.raises(InvalidArgument, match=f"declares {size} bytes; nothing to receive"):
        receive_upload(size, PAYLOAD_SHA256, iter(()), staging, 10 * MiB)


def test_receive_upload_deletes_the_temp_file_when_the_stream_itself_fails(staging: Path) -> None:
    """A client cancelling the RPC surfaces as an exception from the chunk iterator."""

    class Cancelled(Exception):
        pass

    def stream() -> Iterator[bytes]:
        yield PAYLOAD[:MiB]
        raise Cancelled("client went away")

    with pytest.raises(Cancelled):
        receive_upload(len(PAYLOAD), PAYLOAD_SHA256, stream(), staging, 10 * MiB)

    assert os.listdir(staging) == []


def test_receive_upload_calls_verify_with_the_checked_digest_and_honours_its_refusal(
    staging: Path,
) -> None:
    seen: list[str] = []

    def refuse(digest: str) -> None:
        seen.append(digest)
        raise PermissionDenied(f"package {digest[:12]} is not signed by a trusted key")

    with pytest.raises(PermissionDenied, match="not signed"):
        receive_upload(
            len(PAYLOAD), PAYLOAD_SHA256.upper(), chunked(PAYLOAD), staging, 10 * MiB, verify=refuse
        )

    assert seen == [PAYLOAD_SHA256]
    assert os.listdir(staging) == []


def test_receive_upload_does_not_call_verify_for_damaged_bytes(staging: Path) -> None:
    seen: list[str] = []

    with pytest.raises(UploadTruncated):
        receive_upload(
            len(PAYLOAD), PAYLOAD_SHA256, chunked(PAYLOAD[:10]), staging, 10 * MiB, verify=seen.append
        )

    assert seen == []


@pytest.mark.parametrize(
    ("size", "text"),
    [(999, "999 bytes"), (1000, "1.0 kB"), (1_048_576, "1.0 MB"), (3_100_000_000, "3.1 GB")],
)
def test_format_size_uses_decimal_units(size: int, text: str) -> None:
    assert format_size(size) == text
