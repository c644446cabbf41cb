"""qtmodeltester on every item model the console defines, through inserts, updates and removals."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QModelIndex, Qt

from console_app.core.services.appliances import DeviceEntry
from console_app.ui.models.devices_model import (
    ENTRY_ROLE,
    PAIRED,
    REACHABLE,
    DevicesTableModel,
)
from console_app.ui.models.rows_model import RowsTableModel


def entries() -> list[DeviceEntry]:
    return [
        DeviceEntry("sl-a", "Line 1", "10.0.0.1", 7443, "0.1.0", "aa" * 32, reachable=True, advertised=True),
        DeviceEntry("sl-b", "Dock", "10.0.0.2", 7443, "0.1.0", "bb" * 32, pinned_fingerprint="bb" * 32),
        DeviceEntry("sl-c", "Paint", "10.0.0.3", 7443, "", "cc" * 32, pinned_fingerprint="dd" * 32,
                    reachable=False, problem="certificate changed"),
    ]


def test_devices_model_passes_the_model_tester_while_rows_change(qtmodeltester):
    model = DevicesTableModel()
    qtmodeltester.check(model, force_py=True)
    a, b, c = entries()
    model.set_entries([a, b])
    model.set_entries([a, replace(b, reachable=True), c])
    model.set_entries([c])
    model.set_entries([])
    model.set_entries([c, a, b])
    assert [e.device_id for e in model.entries()] == ["sl-c", "sl-a", "sl-b"]


def test_devices_model_updates_rows_in_place_keeping_order(qtbot):
    model = DevicesTableModel()
    a, b, c = entries()
    model.set_entries([a, b, c])
    changed = []
    model.dataChanged.connect(lambda top, bottom, roles: changed.append(top.row()))
    model.set_entries([a, replace(b, reachable=True), c])
    assert changed == [1]
    assert model.data(model.index(1, REACHABLE)) == "Yes"
    assert model.data(model.index(1, PAIRED)) == "Yes"
    assert model.data(model.index(2, REACHABLE)) == "REFUSED: certificate changed"
    assert model.data(model.index(2, 0), ENTRY_ROLE) == c
    assert model.rowCount(model.index(0, 0)) == 0 and model.rowCount(QModelIndex()) == 3


def test_rows_model_passes_the_model_tester_and_caps_its_rows(qtmodeltester):
    model = RowsTableModel(["Time", "Event"], max_rows=3)
    qtmodeltester.check(model, force_py=True)
    model.set_rows([["10:00", "zone_entered"], ["10:01", "line_crossed"]])
    for n in range(4):
        model.prepend_row([f"10:0{n + 2}", "count_changed"])
    assert model.rowCount() == 3
    assert model.rows()[0] == ["10:05", "count_changed"]


def test_discovered_cameras_model_passes_the_model_tester_and_merges_by_endpoint(qtmodeltester):
    from console_app.core.gateways.ws_discovery import CameraCandidate
    from console_app.ui.models.cameras_model import ADDRESS, SERVICE, DiscoveredCamerasModel

    model = DiscoveredCamerasModel()
    qtmodeltester.check(model, force_py=True)
    model.upsert(CameraCandidate("urn:uuid:1", types=("dn:NetworkVideoTransmitter",), source_address="10.0.0.9"))
    model.upsert(CameraCandidate("urn:uuid:2", xaddrs=("http://10.0.0.8/onvif/device_service",)))
    model.upsert(CameraCandidate("urn:uuid:1", xaddrs=("http://10.0.0.5:8080/onvif/device_service",),
                                 metadata_version=2))
    assert model.rowCount() == 2
    assert model.data(model.index(0, ADDRESS)) == "10.0.0.5:8080"
    assert model.data(model.index(0, SERVICE)) == "http://10.0.0.5:8080/onvif/device_service"
    model.clear()
    assert model.rowCount() == 0


def test_item_table_model_base_passes_the_model_tester_through_every_row_helper(qtmodeltester):
    from console_app.ui.models.table_model import ItemTableModel

    class Pairs(ItemTableModel):
        columns = ("Key", "Value")

        def data(self, index, role=0):
            item = self.item_for(index)
            return None if item is None or role != 0 else str(item[index.column()])

    model = Pairs()
    qtmodeltester.check(model, force_py=True)
    model.insert_items(0, [("a", 1), ("b", 2)])
    model.insert_items(1, [("c", 3)])
    model.upsert_item(("b", 20), key=lambda item: item[0])
    model.upsert_item(("d", 4), key=lambda item: item[0])
    assert model.items() == [("a", 1), ("c", 3), ("b", 20), ("d", 4)]
    model.remove_rows(1, 2)
    model.insert_items(0, [])
    model.remove_rows(1, 0)
    assert model.items() == [("a", 1), ("d", 4)]
    assert model.row_where(lambda item: item[0] == "d") == 1 and model.row_where(lambda item: False) == -1
    assert model.item_at(5) is None and model.headerData(1, Qt.Orientation.Horizontal) == "Value"
    model.reset_items([("z", 26)])
    assert model.rowCount() == 1 and model.data(model.index(0, 1)) == "26"
