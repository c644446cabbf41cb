"""The installed PySide6 keeps None and True alive through a live wall's worth of calls.

PySide6 6.12.0's wheels return None from void methods (``update``,
``setPen`` ...) and True from ``Signal.emit`` without a reference; on Python
3.11 a 16-tile wall then aborts within seconds ("Fatal Python error:
none_dealloc" / "bool_dealloc"). pyproject excludes that release; this
catches it (or a release like it) if it is installed again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

CALLS = textwrap.dedent("""
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtWidgets import QApplication, QWidget

    class Source(QObject):
        happened = Signal(str)

    app = QApplication([])
    source = Source()
    source.happened.connect(lambda text: None)
    widget = QWidget()
    image = QImage(64, 48, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    for _ in range(50_000):
        source.happened.emit("frame")
        widget.update()
        painter.setPen(QColor("#ffffff"))
    painter.end()
    print("survived", flush=True)
""")


def test_fifty_thousand_emits_and_void_qt_calls_leave_none_and_true_alive():
    done = subprocess.run([sys.executable, "-c", CALLS], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0 and "survived" in done.stdout, (
        f"PySide6 drops references (exit {done.returncode}): {done.stderr[-500:]}")
