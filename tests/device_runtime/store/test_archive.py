from __future__ import annotations

import gzip
import os
import stat
import tarfile
from pathlib import Path

import pytest

from device_runtime.store.archive import ExtractLimits, extract_package, safe_member_path
from device_runtime.store.errors import InvalidPackage, PackageTooLarge, UnsafePackage
from tests.device_runtime.store.archives import member, tree_listing, write_archive


def test_extract_package_unpacks_nested_files_and_folders(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "p.tar.gz",
        {"./app.json": b"{}", "./models/labels.txt": b"a\nb\n", "./deep/er/x.bin": b"\0" * 10},
        extra=[member("./empty", tarfile.DIRTYPE, mode=0o755), member("./", tarfile.DIRTYPE)],
    )

    count = extract_package(archive, tmp_path / "out")

    assert count == 3
    assert tree_listing(tmp_path / "out") == [
        "app.json",
        "deep",
        "deep/er",
        "deep/er/x.bin",
        "empty",
        "models",
        "models/labels.txt",
    ]
    assert (tmp_path / "out" / "models" / "labels.txt").read_bytes() == b"a\nb\n"


def test_extract_package_reads_a_plain_uncompressed_tar(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "p.tar", {"app.json": b"{}"}, compress=False)

    assert extract_package(archive, tmp_path / "out") == 1
    assert (tmp_path / "out" / "app.json").read_bytes() == b"{}"


def test_extract_package_keeps_the_executable_bit_but_drops_setuid(tmp_path: Path) -> None:
    script = b"#!/bin/sh\necho hi\n"
    archive = write_archive(
        tmp_path / "p.tar.gz",
        {},
        extra=[member("run.sh", data=script, mode=0o4755), member("data.txt", data=b"x", mode=0o666)],
    )

    extract_package(archive, tmp_path / "out")

    assert stat.S_IMODE(os.stat(tmp_path / "out" / "run.sh").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tmp_path / "out" / "data.txt").st_mode) & 0o7133 == 0


def test_extract_package_refuses_more_members_than_the_limit(tmp_path: Path) -> None:
    files = {f"f{i}.txt": b"x" for i in range(6)}
    archive = write_archive(tmp_path / "p.tar.gz", files)

    with pytest.raises(PackageTooLarge, match=r"more than 5 members \(stopped at 'f5.txt'\)"):
        extract_package(archive, tmp_path / "out", ExtractLimits(max_members=5))


def test_extract_package_refuses_a_compression_bomb_by_its_unpacked_size(tmp_path: Path) -> None:
    """20 MB of zeros compress to about 20 kB: the limit is on unpacked bytes."""
    archive = write_archive(tmp_path / "p.tar.gz", {"app.json": b"{}", "zeros.bin": bytes(20_000_000)})
    assert archive.stat().st_size < 100_000

    with pytest.raises(PackageTooLarge) as caught:
        extract_package(archive, tmp_path / "out", ExtractLimits(max_unpacked_bytes=10_000_000))

    assert str(caught.value) == (
        "package member 'zeros.bin' (20.0 MB) brings the unpacked package to 20.0 MB; "
        "this device accepts at most 10.0 MB"
    )
    assert not (tmp_path / "out" / "zeros.bin").exists()


def test_extract_package_calls_a_truncated_archive_damaged(tmp_path: Path) -> None:
    whole = write_archive(tmp_path / "p.tar.gz", {"app.json": b"{}", "big.bin": os.urandom(200_000)})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole.read_bytes()[:100_000])

    with pytest.raises(InvalidPackage, match=r"package cut.tar.gz is damaged near member 'big.bin'"):
        extract_package(cut, tmp_path / "out")


def test_extract_package_rejects_a_file_that_is_not_an_archive(tmp_path: Path) -> None:
    not_tar = tmp_path / "model.onnx"
    not_tar.write_bytes(gzip.compress(b"this is not a tar file at all" * 40))

    with pytest.raises(InvalidPackage, match="package model.onnx is not a tar or tar.gz archive"):
        extract_package(not_tar, tmp_path / "out")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("app.json", "app.json"),
        ("./app.json", "app.json"),
        ("a//b/./c", "a/b/c"),
        ("./", None),
        (".", None),
    ],
)
def test_safe_member_path_normalizes_harmless_names(name: str, expected: str | None) -> None:
    result = safe_member_path(name)
    assert (result.as_posix() if result is not None else None) == expected


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/abs", "C:/x", "a\\b", "a\x00b", "a/.."])
def test_safe_member_path_refuses_names_that_could_escape(name: str) -> None:
    with pytest.raises(UnsafePackage, match=r"package member .* (has|uses)"):
        safe_member_path(name)


def test_extract_package_refuses_a_member_name_too_long_for_the_disk(tmp_path: Path) -> None:
    long_name = "models/" + "w" * 300 + ".bin"
    archive = write_archive(tmp_path / "p.tar.gz", {"app.json": b"{}", long_name: b"x"})

    with pytest.raises(InvalidPackage, match=r"package member 'models/w+\.bin' has a name too long"):
        extract_package(archive, tmp_path / "out")
