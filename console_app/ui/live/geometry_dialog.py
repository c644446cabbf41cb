"""GeometryDialog: redraw a running app's zones and counting lines on an enlarged tile's frame.

A thin host around :class:`~console_app.ui.widgets.zone_editor.ZoneEditor`:
the editor draws, :class:`~console_app.core.services.live_geometry.GeometryEdit`
decides (and refuses with a message the editor shows). Apply hands the edit
back to the tuning panel, which sends it like any other tuned change; Cancel
(or Escape with nothing being drawn) drops it.

Keys are the editor's: Enter or a double-click closes a zone (refused under
three points), Backspace removes the last point, Escape drops the drawing,
Delete removes the selected shape. Enter never applies the dialog (no default
button), so closing a zone cannot send it by accident; Alt+A applies.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.live_geometry import LINE, ZONE, GeometryEdit, GeometryError
from console_app.ui.widgets.zone_editor import ZoneEditor

HINT = ("Click points; Enter or double-click closes a zone; Backspace removes the last point; Escape drops it. "
        "Select a shape and press Delete to remove it. A shape drawn with an existing name replaces that shape's "
        "outline and keeps its classes and limits; an empty name adds a new one.")


class GeometryDialog(QDialog):
    """Edit ``edit`` (the app's zones and lines) over ``image``; on accept, ``edit`` holds the result."""

    def __init__(self, edit: GeometryEdit, image: QImage | None, title: str = "",
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.edit = edit
        self._refused = False
        self.setWindowTitle(title or f"Zones and lines on {edit.camera_id}")
        self.zone_mode = QRadioButton("&Zone (polygon)")
        self.line_mode = QRadioButton("Counting &line")
        self.zone_mode.setChecked(True)
        modes = QButtonGroup(self)
        modes.addButton(self.zone_mode)
        modes.addButton(self.line_mode)
        self.shape_name = QLineEdit()
        self.shape_name.setAccessibleName("Name of the shape to draw")
        self.shape_name.setPlaceholderText("name (empty: a new zone-1, line-1, …)")
        name_label = QLabel("&Name:")
        name_label.setBuddy(self.shape_name)
        self.editor = ZoneEditor()
        self.editor.set_image(image if image is not None else QImage())
        self.shape_list = QListWidget()
        self.shape_list.setAccessibleName("Zones and lines on this camera")
        self.shape_list.setMaximumWidth(220)
        self.remove_button = QPushButton("&Remove")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        hint = QLabel(HINT)
        hint.setWordWrap(True)
        self.apply_button = QPushButton("&Apply")
        self.cancel_button = QPushButton("Cancel")
        for button in (self.remove_button, self.apply_button, self.cancel_button):
            button.setAutoDefault(False)  # Enter belongs to the editor (closing a zone)
            button.setDefault(False)

        top = QHBoxLayout()
        for widget in (self.zone_mode, self.line_mode, name_label):
            top.addWidget(widget)
        top.addWidget(self.shape_name, 1)
        side = QVBoxLayout()
        side.addWidget(self.shape_list, 1)
        side.addWidget(self.remove_button)
        middle = QHBoxLayout()
        middle.addWidget(self.editor, 1)
        middle.addLayout(side)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(hint)
        layout.addLayout(middle, 1)
        layout.addLayout(buttons)

        self.zone_mode.toggled.connect(lambda on: self.editor.set_mode(ZONE if on else LINE))
        self.editor.zone_closed.connect(self._on_zone_closed)
        self.editor.line_drawn.connect(self._on_line_drawn)
        self.editor.remove_requested.connect(self._on_remove)
        self.editor.message_changed.connect(lambda _text: self._name_selected_shape())
        self.shape_list.currentRowChanged.connect(self._on_row)
        self.remove_button.clicked.connect(self._remove_current_row)
        self.apply_button.clicked.connect(self.apply)
        self.cancel_button.clicked.connect(self.reject)
        self._show_shapes()
        self.resize(900, 620)
        self.editor.setFocus()

    # ------------------------------------------------------------------ editor events

    def _on_zone_closed(self, points: list) -> None:
        self._edited(lambda: self.edit.draw_zone(points, self.shape_name.text()))

    def _on_line_drawn(self, a: tuple, b: tuple) -> None:
        self._edited(lambda: self.edit.draw_line(a, b, self.shape_name.text()))

    def _on_remove(self, kind: str, shown_index: int) -> None:
        self._edited(lambda: self.edit.remove(kind, shown_index))

    def _edited(self, change) -> None:
        try:
            outcome = change()
        except GeometryError as error:
            self._refused = True
            self.editor.show_message(str(error))
            return
        self._refused = False
        self.shape_name.clear()
        self.status.setText(outcome)
        self._show_shapes()

    def _name_selected_shape(self) -> None:
        # Selecting a shape offers its name, so the next drawing redraws it.
        if self.editor.selected is None:
            return
        kind, index = self.editor.selected
        names = [name for k, name in self.edit.shape_names() if k == kind]
        if 0 <= index < len(names):
            self.shape_name.setText(names[index])

    def _on_row(self, row: int) -> None:
        names = self.edit.shape_names()
        if 0 <= row < len(names):
            self.shape_name.setText(names[row][1])

    def _remove_current_row(self) -> None:
        row = self.shape_list.currentRow()
        names = self.edit.shape_names()
        if not 0 <= row < len(names):
            return
        kind = names[row][0]
        self._on_remove(kind, row if kind == ZONE else row - len(self.edit.shown_zones()))

    def _show_shapes(self) -> None:
        zones, lines = self.edit.editor_shapes()
        self.editor.set_shapes(zones, lines)
        self.shape_list.blockSignals(True)
        self.shape_list.clear()
        for kind, name in self.edit.shape_names():
            self.shape_list.addItem(f"{kind}: {name}")
        self.shape_list.blockSignals(False)

    # ------------------------------------------------------------------ closing

    def apply(self) -> bool:
        """Accept, closing a zone still being drawn first; refused (dialog stays open) when that fails."""
        if self.editor.pending:
            if self.editor.mode == ZONE:
                self._refused = False
                # close_zone emits zone_closed at once, so _edited has ruled when it returns.
                if not self.editor.close_zone() or self._refused:
                    return False  # the editor shows why (fewer than three points, crossing edges, a bad name)
            else:
                self.editor.show_message("a counting line needs its end: click it, or press Escape to drop it")
                return False
        self.accept()
        return True

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt)
        # Enter that the editor did not use (nothing being drawn) must not reach QDialog's default handling.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            return
        super().keyPressEvent(event)
