from __future__ import annotations

import hashlib
import os
from pathlib import Path

from device_runtime.store.digests import file_sha256, tree_sha256


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_file_sha256_matches_hashlib_across_read_chunks(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "f").write_bytes(data)

    assert file_sha256(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def test_tree_sha256_ignores_creation_order_and_empty_folders(tmp_path: Path) -> None:
    one = make_tree(tmp_path / "one", {"a.txt": b"1", "m/b.bin": b"2"})
    two = make_tree(tmp_path / "two", {"m/b.bin": b"2", "a.txt": b"1"})
    (two / "empty").mkdir()

    assert tree_sha256(one) == tree_sha256(two)


def test_tree_sha256_changes_with_content_names_and_the_executable_bit(tmp_path: Path) -> None:
    base = {"a.txt": b"1", "m/b.bin": b"2"}
    reference = tree_sha256(make_tree(tmp_path / "ref", base))
    content = make_tree(tmp_path / "content", {**base, "a.txt": b"9"})
    renamed = make_tree(tmp_path / "renamed", {"a2.txt": b"1", "m/b.bin": b"2"})
    moved = make_tree(tmp_path / "moved", {"a.txt": b"1", "n/b.bin": b"2"})
    executable = make_tree(tmp_path / "exec", base)
    os.chmod(executable / "a.txt", 0o755)

    digests = {tree_sha256(p) for p in (content, renamed, moved, executable)}

    assert reference not in digests
    assert len(digests) == 4
