from __future__ import annotations

import json
import re
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from device_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from device_runtime.store.archive import ExtractLimits
from device_runtime.store.errors import (
    AppNotFound,
    InvalidName,
    InvalidPackage,
    NothingToRollBack,
    PackageConflict,
    PackageTooLarge,
    UnsafePackage,
)
from device_runtime.store.packages import PackageStore
from tests.device_runtime.store.archives import (
    app_files,
    member,
    read_app_json,
    tree_listing,
    write_archive,
)

MakePackage = Callable[..., Path]


@pytest.fixture
def store(tmp_path: Path) -> PackageStore:
    return PackageStore(tmp_path / "root")


def install(store: PackageStore, archive: Path, **kwargs):
    return store.install(archive, read_app_json, **kwargs)


# ---------------------------------------------------------------- hostile archives

HOSTILE = {
    "parent_dir": ([member("../evil", data=b"x")], UnsafePackage, "'../evil' has a '..' component"),
    "nested_parent_dir": (
        [member("models/../../evil", data=b"x")],
        UnsafePackage,
        "'models/../../evil' has a '..' component",
    ),
    "absolute_path": (
        [member("/etc/passwd", data=b"root::0:0::/:/bin/sh\n")],
        UnsafePackage,
        "'/etc/passwd' has an absolute path",
    ),
    "symlink_to_etc": (
        [member("config", tarfile.SYMTYPE, linkname="/etc"), member("config/passwd", data=b"x")],
        UnsafePackage,
        "'config' is a symbolic link (to '/etc')",
    ),
    "hard_link": (
        [member("shadow", tarfile.LNKTYPE, linkname="/etc/shadow")],
        UnsafePackage,
        "'shadow' is a hard link (to '/etc/shadow')",
    ),
    "fifo": ([member("pipe", tarfile.FIFOTYPE)], UnsafePackage, "'pipe' is a named pipe (fifo)"),
    "char_device": (
        [member("null", tarfile.CHRTYPE, devmajor=1, devminor=3)],
        UnsafePackage,
        "'null' is a device file",
    ),
    "block_device": (
        [member("sda", tarfile.BLKTYPE, devmajor=8, devminor=0)],
        UnsafePackage,
        "'sda' is a device file",
    ),
    "nul_in_name": (
        # Plain headers cut names at NUL; a PAX path record carries it through.
        [member("ok", data=b"x", pax_headers={"path": "app\x00.json"})],
        UnsafePackage,
        "'app\\x00.json' has a NUL character",
    ),
    "backslash": ([member("..\\evil", data=b"x")], UnsafePackage, "uses '\\' in its name"),
    "huge_declared_member": (
        # Header only: it claims a terabyte, and no data follows.
        [member("weights.bin", size=10**12)],
        PackageTooLarge,
        "'weights.bin' (1.0 TB) brings the unpacked package to 1.0 TB",
    ),
    "duplicate_member": (
        [member("app.json", data=b"{}")],
        UnsafePackage,
        "lists 'app.json' more than once",
    ),
    "file_used_as_folder": (
        [member("app.json/inner", data=b"x")],
        UnsafePackage,
        "'app.json/inner' is inside 'app.json', which the package also lists as a file",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_install_rejects_a_hostile_archive_naming_the_member_and_leaves_nothing(
    tmp_path: Path, store: PackageStore, case: str
) -> None:
    extra, error, message = HOSTILE[case]
    archive = write_archive(tmp_path / f"{case}.tar.gz", app_files(), extra)

    with pytest.raises(error, match=re.escape(message)):
        install(store, archive)

    assert store.list_apps() == []
    assert tree_listing(store.root / "apps") == []
    assert tree_listing(store.staging_dir) == []
    assert not (tmp_path / "evil").exists()


def test_install_rejects_more_members_than_the_store_allows(tmp_path: Path) -> None:
    store = PackageStore(tmp_path / "root", limits=ExtractLimits(max_members=3))
    files = {**app_files(), "a": b"1", "b": b"2", "c": b"3"}
    archive = write_archive(tmp_path / "many.tar.gz", files)

    with pytest.raises(PackageTooLarge, match=r"more than 3 members \(stopped at 'c'\)"):
        install(store, archive)
    assert tree_listing(store.root / "apps") == []


@pytest.mark.parametrize(
    "extra",
    [[], [member("models", tarfile.DIRTYPE), member("./", tarfile.DIRTYPE)]],
    ids=["empty_archive", "folders_only"],
)
def test_install_rejects_a_package_with_no_files(tmp_path: Path, store: PackageStore, extra) -> None:
    archive = write_archive(tmp_path / "empty.tar.gz", {}, extra)

    with pytest.raises(InvalidPackage, match="package empty.tar.gz contains no files"):
        install(store, archive)
    assert tree_listing(store.root / "apps") == []


# ---------------------------------------------------------------- install and versions


def test_install_unpacks_into_apps_app_id_version_without_activating(
    store: PackageStore, make_package: MakePackage
) -> None:
    archive = make_package("line3", "1.0.0", {"models/labels.txt": b"person\n"})

    package = install(store, archive)

    assert package.app_id == "line3"
    assert package.version == "1.0.0"
    assert package.path == store.root / "apps" / "line3" / "1.0.0"
    assert (package.path / "models" / "labels.txt").read_bytes() == b"person\n"
    assert len(package.sha256) == 64 and len(package.content_sha256) == 64
    assert store.list_apps() == ["line3"]
    assert store.versions("line3") == ["1.0.0"]
    assert store.active_version("line3") is None
    assert tree_listing(store.staging_dir) == []


def test_install_uses_the_callers_archive_digest_when_given(
    store: PackageStore, make_package: MakePackage
) -> None:
    package = install(store, make_package(), sha256="AB" * 32)
    assert package.sha256 == "ab" * 32


def test_activate_switches_versions_and_returns_the_previous_one(
    store: PackageStore, make_package: MakePackage
) -> None:
    install(store, make_package(version="1.0.0"))
    install(store, make_package(version="1.1.0"))

    assert store.activate("line3", "1.0.0") is None
    assert store.activate("line3", "1.1.0") == "1.0.0"
    assert store.active_version("line3") == "1.1.0"
    assert store.path("line3") == store.root / "apps" / "line3" / "1.1.0"
    assert read_app_json(store.path("line3", "1.0.0")) == ("line3", "1.0.0")


def test_installing_a_new_version_leaves_the_active_one_running(
    store: PackageStore, make_package: MakePackage
) -> None:
    install(store, make_package(version="1.0.0"))
    store.activate("line3", "1.0.0")

    install(store, make_package(version="2.0.0"))

    assert store.active_version("line3") == "1.0.0"


def test_a_package_that_fails_validation_leaves_the_running_version_untouched(
    store: PackageStore, make_package: MakePackage
) -> None:
    install(store, make_package(version="1.0.0"))
    store.activate("line3", "1.0.0")
    before = tree_listing(store.root)

    def reject(folder: Path) -> None:
        raise InvalidArgument(f"{folder.name}/app.json: field 'model' is required")

    with pytest.raises(InvalidArgument, match="field 'model' is required"):
        install(store, make_package(version="2.0.0"), validate=reject)

    assert store.versions("line3") == ["1.0.0"]
    assert store.active_version("line3") == "1.0.0"
    assert tree_listing(store.root) == before


@pytest.mark.parametrize(
    ("app_id", "version", "field"),
    [("../etc", "1.0", "app id"), ("line 3", "1.0", "app id"), ("line3", "../1", "version")],
)
def test_install_refuses_ids_that_cannot_be_folder_names(
    store: PackageStore, make_package: MakePackage, app_id: str, version: str, field: str
) -> None:
    with pytest.raises(InvalidName, match=f"{field} '.*' is not allowed"):
        install(store, make_package(app_id, version))
    assert tree_listing(store.root / "apps") == []


def test_install_propagates_an_identify_failure_and_cleans_staging(
    store: PackageStore, tmp_path: Path
) -> None:
    archive = write_archive(tmp_path / "no-manifest.tar.gz", {"readme.txt": b"hi"})

    with pytest.raises(FileNotFoundError, match="app.json"):
        install(store, archive)
    assert tree_listing(store.staging_dir) == []


def test_reinstalling_identical_content_is_idempotent_even_if_repacked(
    store: PackageStore, tmp_path: Path
) -> None:
    files = {**app_files(), "a.txt": b"alpha", "b.txt": b"beta"}
    first = install(store, write_archive(tmp_path / "1.tar.gz", files, gzip_mtime=1))
    reordered = dict(reversed(list(files.items())))
    second = install(store, write_archive(tmp_path / "2.tar.gz", reordered, gzip_mtime=2))

    assert second == first
    assert store.versions("line3") == ["1.0.0"]


def test_reinstalling_a_version_with_different_content_is_refused(
    store: PackageStore, make_package: MakePackage
) -> None:
    original = install(store, make_package(files={"rules.json": b"[1]"}))

    with pytest.raises(PackageConflict) as caught:
        install(store, make_package(files={"rules.json": b"[2]"}))

    assert str(caught.value) == (
        "app line3 version 1.0.0 is already installed with different content; "
        "give the package a new version"
    )
    assert isinstance(caught.value, FailedPrecondition)
    assert (original.path / "rules.json").read_bytes() == b"[1]"


def test_versions_are_kept_in_install_order_not_version_order(
    store: PackageStore, make_package: MakePackage
) -> None:
    for version in ("2.0.0", "1.5.0", "10.0.0"):
        install(store, make_package(version=version))

    assert store.versions("line3") == ["2.0.0", "1.5.0", "10.0.0"]


def test_rollback_goes_to_the_version_installed_before_the_active_one(
    store: PackageStore, make_package: MakePackage
) -> None:
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        install(store, make_package(version=version))
    store.activate("line3", "1.2.0")

    assert store.rollback("line3") == "1.1.0"
    assert store.active_version("line3") == "1.1.0"
    assert store.rollback("line3") == "1.0.0"
    with pytest.raises(NothingToRollBack, match="app 'line3' has no earlier version to roll back to"):
        store.rollback("line3")
    assert store.rollback("line3", to_version="1.2.0") == "1.2.0"


def test_rollback_without_an_active_version_is_refused(
    store: PackageStore, make_package: MakePackage
) -> None:
    install(store, make_package())

    with pytest.raises(NothingToRollBack, match="has no active version to roll back from"):
        store.rollback("line3")


def test_unknown_apps_and_versions_are_not_found_with_the_id_named(
    store: PackageStore, make_package: MakePackage
) -> None:
    install(store, make_package(version="1.0.0"))

    with pytest.raises(AppNotFound, match="app 'nope' is not installed"):
        store.versions("nope")
    with pytest.raises(NotFound, match=r"app 'line3' has no version '9.9' installed; installed: 1.0.0"):
        store.activate("line3", "9.9")
    with pytest.raises(NotFound, match="has no version '9.9'"):
        store.rollback("line3", to_version="9.9")
    with pytest.raises(FailedPrecondition, match="app 'line3' has no active version"):
        store.path("line3")
    with pytest.raises(AppNotFound, match="app 'ghost' is not installed"):
        store.remove("ghost")


def test_remove_deletes_every_version_of_the_app(
    store: PackageStore, make_package: MakePackage
) -> None:
    install(store, make_package("line3", "1.0.0"))
    install(store, make_package("line3", "1.1.0"))
    install(store, make_package("dock", "0.1.0"))
    store.activate("line3", "1.1.0")

    store.remove("line3")

    assert store.list_apps() == ["dock"]
    assert not (store.root / "apps" / "line3").exists()
    assert tree_listing(store.staging_dir) == []
    assert PackageStore(store.root).list_apps() == ["dock"]


def test_versions_and_the_active_one_survive_reopening(
    store: PackageStore, make_package: MakePackage
) -> None:
    for version in ("3.0.0", "1.0.0", "2.0.0"):
        install(store, make_package(version=version))
    store.activate("line3", "1.0.0")

    reopened = PackageStore(store.root)

    assert reopened.versions("line3") == ["3.0.0", "1.0.0", "2.0.0"]
    assert reopened.active_version("line3") == "1.0.0"
    assert reopened.get("line3", "3.0.0") == store.get("line3", "3.0.0")
    assert reopened.warnings == []


def test_pruning_keeps_the_active_version_and_the_one_before_it(
    tmp_path: Path, make_package: MakePackage
) -> None:
    store = PackageStore(tmp_path / "root", keep_versions=3)
    for version in ("1", "2"):
        install(store, make_package(version=version))
    store.activate("line3", "2")  # "1" is now the rollback target

    for version in ("3", "4", "5"):
        install(store, make_package(version=version))

    assert store.versions("line3") == ["1", "2", "5"]
    assert sorted(p.name for p in (store.root / "apps" / "line3").iterdir() if p.is_dir()) == [
        "1",
        "2",
        "5",
    ]

    store.activate("line3", "5")
    install(store, make_package(version="6"))

    assert store.versions("line3") == ["2", "5", "6"]
    assert not (store.root / "apps" / "line3" / "1").exists()
    assert store.rollback("line3") == "2"


def test_keep_versions_must_be_at_least_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep_versions must be at least 1, got 0"):
        PackageStore(tmp_path / "root", keep_versions=0)


def test_concurrent_installs_of_one_app_all_land(tmp_path: Path, make_package: MakePackage) -> None:
    store = PackageStore(tmp_path / "root", keep_versions=10)
    archives = [make_package(version=f"1.{i}.0") for i in range(6)]
    errors: list[BaseException] = []

    def run(archive: Path) -> None:
        try:
            install(store, archive)
        except BaseException as exc:  # reported below with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(a,)) for a in archives]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "an install thread hung"

    assert errors == []
    assert sorted(store.versions("line3")) == [f"1.{i}.0" for i in range(6)]
    on_disk = json.loads((store.root / "apps" / "line3" / "_versions.json").read_text())
    assert [v["version"] for v in on_disk["versions"]] == store.versions("line3")
