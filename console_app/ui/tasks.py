"""Background operations with success/failure callbacks (the shape Anki uses).

Every network or disk call the UI makes goes through
:meth:`TaskRunner.run_in_background`: the work runs in the console's
worker pool (:mod:`console_app.core.workers`), its result or exception
comes back on the GUI thread, a busy indicator with the task's label
shows in the status bar meanwhile, and a Cancel button appears for tasks that can be cancelled. Failures without a
handler of their own are shown in a message box with the error's text;
core code keeps secrets out of exception messages, and this module never
adds anything else to them.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QWidget,
)

from console_app.core.workers import WorkerPool
from console_app.ui.bridge import receiver_alive

log = logging.getLogger(__name__)


class TaskCancelled(Exception):
    """Raised inside a task by :meth:`TaskContext.raise_if_cancelled`."""


class TaskContext:
    """Handed to the work function: report progress, notice cancellation."""

    def __init__(self, task: BackgroundTask):
        self._task = task
        self.cancelled = threading.Event()

    def report(self, fraction: float | None = None, text: str = "") -> None:
        """Progress from the worker thread: ``fraction`` 0..1 or ``None`` for busy."""
        try:
            self._task.progressed.emit(fraction, text)
        except RuntimeError:
            pass  # the task object is gone (window closed); nothing to show

    def raise_if_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise TaskCancelled()


class BackgroundTask(QObject):
    """One running operation. ``finished`` fires on the GUI thread when it ends, whatever the outcome."""

    progressed = Signal(object, str)
    finished = Signal()
    _completed = Signal(object)

    def __init__(self, label: str, cancellable: bool, parent: QObject | None = None):
        super().__init__(parent)
        self.label = label
        self.cancellable = cancellable
        self.context = TaskContext(self)
        self.future: concurrent.futures.Future | None = None
        self.done = False

    def cancel(self) -> None:
        """Ask the task to stop; its success callback will not run."""
        self.context.cancelled.set()
        if self.future is not None:
            self.future.cancel()


class TaskRunner(QObject):
    """Runs work off the GUI thread and reports back on it.

    ``parent_widget`` parents the error dialogs. ``task_started`` /
    ``task_finished`` drive the status bar indicator.
    """

    task_started = Signal(object)
    task_finished = Signal(object)

    def __init__(self, workers: WorkerPool, parent_widget: QWidget | None = None):
        super().__init__(parent_widget)
        self._workers = workers
        self.parent_widget = parent_widget
        self.running: list[BackgroundTask] = []
        self.last_error_box: QMessageBox | None = None

    def run_in_background(
        self,
        fn: Callable[[TaskContext], Any],
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        progress: str | None = None,
        cancellable: bool = False,
    ) -> BackgroundTask:
        """Run ``fn(context)`` in the background.

        ``on_success(result)`` / ``on_failure(exception)`` run on the GUI
        thread; without ``on_failure`` the error is shown in a message box.
        ``progress`` is the text shown in the status bar while it runs
        (``None``: run silently). ``cancellable`` shows a Cancel button.
        """
        task = BackgroundTask(progress or "", cancellable, self)
        task._completed.connect(lambda future: self._complete(task, future, on_success, on_failure))
        self.running.append(task)
        self.task_started.emit(task)

        def work() -> Any:
            task.context.raise_if_cancelled()
            return fn(task.context)

        task.future = self._workers.run_blocking(work)

        def done(future: concurrent.futures.Future) -> None:
            try:
                task._completed.emit(future)  # queued to the GUI thread
            except RuntimeError:
                pass  # runner deleted (window closed): nobody to report to

        task.future.add_done_callback(done)
        return task

    def _complete(self, task: BackgroundTask, future: concurrent.futures.Future,
                  on_success: Callable[[Any], None] | None,
                  on_failure: Callable[[BaseException], None] | None) -> None:
        if task.done:
            return
        task.done = True
        if task in self.running:
            self.running.remove(task)
        try:
            if future.cancelled() or task.context.cancelled.is_set():
                return
            error = future.exception()
            if error is not None:
                if isinstance(error, TaskCancelled):
                    return
                if on_failure is not None:
                    if receiver_alive(on_failure):
                        on_failure(error)
                else:
                    self.show_error(task.label or "Operation failed", error)
            elif on_success is not None and receiver_alive(on_success):
                on_success(future.result())
        finally:
            task.finished.emit()
            self.task_finished.emit(task)
            task.deleteLater()

    def show_error(self, title: str, error: BaseException | str) -> QMessageBox:
        """A non-blocking message box with the error's own text."""
        text = str(error) or type(error).__name__
        box = QMessageBox(QMessageBox.Icon.Warning, "Sightline", f"{title.rstrip('.…')} failed",
                          QMessageBox.StandardButton.Ok, self.parent_widget)
        box.setInformativeText(text)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal but non-blocking: the GUI thread keeps running
        self.last_error_box = box
        return box

    def cancel_all(self) -> None:
        for task in list(self.running):
            task.cancel()


class TaskStatusWidget(QWidget):
    """Status bar indicator: the latest running task's label, a progress bar, Cancel."""

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._runner = runner
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(140)
        self.bar.setMaximumHeight(14)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel the running operation (Esc in its dialog)")
        self.cancel_button.clicked.connect(self._cancel_current)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        runner.task_started.connect(self._on_started)
        runner.task_finished.connect(self._refresh)
        self._refresh()

    def _visible_tasks(self) -> list[BackgroundTask]:
        return [t for t in self._runner.running if t.label]

    def _current(self) -> BackgroundTask | None:
        tasks = self._visible_tasks()
        return tasks[-1] if tasks else None

    def _refresh(self, *_: object) -> None:
        task = self._current()
        self.setVisible(task is not None)
        if task is None:
            return
        more = len(self._visible_tasks()) - 1
        self.label.setText(task.label + (f"  (+{more} more)" if more > 0 else ""))
        self.bar.setRange(0, 0)  # busy until the task reports a fraction
        self.cancel_button.setVisible(task.cancellable)

    def _on_started(self, task: BackgroundTask) -> None:
        task.progressed.connect(self._on_progress)
        self._refresh()

    def _on_progress(self, fraction: object, text: str) -> None:
        if isinstance(fraction, (int, float)):
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(max(0.0, min(1.0, float(fraction))) * 1000))
        if text:
            current = self._current()
            self.label.setText(f"{current.label}: {text}" if current else text)

    def _cancel_current(self) -> None:
        task = self._current()
        if task is not None and task.cancellable:
            task.cancel()
