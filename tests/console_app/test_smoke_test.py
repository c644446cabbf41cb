"""``sightline-console --demo --smoke-test OUT.png``: the whole demo path end to end, and a named failure."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication

from console_app.ui.smoke_test import run_smoke_test

REPO = Path(__file__).resolve().parents[2]
STEPS = ("start-site", "open-console", "discover", "pair", "discover-cameras", "register", "deploy",
         "live-wall", "screenshot", "enlarge-tile", "health", "events", "pages")
PAGE_SHOTS = ("enlarged", "health", "events", "devices", "cameras", "models", "applications", "live", "settings")


def small_screen(folder: Path, width: int = 1024, height: int = 768) -> str:
    """``QT_QPA_PLATFORM`` for Qt's offscreen platform with one ``width`` x ``height`` screen."""
    config = folder / f"screen-{width}x{height}.json"
    config.write_text(json.dumps({"screens": [{"name": "small", "x": 0, "y": 0, "width": width, "height": height,
                                               "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    return f"offscreen:configfile={config}"


def without_network(argv: list[str]) -> list[str]:
    """``argv`` run in a network namespace of its own whose only interface is loopback.

    As root a plain ``unshare --net``; otherwise inside a user namespace
    (``--map-root-user``), which most distributions allow unprivileged users.
    """
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    return ["unshare", *user, "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]


def test_demo_smoke_test_walks_the_whole_path_offline_and_saves_a_live_wall_screenshot(tmp_path: Path):
    """As a user runs it: a separate process, offscreen, with its own home so nothing real is touched,
    on a workstation with no network at all (only loopback): discovery, pairing, registration,
    deploy and the live wall need nothing from outside. The screen is a 1024x768 panel PC's: the
    smoke test fails if any page (Health, Events and an enlarged tile included) widens the window
    past it."""
    out = tmp_path / "shots" / "wall.png"
    home = tmp_path / "home"
    env = dict(os.environ, QT_QPA_PLATFORM=small_screen(tmp_path), HOME=str(home),
               XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
               XDG_CACHE_HOME=str(home / "cache"), PYTHONPATH=str(REPO))
    probe = subprocess.run(without_network(["true"]), capture_output=True, text=True, timeout=30)
    assert probe.returncode == 0, (
        "this test runs the demo in a network namespace with only loopback; creating one failed "
        f"(run as root, or allow unprivileged user namespaces): {probe.stderr.strip()}")
    argv = [sys.executable, "-m", "console_app", "--demo", "--smoke-test", str(out)]
    done = subprocess.run(without_network(argv), cwd=REPO, env=env, capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    reported = [line.split()[2] for line in done.stdout.splitlines() if line.startswith("smoke test: ")]
    assert tuple(reported) == STEPS, done.stdout
    assert "2 cameras" in done.stdout and "sightline-demo" in done.stdout

    image = cv2.imread(str(out))
    assert image is not None, f"{out} is not a readable image"
    assert image.shape[1] == 1024 and image.shape[0] <= 768
    assert float(image.std()) > 20, "the screenshot is blank"
    # The wall's two tiles show the production line: plenty of distinct colours, not a flat page.
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 2000

    for name in PAGE_SHOTS:
        shot = cv2.imread(str(out.with_name(f"wall-{name}.png")))
        assert shot is not None and shot.shape[1] <= 1024 and shot.shape[0] <= 768, name
    assert "smoke test: events ok" in done.stdout and "count_changed" not in done.stdout.split("events ok")[1]

    # The demo kept everything in its own temporary folder: the user's folders stay empty.
    touched = [str(p.relative_to(home)) for p in home.rglob("*") if "sightline" in p.name.lower()]
    assert touched == []


def flush_deletes() -> None:
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QCoreApplication.processEvents()


def test_demo_smoke_test_with_a_wrong_pairing_code_fails_at_the_pair_step(qapp, tmp_path: Path, capsys):
    """In-process: the code is the only thing changed, so the failure can only come from the device."""
    out = tmp_path / "never.png"
    flush_deletes()
    before = set(QApplication.topLevelWidgets())

    status = run_smoke_test(out, pairing_code="0000-0000", step_timeout_s=60)

    captured = capsys.readouterr()
    assert status == 1
    assert "smoke test failed at step pair: " in captured.err
    assert "pairing code is wrong" in captured.err
    assert "smoke test: discover ok" in captured.out and "smoke test: pair ok" not in captured.out
    assert not out.exists()
    flush_deletes()
    assert [type(w).__name__ for w in QApplication.topLevelWidgets() if w not in before] == []


def test_demo_smoke_test_steps_are_bounded_and_a_timeout_names_the_step(qapp, tmp_path: Path, capsys):
    """No step may wait forever: with no time allowed, the first step that must wait fails, by name.

    That is discover, unless the device's advert was already in when the
    window opened; then pair (whose pairing call cannot take no time).
    """
    status = run_smoke_test(tmp_path / "never.png", step_timeout_s=0.001)

    captured = capsys.readouterr()
    assert status == 1
    assert re.fullmatch(r"smoke test failed at step (discover|pair): timed out after 0 s waiting for "
                        r"(device demo-line3 .*|the Pair dialog to finish)\n", captured.err), captured.err
