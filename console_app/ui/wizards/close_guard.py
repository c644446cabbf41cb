"""Asking before a dialog with unsaved work closes, and keeping that work as a draft.

:class:`CloseGuard` serves the app builder: its ``reject`` and ``closeEvent``
call :meth:`CloseGuard.may_close`, which says yes when nothing was entered
(or the question was answered) and otherwise opens the question, non-blocking:
*Keep draft* (written in the background, reopened by the next *New app…*),
*Discard* (and forget any earlier draft) or *Continue editing* (the default,
and what Esc on the question does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

from console_app.core.services.app_drafts import work_of
from console_app.ui.tasks import TaskRunner


class CloseGuard:
    """The closing rules of one dialog; ``close_now`` closes it without asking."""

    def __init__(self, dialog: QWidget, tasks: TaskRunner, snapshot: Callable[[], dict[str, Any]],
                 drafts: Any, key: str, close_now: Callable[[], None]):
        self._dialog, self._tasks, self._snapshot = dialog, tasks, snapshot
        self._drafts, self._key, self._close_now = drafts, key, close_now
        self._start = work_of(snapshot())
        self._closing = False
        self.question: QMessageBox | None = None
        self.draft_kept = False

    def has_work(self) -> bool:
        """Whether anything was entered since the dialog opened."""
        return work_of(self._snapshot()) != self._start

    def may_close(self) -> bool:
        """True: close now. False: the question is open (or raised again) and decides later."""
        if self._closing or not self.has_work():
            self._closing = True
            return True
        self.ask()
        return False

    def ask(self) -> QMessageBox:
        """Open (or raise) the question."""
        if self.question is not None:
            self.question.raise_()
            return self.question
        box = QMessageBox(QMessageBox.Icon.Question, "Close the app builder?",
                          "You have started this app. Keep it as a draft to finish later?", parent=self._dialog)
        box.setInformativeText("A kept draft reopens the next time you open the builder." if self._drafts is not None
                               else "Closing now throws away what you have entered.")
        if self._drafts is not None:
            box.addButton("&Keep draft", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("&Discard", QMessageBox.ButtonRole.DestructiveRole)
        stay = box.addButton("Continue &editing", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(stay)
        box.setEscapeButton(stay)
        box.finished.connect(lambda _result: self._answered(box))
        self.question = box
        box.open()
        return box

    def forget(self) -> None:
        """Remove any kept draft (after a save, or on *Discard*), in the background."""
        if self._drafts is not None:
            drafts, key = self._drafts, self._key
            self._tasks.run_in_background(lambda _ctx: drafts.discard(key), progress="Removing the app draft")

    def _answered(self, box: QMessageBox) -> None:
        self.question = None
        clicked = box.clickedButton()
        role = box.buttonRole(clicked) if clicked is not None else QMessageBox.ButtonRole.RejectRole
        box.deleteLater()
        if role == QMessageBox.ButtonRole.AcceptRole:
            drafts, key, draft = self._drafts, self._key, self._snapshot()
            self.draft_kept = True
            self._tasks.run_in_background(lambda _ctx: drafts.save(key, draft), progress="Keeping the app draft")
        elif role == QMessageBox.ButtonRole.DestructiveRole:
            self.forget()
        else:
            return  # continue editing
        self._closing = True
        self._close_now()
