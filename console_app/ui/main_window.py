"""The console's main window: navigation, pages, menus, status bar, remembered geometry."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QSettings, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.appliances import DeviceEntry
from console_app.ui import icons, theme
from console_app.ui.context import ConsoleContext
from console_app.ui.icons import icon
from console_app.ui.pages import PAGE_TITLES, PAGES, build_page
from console_app.ui.tasks import TaskRunner, TaskStatusWidget

SETTINGS_ORG, SETTINGS_APP = "Sightline", "Console"
GEOMETRY_KEY, STATE_KEY, PAGE_KEY = "window/geometry", "window/state", "window/page"


def default_settings() -> QSettings:
    """The user's console settings (organisation "Sightline")."""
    return QSettings(SETTINGS_ORG, SETTINGS_APP)


class PageStack(QStackedWidget):
    """The pages, one at a time, asking only for the room the page on screen needs.

    A plain QStackedWidget's minimum is the largest minimum of all its pages,
    so one wide page would widen the window for every page.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.currentChanged.connect(lambda _row: self.updateGeometry())

    def minimumSizeHint(self) -> QSize:
        page = self.currentWidget()
        return page.minimumSizeHint().expandedTo(page.minimumSize()) if page is not None else QSize()

    def sizeHint(self) -> QSize:
        page = self.currentWidget()
        return page.sizeHint() if page is not None else QSize()


class PageArea(QScrollArea):
    """Holds the :class:`PageStack`: the page fills the room there is, and scrolls only when its
    minimum size does not fit (instead of widening the window past the screen).

    Not ``widgetResizable``: with it, a page holding a word-wrapped label
    (height-for-width) is made as tall as it would *like* to be, not as the
    room there is, and scrolls for no reason.
    """

    def __init__(self, stack: PageStack, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("pageArea")
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setWidget(stack)
        stack.installEventFilter(self)
        stack.currentChanged.connect(lambda _row: self.fit_page())

    def fit_page(self) -> None:
        """Size the page to the viewport, never below the page's own minimum."""
        page = self.widget()
        if page is not None:
            minimum = page.minimumSizeHint().expandedTo(page.minimumSize())
            page.resize(self.viewport().size().expandedTo(minimum))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit_page()

    def eventFilter(self, watched, event) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.fit_page()  # the page's minimum may have changed (a page built, a label grown)
        return super().eventFilter(watched, event)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, 120)


class MainWindow(QMainWindow):
    """Navigation list on the left, one page at a time on the right.

    Ctrl+1..8 switch pages; Help > Keyboard shortcuts lists every shortcut.
    Geometry and the selected page are saved in ``settings`` on close.
    A page is built the first time it is shown or asked for (:meth:`page`);
    until then an empty placeholder holds its place in the stack.
    """

    def __init__(self, context: ConsoleContext, settings: QSettings | None = None):
        super().__init__()
        self.context = context
        self.settings = settings or default_settings()
        self.setWindowTitle("Sightline Console")
        self.setObjectName("SightlineMainWindow")
        self.tasks = TaskRunner(context.workers, self)

        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setAccessibleName("Pages")
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setFixedWidth(190)
        self.nav.setSpacing(2)
        self.stack = PageStack()
        self._built: list[QWidget | None] = [None] * len(PAGES)
        for spec in PAGES:
            item = QListWidgetItem(icon(spec.icon_name), spec.title)
            item.setSizeHint(QSize(170, 34))
            self.nav.addItem(item)
            placeholder = QWidget()
            placeholder.setObjectName(f"placeholder:{spec.title}")
            self.stack.addWidget(placeholder)
        self.nav.currentRowChanged.connect(self._on_page_selected)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        # No page can widen the window past the screen: a page larger than the room left
        # scrolls inside the window instead (the pages are built to fit 1024x768 anyway).
        self.page_area = PageArea(self.stack)
        layout.addWidget(self.page_area, 1)
        self.setCentralWidget(central)
        self.setTabOrder(self.nav, self.stack)

        self._build_menus()
        self._build_status_bar()
        context.bridge.devices_changed.connect(self._on_devices_changed)
        self._on_devices_changed(context.appliances.entries())
        self.setWindowIcon(icon("sightline"))
        QApplication.styleHints().colorSchemeChanged.connect(self._on_color_scheme_changed)
        self._restore()

    # ---------------------------------------------------------------- building

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        go_menu = bar.addMenu("&Go")
        self.page_actions: list[QAction] = []
        for number, spec in enumerate(PAGES, start=1):
            action = QAction(icon(spec.icon_name), spec.title, self)
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _=False, row=number - 1: self.show_page(row))
            action.setData(spec.icon_name)
            go_menu.addAction(action)
            self.page_actions.append(action)

        # The Devices menu carries the Devices page's actions (Ctrl+P works from any page),
        # so that page is always built at start.
        devices_page = self.page("Devices")
        devices_menu = bar.addMenu("&Devices")
        for action in devices_page.actions_for_menu():
            devices_menu.addAction(action)

        help_menu = bar.addMenu("&Help")
        self.help_menu = help_menu  # the demo adds its guide here
        shortcuts = QAction(icon("keyboard"), "&Keyboard shortcuts", self)
        shortcuts.setShortcut(QKeySequence("F1"))
        shortcuts.triggered.connect(self.show_shortcuts)
        shortcuts.setData("keyboard")
        help_menu.addAction(shortcuts)
        about = QAction("&About Sightline", self)
        about.triggered.connect(lambda: QMessageBox.about(
            self, "About Sightline",
            "Sightline Console\nOffline-first computer vision for IP cameras."))
        help_menu.addAction(about)
        self.help_actions = [shortcuts, about]

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.discovery_label = QLabel()
        self.discovery_label.setObjectName("discoveryState")
        self.connection_label = QLabel()
        self.connection_label.setObjectName("connectionState")
        self.task_status = TaskStatusWidget(self.tasks)
        for label in (self.discovery_label, self.connection_label):
            # Long texts are cut, never a reason for a wider window (the tooltip has them whole).
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            label.setMinimumWidth(80)
        status.addWidget(self.discovery_label, 3)
        status.addWidget(self.connection_label, 2)
        status.addPermanentWidget(self.task_status)

    # ---------------------------------------------------------------- pages

    def page(self, title: str) -> QWidget:
        """The page titled ``title``, built now if it has not been yet."""
        return self.page_at(self.page_row(title))

    def page_row(self, title: str) -> int:
        """The page's row in the navigation (what :meth:`show_page` takes)."""
        try:
            return PAGE_TITLES.index(title)
        except ValueError:
            raise KeyError(f"no page titled {title!r}; the pages are {', '.join(PAGE_TITLES)}") from None

    def page_at(self, row: int) -> QWidget:
        """The page in navigation row ``row``, built now (in place of its placeholder) if need be."""
        page = self._built[row]
        if page is None:
            page = build_page(PAGES[row], self.context, self.tasks, self)
            placeholder = self.stack.widget(row)
            self.stack.insertWidget(row, page)
            self.stack.removeWidget(placeholder)
            placeholder.deleteLater()
            self._built[row] = page
        return page

    @property
    def pages(self) -> list[QWidget]:
        """Every page in navigation order, building those not built yet (prefer :meth:`page`)."""
        return [self.page_at(row) for row in range(len(PAGES))]

    def built_pages(self) -> list[QWidget]:
        """The pages built so far, in navigation order."""
        return [page for page in self._built if page is not None]

    def show_page(self, row: int) -> None:
        if 0 <= row < len(PAGES):
            self.nav.setCurrentRow(row)

    def current_page(self) -> QWidget:
        return self.stack.currentWidget()

    def _on_page_selected(self, row: int) -> None:
        if row < 0:
            return
        page = self.page_at(row)
        self.stack.setCurrentIndex(row)
        on_shown = getattr(page, "on_shown", None)
        if on_shown is not None:
            on_shown()
        self.setWindowTitle(f"{page.title} — Sightline Console")

    # ---------------------------------------------------------------- status

    def _on_devices_changed(self, entries: list[DeviceEntry]) -> None:
        where = ", ".join(self.context.interfaces) if self.context.interfaces else "all interfaces"
        if self.context.appliances.browsing:
            found = sum(1 for e in entries if e.advertised)
            self.discovery_label.setText(f"Discovery: browsing on {where} · {found} device(s) found")
        else:
            self.discovery_label.setText("Discovery: stopped")
        self.discovery_label.setToolTip(self.discovery_label.text())
        paired = [e for e in entries if e.paired]
        if self.context.health_watch is not None:
            # Health history from the moment a device is paired, not from the Health page's first visit.
            # The service's current list, not this snapshot: a stale one would stop a follower.
            self.context.health_watch.set_devices(
                e.device_id for e in self.context.appliances.entries() if e.paired and not e.fingerprint_changed)
        reachable = [e for e in paired if e.reachable and not e.fingerprint_changed]
        refused = [e for e in entries if e.fingerprint_changed]
        text = f"Connections: {len(reachable)} of {len(paired)} paired reachable"
        if refused:
            text += f" · ⚠ {len(refused)} REFUSED (certificate changed)"
            self.connection_label.setStyleSheet(f"color: {theme.danger_color().name()}; font-weight: bold;")
        else:
            self.connection_label.setStyleSheet("")
        self.connection_label.setText(text)
        self.connection_label.setToolTip(text)

    # ---------------------------------------------------------------- help

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(action, shortcut) for every action that has one, in menu order."""
        rows = []
        for menu_action in self.menuBar().actions():
            for action in menu_action.menu().actions():
                if not action.shortcut().isEmpty():
                    label = action.text().replace("&", "")
                    rows.append((f"{menu_action.text().replace('&', '')} › {label}",
                                 action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)))
        rows.append(("Move between controls", "Tab / Shift+Tab"))
        rows.append(("Open a menu", "Alt + underlined letter"))
        return rows

    def show_shortcuts(self) -> QDialog:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        table = QTableWidget(0, 2, dialog)
        table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for name, keys in self.shortcut_rows():
            row = table.rowCount()
            table.insertRow(row)
            table.setItem(row, 0, QTableWidgetItem(name))
            table.setItem(row, 1, QTableWidgetItem(keys))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(table)
        layout.addWidget(buttons)
        dialog.resize(460, 420)
        dialog.open()
        self.shortcuts_dialog = dialog
        return dialog

    # ---------------------------------------------------------------- theme

    def _on_color_scheme_changed(self, scheme: Qt.ColorScheme) -> None:
        theme.apply_theme(QApplication.instance(), scheme)
        self.refresh_icons()

    def refresh_icons(self) -> None:
        icons.clear_cache()
        for row, spec in enumerate(PAGES):
            self.nav.item(row).setIcon(icon(spec.icon_name))
        for page in self.built_pages():
            refresh = getattr(page, "refresh_icons", None)
            if refresh is not None:
                refresh()
        for action in self.page_actions + self.help_actions:
            if action.data():
                action.setIcon(icon(action.data()))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self.refresh_icons()
        super().changeEvent(event)

    # ---------------------------------------------------------------- persistence

    def _restore(self) -> None:
        geometry = self.settings.value(GEOMETRY_KEY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1180, 760)
        self.fit_screen()
        state = self.settings.value(STATE_KEY)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        try:
            row = int(self.settings.value(PAGE_KEY, 0))
        except (TypeError, ValueError):
            row = 0
        self.show_page(row if 0 <= row < len(PAGES) else 0)

    def fit_screen(self) -> None:
        """Shrink (and move) the window onto its screen when it is larger: the default size, or one
        saved on a bigger monitor, must not open partly off a 1024x768 panel PC's screen."""
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        if screen is None or screen.isEmpty() or self.isMaximized() or self.isFullScreen():
            return
        if self.width() > screen.width() or self.height() > screen.height():
            self.resize(min(self.width(), screen.width()), min(self.height(), screen.height()))
            self.move(screen.topLeft())

    def save_settings(self) -> None:
        self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.settings.setValue(STATE_KEY, self.saveState())
        self.settings.setValue(PAGE_KEY, self.nav.currentRow())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.tasks.cancel_all()
        for page in self.built_pages():
            close = getattr(page, "shutdown", None)
            if close is not None:
                close()
        super().closeEvent(event)
