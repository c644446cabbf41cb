"""Fixtures for the store tests; the archive builders live in archives.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.device_runtime.store.archives import app_files, write_archive


@pytest.fixture
def make_package(tmp_path: Path) -> Callable[..., Path]:
    """Build a real .tar.gz holding app.json (id, version) plus ``files``; returns its path."""
    folder = tmp_path / "archives"
    folder.mkdir()
    counter = iter(range(1_000_000))

    def build(
        app_id: str = "line3",
        version: str = "1.0.0",
        files: dict[str, bytes] | None = None,
        **options,
    ) -> Path:
        contents = app_files(app_id, version)
        contents.update(files or {})
        target = folder / f"package-{next(counter)}.tar.gz"
        return write_archive(target, contents, **options)

    return build
