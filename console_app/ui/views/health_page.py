"""The Health page: per device and per stream, live plots of the last ten minutes, app states, the device log.

The console follows every paired device's health (``WatchHealth``) into the
context's :class:`HealthHistory` from the moment it is connected (the main
window keeps :class:`HealthWatch` told of the paired devices), so the plots
already hold the minutes before the page was first opened. While the page is
on screen it also follows the picked device's log (``WatchLogs`` into the log
table), reconnecting on its own; when the page is hidden the log stops.
Plots redraw from the history once a second; log records arrive in batches
on a short timer, so a burst of records never floods the GUI thread. The
level and text filters act on the records already received.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QHideEvent, QIcon, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.health_history import DEVICE_SCOPE, HealthHistory, HealthWatch
from console_app.core.services.reconnect import LIVE, StreamFollower
from console_app.ui import theme
from console_app.ui.context import ConsoleContext
from console_app.ui.icons import icon
from console_app.ui.models.log_model import LEVELS, LogFilterProxy, LogLine, LogTableModel
from console_app.ui.models.rows_model import RowsTableModel
from console_app.ui.tasks import TaskRunner
from console_app.ui.views.device_pages import DevicePicker
from console_app.ui.widgets.tables import ColumnFitter, record_table
from console_app.ui.widgets.time_plot import TimePlot

ALL_STREAMS = "All streams"
REDRAW_MS, LOG_DRAIN_MS = 1000, 200
#: Log records remembered to recognise the device's replay after a reconnect (it replays 200).
SEEN_LOGS = 5000


def warning_summary(warning: str, limit: int = 90) -> str:
    """The first clause of a provider warning, without its parenthesised details, at most ``limit`` characters."""
    head = warning.split(": ", 1)[0].split(" (", 1)[0].strip()
    if len(head) > limit:
        head = head[: limit - 1].rstrip() + "…"
    return head + (" (details in the tooltip)" if head != warning.strip() else "")


class HealthPage(QWidget):
    """Health of the device picked at the top."""

    title, icon_name = "Health", "health"

    def __init__(self, context: ConsoleContext, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._context, self._tasks = context, tasks
        if context.health_watch is None:  # a context without one (tests of parts): the page's own
            context.health_history = HealthHistory()
            context.health_watch = HealthWatch(context.health_history, context.appliances.connect)
        self.history: HealthHistory = context.health_history
        self.watch: HealthWatch = context.health_watch
        self._followers: list[StreamFollower] = []
        self._device_id: str | None = None
        self._pending_logs: deque[LogLine] = deque(maxlen=5000)  # appended by the log follower's thread
        self._held_logs: list[LogLine] = []  # received while paused
        # Records shown lately, to skip the ones the device replays after a reconnect.
        self._seen_logs: OrderedDict[tuple[float, str, str], None] = OrderedDict()
        self._stream_states: dict[str, str] = {}

        self.picker = DevicePicker(context)
        self.stream_combo = QComboBox()
        self.stream_combo.setAccessibleName("Stream")
        self.stream_combo.addItem(ALL_STREAMS)
        stream_label = QLabel("&Stream:")
        stream_label.setBuddy(self.stream_combo)
        self.status = QLabel()
        self.status.setWordWrap(True)
        # Its own row, wrapped: a long warning (no CUDA driver…) must never widen the window.
        self.provider_label = QLabel()
        self.provider_label.setObjectName("providerLabel")
        self.provider_label.setWordWrap(True)
        self.provider_label.setVisible(False)
        top = QHBoxLayout()
        top.addWidget(self.picker)
        top.addWidget(stream_label)
        top.addWidget(self.stream_combo)
        top.addStretch(1)

        self.cpu_plot = TimePlot("CPU", "%", y_range=(0, 100))
        self.memory_plot = TimePlot("Memory", "%", y_range=(0, 100))
        self.gpu_plot = TimePlot("GPU", "%", y_range=(0, 100))
        self.temperature_plot = TimePlot("Temperature", "°C")
        self.fps_plot = TimePlot("Frames", "fps")
        self.inference_plot = TimePlot("Inference", "ms")
        self.plots = [self.cpu_plot, self.memory_plot, self.gpu_plot,
                      self.temperature_plot, self.fps_plot, self.inference_plot]
        plots = QWidget()
        grid = QGridLayout(plots)
        grid.setContentsMargins(0, 0, 0, 0)
        for n, plot in enumerate(self.plots):
            grid.addWidget(plot, n // 3, n % 3)

        self.apps_model = RowsTableModel(("Application", "Version", "State", "Cameras", "Error"), parent=self)
        self.streams_model = RowsTableModel(("Camera", "Availability", "Stream", "Resolution", "Why"), parent=self)
        self.outputs_model = RowsTableModel(
            ("Output", "Kind", "State", "Delivered", "Queued", "Failed attempts", "Dropped", "Latency p99", "Last error"),
            parent=self)
        self.apps_table = self._table(self.apps_model, "Application states")
        self.streams_table = self._table(self.streams_model, "Stream states")
        self.outputs_table = self._table(self.outputs_model, "Output delivery")
        # Never sideways: what says which row it is and whether it is well comes first, the rest elides.
        self._fitters = [ColumnFitter(self.apps_table, (0, 2, 1)), ColumnFitter(self.streams_table, (0, 1, 2)),
                         ColumnFitter(self.outputs_table, (0, 2, 3, 4, 5, 6, 7))]
        # One table at a time, at the page's full width (side by side, a 1280 px screen showed
        # each only in part); every tab's title counts its rows and names what is wrong.
        states = self.states_tabs = QTabWidget()
        states.setDocumentMode(True)
        states.setAccessibleName("Application, stream and output states")
        for table in (self.apps_table, self.streams_table, self.outputs_table):
            states.addTab(table, "")
        self._title_state_tabs([], [], [])

        self.log_model = LogTableModel(parent=self)
        self.log_proxy = LogFilterProxy(self)
        self.log_proxy.setSourceModel(self.log_model)
        self.log_table = self._table(self.log_proxy, "Device log")
        self.level_combo = QComboBox()
        self.level_combo.addItems(list(LEVELS)[:4])
        self.level_combo.setCurrentText("INFO")
        self.level_combo.setAccessibleName("Minimum log level")
        level_label = QLabel("&Level:")
        level_label.setBuddy(self.level_combo)
        self.log_filter = QLineEdit()
        self.log_filter.setPlaceholderText("Filter the log…")
        self.log_filter.setClearButtonEnabled(True)
        self.log_filter.setAccessibleName("Log filter")
        self.pause_button = QPushButton(icon("stop"), "&Pause log")
        self.pause_button.setCheckable(True)
        self.log_count = QLabel()
        log_bar = QHBoxLayout()
        log_bar.addWidget(QLabel("<b>Device log</b>"))
        log_bar.addWidget(level_label)
        log_bar.addWidget(self.level_combo)
        log_bar.addWidget(self.log_filter, 1)
        log_bar.addWidget(self.pause_button)
        log_bar.addWidget(self.log_count)
        log_box = QWidget()
        log_layout = QVBoxLayout(log_box)
        log_layout.setContentsMargins(0, 0, 0, 0)
        log_layout.addLayout(log_bar)
        log_layout.addWidget(self.log_table)

        splitter = QSplitter(Qt.Orientation.Vertical)
        for part in (plots, states, log_box):
            splitter.addWidget(part)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 2)
        self.splitter = splitter
        self._split_once = False
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"<h2>{self.title}</h2>"))
        layout.addLayout(top)
        layout.addWidget(self.provider_label)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)

        self.redraw_timer = QTimer(self, interval=REDRAW_MS, timeout=self.redraw)
        self.log_timer = QTimer(self, interval=LOG_DRAIN_MS, timeout=self.drain_logs)
        self.picker.combo.currentIndexChanged.connect(self._on_device_picked)
        self.stream_combo.currentIndexChanged.connect(lambda _i: self.redraw())
        self.level_combo.currentTextChanged.connect(self.log_proxy.set_min_level)
        self.log_filter.textChanged.connect(self.log_proxy.set_text)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self._show_status()

    def _title_state_tabs(self, apps: list[list[str]], streams: list[list[str]], outputs: list[list[str]]) -> None:
        """"Streams (2) · 1 not live": the rows, and how many are not as they should be (marked ⚠)."""
        tabs = (("&Applications", apps, 2, ("running",), "not running"),
                ("S&treams", streams, 2, ("live",), "not live"),
                ("&Outputs", outputs, 2, ("ok", "idle"), "not delivering"))
        for index, (name, rows, column, fine, words) in enumerate(tabs):
            wrong = sum(1 for row in rows if row[column] not in fine)
            title = f"{name} ({len(rows)})" + (f" · {wrong} {words}" if wrong else "")
            if self.states_tabs.tabText(index) != title:
                self.states_tabs.setTabText(index, title)
                self.states_tabs.setTabIcon(index, icon("warning", theme.danger_color()) if wrong else QIcon())

    @staticmethod
    def _table(model, name: str) -> QTableView:
        table = record_table(model, name)
        table.setWordWrap(False)
        table.setMinimumHeight(60)  # the splitter gives room; the window must still fit small screens
        return table

    # ------------------------------------------------------------------ streaming while shown

    @property
    def streaming(self) -> bool:
        return any(f.running for f in self._followers)

    @property
    def followers(self) -> list[StreamFollower]:
        """The log follower while the page is shown (empty while hidden); health is the watch's."""
        return list(self._followers)

    @property
    def health_follower(self) -> StreamFollower | None:
        """The console-wide follower of the picked device's health (runs whether the page is shown or not)."""
        return self.watch.follower(self._device_id) if self._device_id else None

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._split_once:
            # The plots would take all the height they hint at, leaving the log one row:
            # share it out once (the engineer's own splitter moves are kept after that).
            self._split_once = True
            total = max(self.splitter.height(), 300)
            self.splitter.setSizes([total * 50 // 100, total * 16 // 100, total * 34 // 100])
        self.start_streams()

    def hideEvent(self, event: QHideEvent) -> None:
        self.stop_streams()
        super().hideEvent(event)

    def on_shown(self) -> None:
        self.start_streams()

    def shutdown(self) -> None:
        self.stop_streams()

    def _on_device_picked(self, _index: int) -> None:
        self.stop_streams()
        if self.isVisible():
            self.start_streams()
        else:
            self._reset_for(self.picker.current_device_id())

    def _reset_for(self, device_id: str | None) -> None:
        if device_id == self._device_id:
            return
        self._device_id = device_id
        self.log_model.clear()
        self._pending_logs.clear()
        self._held_logs = []
        self._seen_logs.clear()
        for plot in self.plots:
            plot.clear_series()
        self.redraw()

    def start_streams(self) -> None:
        """Follow the picked device's health and log (no-op when already following it)."""
        device_id = self.picker.current_device_id()
        if self._followers and device_id == self._device_id:
            return
        self.stop_streams()
        self._reset_for(device_id)
        if device_id is None:
            self._show_status()
            return
        appliances, bridge = self._context.appliances, self._context.bridge

        def connect():
            return appliances.connect(device_id)

        def on_state(kind: str):
            return lambda state, detail: bridge.call_in_gui(self._on_stream_state, device_id, kind, state, detail)

        self._stream_states = {}
        health = self.watch.follow(device_id)  # usually already followed since the device connected
        if health is not None:
            self._stream_states["health"] = health.state
        self._followers = [
            StreamFollower(connect, lambda client: client.logs(min_level="DEBUG", replay=200),
                           lambda record: self._pending_logs.append(
                               LogLine(record.time, record.level, record.logger, record.message)),
                           on_state=on_state("log"), name=f"log-{device_id}").start(),
        ]
        self._show_status("Connecting…")
        self.redraw_timer.start()
        self.log_timer.start()

    def stop_streams(self) -> None:
        """Stop following (never waits on the network)."""
        followers, self._followers = self._followers, []
        for follower in followers:
            follower.stop()
        self.redraw_timer.stop()
        self.log_timer.stop()

    def _on_stream_state(self, device_id: str, kind: str, state: str, detail: str) -> None:
        if device_id != self._device_id or not self._followers:
            return
        self._stream_states[kind] = state
        if state == LIVE:
            self._show_status("Live" if all(s == LIVE for s in self._stream_states.values()) else "Connecting…")
        elif detail:
            self._show_status(f"Reconnecting ({kind}): {detail}")

    def _show_status(self, text: str = "") -> None:
        if not text and self.picker.current_device_id() is None:
            text = "Pair a device on the Devices page to see its health here."
        self.status.setText(text)
        self.status.setVisible(bool(text))

    # ------------------------------------------------------------------ drawing

    def redraw(self) -> None:
        """Plots, states and provider from the history (the redraw timer calls this every second)."""
        device_id = self._device_id
        if device_id is None:
            return
        history, now = self.history, self.history.clock()
        health = self.health_follower
        if health is not None and self._followers and self._stream_states.get("health") != health.state:
            self._on_stream_state(device_id, "health", health.state, health.detail)

        def device_series(plot: TimePlot, pairs: list[tuple[str, str]],
                          missing: str = "not readable on this device") -> None:
            names = []
            for name, metric in pairs:
                times, values = history.series(device_id, DEVICE_SCOPE, metric)
                if times:
                    plot.set_series(name, times, values, now)
                    names.append(name)
            plot.keep_only(names)
            plot.set_note("" if names or not history.sample_count(device_id) else missing)

        device_series(self.cpu_plot, [("CPU", "cpu_percent")])
        device_series(self.memory_plot, [("Memory", "memory_percent")])
        device_series(self.gpu_plot, [("GPU", "gpu_percent"), ("GPU memory", "gpu_memory_percent")])
        device_series(self.temperature_plot, [("Temperature", "temperature_c")], "no sensor")
        self._redraw_streams(device_id, now)
        self._update_states(device_id)

    def _redraw_streams(self, device_id: str, now: float) -> None:
        cameras = self.history.cameras(device_id)
        wanted = [ALL_STREAMS] + cameras
        if [self.stream_combo.itemText(i) for i in range(self.stream_combo.count())] != wanted:
            current = self.stream_combo.currentText()
            self.stream_combo.blockSignals(True)
            self.stream_combo.clear()
            self.stream_combo.addItems(wanted)
            self.stream_combo.setCurrentText(current if current in wanted else ALL_STREAMS)
            self.stream_combo.blockSignals(False)
        chosen = self.stream_combo.currentText()
        shown = cameras if chosen == ALL_STREAMS else [chosen]
        fps_names, ms_names = [], []
        for camera in shown:
            prefix = f"{camera} " if chosen == ALL_STREAMS else ""
            for label, metric, style in (("camera", "camera_fps", "solid"), ("inferred", "inferred_fps", "solid"),
                                         ("dropped", "dropped_fps", "dash")):
                times, values = self.history.series(device_id, camera, metric)
                self.fps_plot.set_series(prefix + label, times, values, now, style=style)
                fps_names.append(prefix + label)
            times, values = self.history.series(device_id, camera, "inference_ms")
            self.inference_plot.set_series(camera, times, values, now)
            ms_names.append(camera)
        self.fps_plot.keep_only(fps_names)
        self.inference_plot.keep_only(ms_names)

    def _update_states(self, device_id: str) -> None:
        apps = [[a.app_id, a.version, a.state, ", ".join(a.camera_ids), a.error] for a in self.history.apps(device_id)]
        if apps != self.apps_model.rows():
            self.apps_model.set_rows(apps)
        streams = [[s.camera_id, s.availability_words, s.state, f"{s.width}×{s.height}" if s.width else "", s.reason]
                   for s in self.history.streams(device_id)]
        if streams != self.streams_model.rows():
            self.streams_model.set_rows(streams)
        outputs = [[f"{o.app_id}/{o.name}", o.kind, o.state, str(o.delivered), str(o.queued), str(o.failed),
                    str(o.dropped), f"{o.latency_p99_ms:.0f} ms" if o.delivered else "-", o.last_error]
                   for o in self.history.outputs(device_id)]
        if outputs != self.outputs_model.rows():
            self.outputs_model.set_rows(outputs)
        self._title_state_tabs(apps, streams, outputs)
        provider, warning = self.history.provider(device_id)
        text = f"Inference on {provider}" if provider else ""
        if warning:
            # The first clause says what is wrong ("no NVIDIA driver found"); the whole story
            # (every provider tried and why it failed) is in the tooltip and the device log.
            text += f" — ⚠ {warning_summary(warning)}"
        self.provider_label.setText(text)
        self.provider_label.setToolTip(warning)
        self.provider_label.setStyleSheet(f"color: {theme.danger_color().name()};" if warning else "")
        self.provider_label.setVisible(bool(text))

    # ------------------------------------------------------------------ log

    def drain_logs(self) -> None:
        """Move records the log follower received into the table (or hold them while paused)."""
        batch = []
        seen = self._seen_logs
        while self._pending_logs:
            line = self._pending_logs.popleft()
            # By identity, not by "older than the last one shown": records of different device
            # threads can arrive a little out of time order, and each of them must be shown.
            key = (line.time, line.logger, line.message)
            if key in seen:
                continue  # replayed after a reconnect
            seen[key] = None
            if len(seen) > SEEN_LOGS:
                seen.popitem(last=False)
            batch.append(line)
        if not batch:
            return
        if self.pause_button.isChecked():
            self._held_logs = (self._held_logs + batch)[-self.log_model.max_rows:]
            self.log_count.setText(f"{len(self._held_logs)} new while paused")
            return
        self._append_logs(batch)

    def _append_logs(self, lines: list[LogLine]) -> None:
        bar = self.log_table.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 2
        self.log_model.append_lines(lines)
        if at_bottom:
            self.log_table.scrollToBottom()
        self.log_count.setText("")

    def _on_pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("&Resume log" if paused else "&Pause log")
        self.pause_button.setIcon(icon("play" if paused else "stop"))
        if not paused:
            held, self._held_logs = self._held_logs, []
            self._append_logs(held)

    def refresh_icons(self) -> None:
        self.pause_button.setIcon(icon("play" if self.pause_button.isChecked() else "stop"))
        for plot in self.plots:
            plot.apply_theme()
