"""Kill a child process with SIGKILL in the middle of a write: a real crash, not a simulated one.

SIGKILL cannot be caught, so the child gets no chance to clean up, exactly as
when the device loses power; what it cannot test is data still in the page
cache being lost (only a real power cut does that), which the fsyncs cover.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def kill_mid_write(
    script: str,
    args: Sequence[str],
    in_the_act: Callable[[], bool],
    *,
    warmup_lines: int = 3,
    attempts: int = 5,
    timeout_s: float = 20.0,
) -> int:
    """Run ``script`` in a child Python and SIGKILL it the moment ``in_the_act()`` is true.

    The child must print a line after each of its first ``warmup_lines``
    operations (and no more, so its pipe never fills). The kill only counts if
    ``in_the_act()`` is still true once the child is dead (the kill landed
    mid-write and left its traces); otherwise a new child is started, up to
    ``attempts`` times. Returns the attempt that counted.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for attempt in range(1, attempts + 1):
        child = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            for _ in range(warmup_lines):
                if not child.stdout.readline():
                    child.wait(timeout=10)
                    raise AssertionError(f"child exited early:\n{child.stderr.read()}")
            deadline = time.monotonic() + timeout_s
            # No event tells another process that a write has begun, so poll
            # the file system; the bounded deadline keeps a hang visible.
            while not in_the_act():
                if child.poll() is not None:
                    raise AssertionError(f"child exited early:\n{child.stderr.read()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"never caught the child mid-write in {timeout_s} s")
                time.sleep(0.0002)
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        finally:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
                child.wait(timeout=10)
            child.stdout.close()
            child.stderr.close()
        assert child.returncode == -signal.SIGKILL, f"child ended with {child.returncode}"
        if in_the_act():
            return attempt
    raise AssertionError(f"in {attempts} attempts no kill landed in the middle of a write")
