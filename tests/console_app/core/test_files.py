"""Atomic writes of the console's files: a failure leaves the old file and no temporary file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from console_app.core.files import write_atomically, write_private_file


def test_write_private_file_replaces_atomically_and_leaves_nothing_behind_when_writing_fails(tmp_path: Path):
    folder = tmp_path / "secrets"
    folder.mkdir(mode=0o755)
    target = folder / "key"
    write_private_file(target, b"first")
    assert target.read_bytes() == b"first"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, "an existing folder is made private too"

    with pytest.raises(TypeError):
        write_private_file(target, "not bytes")  # type: ignore[arg-type]  # fails after the temp file exists
    assert target.read_bytes() == b"first"
    assert sorted(p.name for p in folder.iterdir()) == ["key"], "the temporary file must be removed"


def test_exclusive_write_refuses_an_existing_file_and_keeps_it(tmp_path: Path):
    target = tmp_path / "apps" / "gate" / "1.0.0.json"
    write_atomically(target, '{"v": 1}', exclusive=True)
    with pytest.raises(FileExistsError):
        write_atomically(target, '{"v": 2}', exclusive=True)
    assert target.read_text(encoding="utf-8") == '{"v": 1}'
    assert sorted(p.name for p in target.parent.iterdir()) == ["1.0.0.json"]


def test_text_is_written_as_utf8_and_replaces_the_old_content(tmp_path: Path):
    target = tmp_path / "settings.json"
    write_atomically(target, "first")
    write_atomically(target, "zweite Fassung: Größe")
    assert target.read_text(encoding="utf-8") == "zweite Fassung: Größe"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]
