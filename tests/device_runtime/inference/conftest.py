"""Shared fixtures for the inference tests."""

from __future__ import annotations

import pytest

from device_runtime.inference import SessionSettings


@pytest.fixture
def settings() -> SessionSettings:
    """Default provider preference (GPU first, so the real probe runs), one thread per
    session so sessions do not fight over the machine's two cores."""
    return SessionSettings(intra_op_threads=1)
