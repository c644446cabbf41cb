"""How a PackageStore repairs itself on open after a crash or damage on disk."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from device_runtime.store.packages import PackageStore
from tests.device_runtime.store.archives import read_app_json, tree_listing
from tests.device_runtime.store.crash import kill_mid_write

MakePackage = Callable[..., Path]


@pytest.fixture
def store(tmp_path: Path) -> PackageStore:
    return PackageStore(tmp_path / "root")


def install(store: PackageStore, archive: Path):
    return store.install(archive, read_app_json)


def test_open_empties_staging_left_by_an_interrupted_install(tmp_path: Path) -> None:
    staging = tmp_path / "root" / "staging" / "packages"
    (staging / "install-x1y2" / "package").mkdir(parents=True)
    (staging / "install-x1y2" / "package" / "app.json").write_text("{}")
    (staging / "package-abc.upload").write_bytes(b"half an upload")

    store = PackageStore(tmp_path / "root")

    assert tree_listing(store.staging_dir) == []
    assert store.warnings == []


def test_open_removes_a_version_folder_its_pointer_file_never_listed(
    store: PackageStore, make_package: MakePackage
) -> None:
    """The crash came after the rename into apps/ and before the pointer file was written."""
    install(store, make_package(version="1.0.0"))
    app_dir = store.root / "apps" / "line3"
    shutil.copytree(app_dir / "1.0.0", app_dir / "2.0.0")

    reopened = PackageStore(store.root)

    assert reopened.versions("line3") == ["1.0.0"]
    assert not (app_dir / "2.0.0").exists()


def test_open_removes_an_app_whose_first_install_never_finished(tmp_path: Path) -> None:
    version_dir = tmp_path / "root" / "apps" / "dock" / "0.1.0"
    version_dir.mkdir(parents=True)
    (version_dir / "app.json").write_text('{"id": "dock", "version": "0.1.0"}')

    store = PackageStore(tmp_path / "root")

    assert store.list_apps() == []
    assert not (tmp_path / "root" / "apps" / "dock").exists()


def test_open_moves_a_corrupt_pointer_file_aside_and_rebuilds_the_versions_from_folders(
    store: PackageStore, make_package: MakePackage
) -> None:
    first = install(store, make_package(version="1.0.0"))
    install(store, make_package(version="1.1.0"))
    store.activate("line3", "1.1.0")
    pointer = store.root / "apps" / "line3" / "_versions.json"
    pointer.write_bytes(b'{"format": 1, "active": "1.1.0", "vers')

    reopened = PackageStore(store.root)

    assert reopened.versions("line3") == ["1.0.0", "1.1.0"]
    assert reopened.active_version("line3") is None
    assert reopened.get("line3", "1.0.0").content_sha256 == first.content_sha256
    moved = list(pointer.parent.glob("_versions.json.corrupt-*"))
    assert len(moved) == 1
    assert moved[0].read_bytes() == b'{"format": 1, "active": "1.1.0", "vers'
    assert any("unreadable" in w and str(moved[0]) in w for w in reopened.warnings)
    assert any("rebuilt its version list" in w for w in reopened.warnings)
    # The rebuilt list knows the content, so re-sending the same package is still idempotent.
    assert install(reopened, make_package(version="1.0.0")).path == first.path


def test_open_drops_a_listed_version_whose_folder_is_gone(
    store: PackageStore, make_package: MakePackage
) -> None:
    install(store, make_package(version="1.0.0"))
    install(store, make_package(version="1.1.0"))
    store.activate("line3", "1.1.0")
    shutil.rmtree(store.root / "apps" / "line3" / "1.1.0")

    reopened = PackageStore(store.root)

    assert reopened.versions("line3") == ["1.0.0"]
    assert reopened.active_version("line3") is None
    assert reopened.warnings == [
        "app line3 version 1.1.0 is listed but its folder is gone",
        "app line3: active version 1.1.0 is not installed; none is active",
    ]
    assert PackageStore(store.root).warnings == []  # the repair was saved


def test_open_removes_pointer_temp_files_left_by_a_killed_write(
    store: PackageStore, make_package: MakePackage
) -> None:
    install(store, make_package())
    stale = store.root / "apps" / "line3" / "._versions.json.k3j2h1.tmp"
    stale.write_text('{"format": 1')

    reopened = PackageStore(store.root)

    assert not stale.exists()
    assert reopened.versions("line3") == ["1.0.0"]


CHILD_INSTALLS_FOREVER = """
import io, json, sys, tarfile
from pathlib import Path
from device_runtime.store.packages import PackageStore

root = Path(sys.argv[1])
store = PackageStore(root, keep_versions=3)

def identify(folder):
    manifest = json.loads((folder / "app.json").read_text())
    return manifest["id"], manifest["version"]

i = 0
while True:
    i += 1
    files = {
        "app.json": json.dumps({"id": "line3", "version": str(i)}).encode(),
        "weights.bin": bytes([i % 256]) * 2_000_000,
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive = root / "incoming.tar"
    archive.write_bytes(raw.getvalue())
    store.install(archive, identify)
    store.activate("line3", str(i))
    if i <= 3:
        print(i, flush=True)
"""


@pytest.mark.integration
def test_a_store_killed_in_the_middle_of_installing_reopens_consistent(tmp_path: Path) -> None:
    root = tmp_path / "root"
    staging = root / "staging" / "packages"

    kill_mid_write(
        CHILD_INSTALLS_FOREVER, [str(root)], lambda: staging.is_dir() and any(staging.iterdir())
    )
    store = PackageStore(root, keep_versions=3)

    assert store.warnings == []
    assert tree_listing(store.staging_dir) == []
    versions = store.versions("line3")
    assert 1 <= len(versions) <= 3
    active = store.active_version("line3")
    assert active in versions
    if active != "1":
        assert str(int(active) - 1) in versions, "the rollback target was pruned"
    on_disk = sorted(p.name for p in (root / "apps" / "line3").iterdir() if p.is_dir())
    assert on_disk == sorted(versions)
    for version in versions:
        folder = store.path("line3", version)
        assert read_app_json(folder) == ("line3", version)
        assert (folder / "weights.bin").read_bytes() == bytes([int(version) % 256]) * 2_000_000
