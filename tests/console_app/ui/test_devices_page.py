"""The Devices page with real device runtimes: live list, pairing dialog, the pinning warning."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from console_app.ui.models.devices_model import FINGERPRINT, NAME, REACHABLE
from console_app.ui.views.devices_page import DevicesPage

WAIT_MS = 10_000


def devices_page(window) -> DevicesPage:
    page = window.page("Devices")
    assert isinstance(page, DevicesPage)
    return page


def wait_for_row(qtbot, page: DevicesPage, device_id: str, condition=lambda e: True) -> int:
    def ready():
        row = page.model.row_of(device_id)
        assert row >= 0, f"{device_id} not listed; rows: {page.model.entries()}"
        assert condition(page.model.entry_at(row)), page.model.entry_at(row)

    qtbot.waitUntil(ready, timeout=WAIT_MS)
    return page.model.row_of(device_id)


def test_running_device_appears_live_and_disappears_when_it_stops(qtbot, window, start_device):
    device = start_device()
    page = devices_page(window)

    row = wait_for_row(qtbot, page, device.identity.device_id, lambda e: e.reachable)
    assert page.model.data(page.model.index(row, NAME)) == device.config.name
    assert page.model.data(page.model.index(row, REACHABLE)) == "Yes"
    assert page.model.data(page.model.index(row, FINGERPRINT)).replace(" ", "").rstrip("…") == device.identity.fingerprint[:16]
    assert "1 device(s) found" in window.discovery_label.text() or "device(s) found" in window.discovery_label.text()

    device.stop(grace=0.2)
    qtbot.waitUntil(lambda: page.model.row_of(device.identity.device_id) < 0, timeout=WAIT_MS)


def test_pair_dialog_keeps_the_typed_code_on_a_wrong_code_then_pairs(qtbot, window, start_device):
    device = start_device()
    device_id = device.identity.device_id
    page = devices_page(window)
    wait_for_row(qtbot, page, device_id)
    page.select_device(device_id)

    dialog = page.pair_selected()
    assert dialog is not None and dialog.isVisible()
    assert dialog.fingerprint_label.text().replace(" ", "").replace("\n", "") == device.identity.fingerprint

    qtbot.keyClicks(dialog.code_edit, "1111-2222")
    qtbot.mouseClick(dialog.pair_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=WAIT_MS)
    assert "pairing code is wrong" in dialog.error_label.text()
    assert dialog.isVisible() and dialog.code_edit.text() == "1111-2222"

    dialog.code_edit.clear()
    qtbot.keyClicks(dialog.code_edit, device.pairing.current_code())
    with qtbot.waitSignal(dialog.finished, timeout=WAIT_MS) as finished:
        qtbot.keyClick(dialog.code_edit, Qt.Key.Key_Return)
    assert finished.args == [QDialog.DialogCode.Accepted]
    qtbot.waitUntil(lambda: page.model.entry_at(page.model.row_of(device_id)).paired, timeout=WAIT_MS)
    assert "1 of 1 paired reachable" in window.connection_label.text()
    # Success is said, not left to be guessed from a table cell.
    assert page.notice.isVisible() and f"Paired with {device.config.name}" in page.notice.text()


def test_a_wrong_code_message_is_shown_whole_as_the_dialog_grows(qtbot, window, start_device):
    device = start_device()
    page = devices_page(window)
    wait_for_row(qtbot, page, device.identity.device_id)
    page.select_device(device.identity.device_id)
    dialog = page.pair_selected()
    height = dialog.height()
    qtbot.keyClicks(dialog.code_edit, "1111-2222")
    dialog.start_pairing()
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=WAIT_MS)
    label = dialog.error_label
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()), timeout=WAIT_MS)
    assert dialog.height() > height
    assert label.geometry().bottom() <= dialog.buttons.geometry().top()
    dialog.reject()


def test_ctrl_p_with_nothing_selected_says_what_to_select(qtbot, window, start_device):
    """Two unpaired devices and no selection: Ctrl+P used to do nothing and say nothing."""
    page = devices_page(window)
    window.show_page(window.page_row("Devices"))
    for device in (start_device(), start_device()):
        wait_for_row(qtbot, page, device.identity.device_id)
    page.table.clearSelection()
    assert page.pair_action.isEnabled()
    page.pair_action.trigger()
    assert page.notice.isVisible() and "Select a device in the list first" in page.notice.text()
    page.select_device(device.identity.device_id)
    dialog = page.pair_selected()
    assert dialog is not None and not page.notice.isVisible()
    dialog.reject()


def test_device_with_a_changed_certificate_is_shown_red_and_refused(qtbot, window, start_device, tmp_path, console_context):
    """Restart the device with a new data folder (new certificate) on the same port."""
    original = start_device()
    device_id, port = original.identity.device_id, original.port
    page = devices_page(window)
    wait_for_row(qtbot, page, device_id)
    console_context.appliances.pair(device_id, original.pairing.current_code())
    original.stop(grace=0.2)

    start_device(port=port, data_dir=tmp_path / "reinstalled")

    row = wait_for_row(qtbot, page, device_id, lambda e: e.fingerprint_changed)
    index = page.model.index(row, NAME)
    assert page.model.data(index, Qt.ItemDataRole.ForegroundRole).name() in ("#d32f2f", "#ff6b6b")
    assert page.model.data(page.model.index(row, REACHABLE)) == "REFUSED: certificate changed"
    assert page.warning.isVisible() and "CERTIFICATE CHANGED" in page.warning.text()
    assert "REFUSED" in window.connection_label.text()
    page.select_device(device_id)
    assert not page.pair_action.isEnabled()
    window.grab().save("/tmp/k-fingerprint-changed.png")


def test_add_by_address_dialog_lists_the_device(qtbot, window, start_device):
    device = start_device()
    page = devices_page(window)
    dialog = page.add_by_address()
    qtbot.keyClicks(dialog.host_edit, "127.0.0.1")
    dialog.port_spin.setValue(device.port)
    with qtbot.waitSignal(dialog.finished, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert dialog.added_entry is not None
    assert page.model.row_of(device.identity.device_id) >= 0


def test_add_by_address_dialog_shows_why_nothing_answered(qtbot, window):
    page = devices_page(window)
    dialog = page.add_by_address()
    qtbot.keyClicks(dialog.host_edit, "127.0.0.1")
    dialog.port_spin.setValue(1)
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=WAIT_MS)
    assert "no Sightline device answered at 127.0.0.1:1" in dialog.error_label.text()
    assert dialog.isVisible()
    dialog.reject()


def test_appliance_advertised_by_avahi_appears_in_the_devices_view_and_goes_when_withdrawn(qtbot, window):
    """A device whose advert comes from the system's mDNS daemon (Avahi), not from our runtime."""
    import secrets

    from tests.peers.avahi import AvahiDaemon

    suffix = secrets.token_hex(6)
    device_id, name = f"sl-{suffix}", f"Avahi box {suffix}"
    page = devices_page(window)
    with AvahiDaemon() as avahi:
        publisher = avahi.start_tool(["avahi-publish-service", name, "_sightline._tcp", "7443", f"id={device_id}",
                                      f"name={name}", "api=v1", "port=7443", "fp=" + "ef" * 32, "ver=9.9.9"])
        row = wait_for_row(qtbot, page, device_id)
        assert page.model.index(row, NAME).data() == name
        assert page.model.entry_at(row).version == "9.9.9" and not page.model.entry_at(row).paired
        publisher.process.terminate()
        qtbot.waitUntil(lambda: page.model.row_of(device_id) < 0, timeout=WAIT_MS)


def test_audit_log_dialog_lists_who_did_what_and_exports_csv(qtbot, window, start_device, console_context, tmp_path):
    device = start_device()
    device_id = device.identity.device_id
    page = devices_page(window)
    wait_for_row(qtbot, page, device_id)
    console_context.appliances.pair(device_id, device.pairing.current_code())
    with console_context.appliances.connect(device_id) as client:
        try:
            client.stop_app("no-such-app")
        except Exception:
            pass
    wait_for_row(qtbot, page, device_id, lambda e: e.paired)
    page.select_device(device_id)
    assert page.audit_action.isEnabled()

    dialog = page.show_audit()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 2, timeout=WAIT_MS)
    newest = dialog.model.rows()[0]
    client_name = device.pairing.trusted_clients()[0].name
    assert newest[1:3] == ["stop", client_name] and newest[6] == "NOT_FOUND"
    assert dialog.model.rows()[1][1] == "pair"
    assert "2 entries" in dialog.status.text()

    out = tmp_path / "audit.csv"
    task = dialog.export_csv(out)
    qtbot.waitUntil(lambda: dialog.last_export is not None, timeout=WAIT_MS)
    assert task is not None and dialog.last_export == (out, 2)
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("time,action,actor") and ",pair," in lines[1] and ",stop," in lines[2]
    dialog.reject()


def test_provision_dialog_keeps_the_form_on_a_bad_address_then_writes_a_bundle_the_device_applies(
        qtbot, window, tmp_path, console_context):
    """Nothing typed after the bundle: the device applies it, the page reads its report and pairs."""
    from device_runtime.config import load_config
    from device_runtime.protocol.provisioning.manifest import report_name
    from device_runtime.provisioning.apply import Provisioner
    from device_runtime.runtime import DeviceRuntime

    page = devices_page(window)
    dialog = page.provision_new()
    qtbot.keyClicks(dialog.name_edit, "line3-box")
    row = dialog.interfaces[0]
    row.method_combo.setCurrentIndex(1)  # static
    qtbot.keyClicks(row.address_edit, "192.168.10.300/24")
    qtbot.keyClicks(dialog.folder_edit, str(tmp_path))
    assert dialog.start_writing() is None
    assert dialog.error_label.isVisible() and "192.168.10.300/24" in dialog.error_label.text()
    assert dialog.name_edit.text() == "line3-box", "the typing stays"
    dialog.interfaces[0].name_edit.clear()  # no network settings after all
    qtbot.keyClicks(dialog.secrets_edit, "mqtt-token=abc")
    qtbot.keyClicks(dialog.passphrase_edit, "long enough phrase")
    qtbot.keyClicks(dialog.passphrase_again_edit, "long enough phrase")
    dialog.start_writing()
    qtbot.waitUntil(lambda: dialog.built is not None, timeout=WAIT_MS)
    bundle = dialog.built.path
    assert bundle.parent == tmp_path and bundle.name == "line3-box.sightline-provision.zip"
    dialog.reject()

    config = load_config(None, name="fresh-box", data_dir=tmp_path / "device", listen="127.0.0.1:0",
                         interfaces=["127.0.0.1"], advertise=False, providers=["cpu"])
    from device_runtime.provisioning.apply import ProvisionOptions

    report = Provisioner(config, ProvisionOptions(passphrase="long enough phrase", root=tmp_path / "root")).provision(bundle)
    assert report.ok, report.errors
    runtime = DeviceRuntime(config).start()
    try:
        page.adopt_report(tmp_path / report_name(bundle.name), hosts=("127.0.0.1",), port=runtime.port)
        device_id = runtime.identity.device_id
        qtbot.waitUntil(lambda: page.model.row_of(device_id) >= 0
                        and page.model.entry_at(page.model.row_of(device_id)).paired, timeout=WAIT_MS)
        entry = page.model.entry_at(page.model.row_of(device_id))
        assert entry.pinned_fingerprint == runtime.identity.fingerprint
        qtbot.waitUntil(lambda: "is paired and pinned" in page.provision_status.text(), timeout=WAIT_MS)
        assert "secret mqtt-token stored" in page.provision_status.text()
    finally:
        runtime.stop(grace=0.2)


def test_update_device_software_pushes_a_signed_deb_with_progress(qtbot, window, start_device, console_context,
                                                                    tmp_path):
    from tests.integration.test_software_update import make_deb

    device = start_device()
    device_id = device.identity.device_id
    page = devices_page(window)
    wait_for_row(qtbot, page, device_id)
    console_context.appliances.pair(device_id, device.pairing.current_code())
    page.select_device(device_id)
    dialog = page.open_update(make_deb(tmp_path, "99.2.0"))
    assert dialog.chosen_devices() == [device_id]
    dialog.start()
    qtbot.waitUntil(lambda: bool(dialog.results), timeout=WAIT_MS)
    assert dialog.results[device_id].ok, dialog.results
    assert "version 99.2.0 staged" in dialog.table.item(0, 3).text()
    assert device.updates.state().state == "staged"
    dialog.reject()


def test_site_export_then_import_through_the_dialogs(qtbot, window, console_context, tmp_path):
    from console_app.core.credentials import CredentialStore
    from console_app.core.persistence import CameraDraft, InventoryStore

    office = InventoryStore(f"sqlite:///{tmp_path / 'office.sqlite'}",
                            credentials=CredentialStore(tmp_path / "office-secrets", use_keyring=False))
    office.cameras.add_camera(CameraDraft(name="Dock 2", host="10.0.5.31", stream_uri="rtsp://10.0.5.31/s1",
                                          username="viewer"), "dock-pass")
    laptop = InventoryStore(f"sqlite:///{tmp_path / 'laptop.sqlite'}",
                            credentials=CredentialStore(tmp_path / "laptop-secrets", use_keyring=False))
    page = devices_page(window)
    try:
        console_context.inventory = office
        export = page.open_site(True)
        qtbot.keyClicks(export.path_edit, str(tmp_path / "plant"))
        for edit in (export.passphrase_edit, export.passphrase_again_edit):
            qtbot.keyClicks(edit, "plant passphrase")
        export.start()
        qtbot.waitUntil(lambda: export.summary is not None, timeout=WAIT_MS)
        assert "Exported 0 device(s), 1 camera(s)" in export.status.text()
        export.reject()

        console_context.inventory = laptop
        dialog = page.open_site(False)
        qtbot.keyClicks(dialog.path_edit, str(tmp_path / "plant.sightline-site.zip"))
        qtbot.keyClicks(dialog.passphrase_edit, "wrong passphrase")
        dialog.start()
        qtbot.waitUntil(lambda: "wrong passphrase" in dialog.status.text(), timeout=WAIT_MS)
        assert laptop.cameras.list_cameras() == []
        dialog.passphrase_edit.clear()
        qtbot.keyClicks(dialog.passphrase_edit, "plant passphrase")
        dialog.start()
        qtbot.waitUntil(lambda: dialog.summary is not None, timeout=WAIT_MS)
        camera = laptop.cameras.list_cameras()[0]
        assert laptop.cameras.camera_password(camera.id) == "dock-pass"
        dialog.reject()
    finally:
        console_context.inventory = None
        office.close()
        laptop.close()


def test_a_report_read_before_the_device_is_up_pairs_it_when_it_appears_on_the_lan(
        qtbot, window, start_device, console_context, tmp_path):
    import socket

    from device_runtime.config import load_config
    from device_runtime.protocol.provisioning.manifest import report_name
    from device_runtime.provisioning.apply import Provisioner, ProvisionOptions

    page = devices_page(window)
    from console_app.core.services.provisioning import BundleRequest

    built = page.provisioning.build(BundleRequest(device_name="late-box"), tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = load_config(None, name="late-box", data_dir=tmp_path / "device", listen=f"127.0.0.1:{port}",
                         interfaces=["127.0.0.1"], advertise=False, providers=["cpu"])
    loopback = {"lo0": [{"address": "127.0.0.1/8", "dynamic": False}]}
    report = Provisioner(config, ProvisionOptions(root=tmp_path / "root", addresses=lambda: loopback)).provision(
        built.path)
    assert report.ok and report.port == port

    page.adopt_report(tmp_path / report_name(built.path.name))
    qtbot.waitUntil(lambda: "paired as soon as it appears" in page.provision_status.text(), timeout=WAIT_MS)
    device = start_device(port=port, data_dir=tmp_path / "device")  # now it boots and advertises
    device_id = device.identity.device_id
    wait_for_row(qtbot, page, device_id, lambda e: e.paired)
    qtbot.waitUntil(lambda: "appeared on the LAN and is paired" in page.provision_status.text(), timeout=WAIT_MS)
    assert page.model.entry_at(page.model.row_of(device_id)).pinned_fingerprint == device.identity.fingerprint


def test_ctrl_p_on_another_page_brings_the_devices_page_to_say_what_to_select(qtbot, window, start_device):
    page = devices_page(window)
    for device in (start_device(), start_device()):
        wait_for_row(qtbot, page, device.identity.device_id)
    page.table.clearSelection()
    window.show_page(window.page_row("Settings"))
    [pair] = [a for a in window.menuBar().actions()[2].menu().actions() if a.text() == "&Pair…"]
    pair.trigger()  # what Devices › Pair… (Ctrl+P) does from any page
    assert window.current_page() is page and page.notice.isVisible()
    assert "Select a device in the list first" in page.notice.text()


def test_devices_a_site_import_brings_are_listed_at_once_the_paired_one_usable(qtbot, tmp_path):
    """The office console is paired with a device (which does not advertise, so only the import can list it);
    a laptop console imports the office's site file and its Devices page shows the device paired, without
    a restart, and the imported pairing works; a device the office knew unpaired is listed by address."""
    from console_app.core.credentials import CredentialStore
    from console_app.core.persistence import InventoryStore
    from console_app.core.services.site_transfer import export_site
    from console_app.ui.context import ConsoleContext
    from console_app.ui.tasks import TaskRunner
    from device_runtime.config import load_config
    from device_runtime.runtime import DeviceRuntime

    def inventory(name: str) -> InventoryStore:
        return InventoryStore(f"sqlite:///{tmp_path / name}.sqlite",
                              credentials=CredentialStore(tmp_path / f"{name}-secrets", use_keyring=False))

    device = DeviceRuntime(load_config(None, name="line3-box", data_dir=tmp_path / "device", listen="127.0.0.1:0",
                                       interfaces=["127.0.0.1"], advertise=False, providers=["cpu"])).start()
    office_inventory, laptop_inventory = inventory("office"), inventory("laptop")
    office = ConsoleContext.create(tmp_path / "office", interfaces=["127.0.0.1"], start=False,
                                   inventory=office_inventory)
    laptop = ConsoleContext.create(tmp_path / "laptop", interfaces=["127.0.0.1"], inventory=laptop_inventory)
    try:
        device_id = device.identity.device_id
        office.appliances.add_by_address("127.0.0.1", device.port)
        office.appliances.pair(device_id, device.pairing.current_code())
        office_inventory.devices.record_seen("sl-spare0000box", "spare-box", "127.0.0.1", 9)
        site = tmp_path / "plant.sightline-site.zip"
        export_site(site, office_inventory, passphrase="plant passphrase")

        page = DevicesPage(laptop, TaskRunner(laptop.workers))
        qtbot.addWidget(page)
        assert page.model.row_of(device_id) < 0
        dialog = page.open_site(False)
        qtbot.keyClicks(dialog.path_edit, str(site))
        qtbot.keyClicks(dialog.passphrase_edit, "plant passphrase")
        dialog.start()
        qtbot.waitUntil(lambda: dialog.summary is not None, timeout=WAIT_MS)
        assert "Imported 2 device(s)" in dialog.status.text()
        row = wait_for_row(qtbot, page, device_id, lambda e: e.paired and e.reachable)
        entry = page.model.entry_at(row)
        assert entry.name == "line3-box" and entry.pinned_fingerprint == device.identity.fingerprint
        with laptop.appliances.connect(device_id) as client:
            assert client.list_apps() == []
        wait_for_row(qtbot, page, "sl-spare0000box", lambda e: not e.paired and e.reachable is False)
        dialog.reject()
    finally:
        laptop.close()
        office.close()
        device.stop(grace=0.2)
        office_inventory.close()
        laptop_inventory.close()


def test_provision_dialog_binds_a_registered_camera_carries_a_library_model_and_encrypts_for_a_paired_device(
        qtbot, window, tmp_path, console_context):
    """Cameras come from the inventory (password never shown, read only when writing), models from the library,
    and the secrets are sealed for a paired device's key; a camera id no app uses is refused with the form kept."""
    from console_app.core.credentials import CredentialStore
    from console_app.core.packaging import build_package_from_members
    from console_app.core.persistence import CameraDraft, InventoryStore
    from console_app.core.services.model_library import ModelLibrary
    from device_runtime.config import load_config
    from device_runtime.provisioning.apply import Provisioner, ProvisionOptions
    from device_runtime.runtime import DeviceRuntime
    from device_runtime.security.secret_store import SecretStore
    from tests.peers.onnx_models import make_constant_detector

    inventory = InventoryStore(f"sqlite:///{tmp_path / 'inventory.sqlite'}",
                               credentials=CredentialStore(tmp_path / "secrets", use_keyring=False))
    inventory.cameras.add_camera(CameraDraft(name="Dock 2", host="10.0.5.31", stream_uri="rtsp://10.0.5.31/s1",
                                             username="viewer"), "dock-pass")
    library = ModelLibrary(tmp_path / "library")
    model = library.import_file(make_constant_detector(tmp_path / "widgets.onnx", "yolov8", [(140, 140, 180, 180, 0.8, 0)],
                                                       num_classes=3), name="widgets", labels=["widget", "gadget", "person"])
    app = tmp_path / "dock-1.0.0.tar.gz"
    app.write_bytes(build_package_from_members({
        "schema": "sightline.app/v2", "id": "dock", "name": "Dock", "version": "1.0.0", "kind": "detector",
        "cameras": [{"id": "Dock-2", "url": "rtsp://placeholder.invalid/s1"}],
        "model": {"name": "widgets"}, "params": {"confidence": 0.5, "geometry": {}}}, {}))
    config = load_config(None, name="dock-box", data_dir=tmp_path / "device", listen="127.0.0.1:0",
                         interfaces=["127.0.0.1"], advertise=False, providers=["cpu"])
    device = DeviceRuntime(config).start()
    console_context.inventory, console_context.model_library = inventory, library
    try:
        device_id = device.identity.device_id
        console_context.appliances.add_by_address("127.0.0.1", device.port)
        console_context.appliances.pair(device_id, device.pairing.current_code())
        page = devices_page(window)
        dialog = page.provision_new()
        qtbot.waitUntil(lambda: dialog.choices is not None, timeout=WAIT_MS)
        table = dialog.cameras_table
        assert [table.item(0, c).text() for c in range(3)] == ["Dock 2", "rtsp://10.0.5.31/s1", "Dock-2"]
        assert dialog.models_list.item(0).text() == f"widgets v{model.version}, 3 labels"
        assert dialog.protect_combo.count() == 2 and dialog.protect_combo.itemData(1) == device_id

        qtbot.keyClicks(dialog.name_edit, "dock-box")
        dialog.interfaces[0].name_edit.clear()
        dialog.apps_list.addItem(str(app))
        dialog.set_camera_checked("Dock 2", bind_as="Gate")
        dialog.models_list.item(0).setCheckState(Qt.CheckState.Checked)
        dialog.protect_combo.setCurrentIndex(1)
        assert not dialog.passphrase_edit.isEnabled()
        qtbot.keyClicks(dialog.folder_edit, str(tmp_path))
        dialog.start_writing()
        qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=WAIT_MS)
        assert "no app in the bundle uses camera id(s) Gate" in dialog.error_label.text()
        assert dialog.name_edit.text() == "dock-box" and dialog.chosen_cameras() == [(1, "Gate")]
        assert dialog.chosen_models() == [model.id] and dialog.protect_combo.currentData() == device_id
        assert not list(tmp_path.glob("*.sightline-provision.zip"))

        dialog.set_camera_checked("Dock 2", bind_as="Dock-2")
        dialog.start_writing()
        qtbot.waitUntil(lambda: dialog.built is not None, timeout=WAIT_MS)
        built = dialog.built
        assert "Camera Dock-2 bound in dock-1.0.0.tar.gz" in dialog.result_label.text()
        assert built.manifest.secrets.scheme == "device-key"
        assert built.manifest.secrets.names == ["camera/Dock-2/password"]
        assert built.manifest.target.device_id == device_id
        assert [m.name for m in built.manifest.models] == ["widgets"]
        assert b"dock-pass" not in built.path.read_bytes()
        dialog.reject()

        device.stop(grace=0.2)  # provisioning takes the data folder alone
        report = Provisioner(config, ProvisionOptions(root=tmp_path / "root")).provision(built.path)
        assert report.ok, report.errors
        assert SecretStore(tmp_path / "device").get("camera/Dock-2/password") == "dock-pass"
        device = DeviceRuntime(config).start()
        console_context.appliances.add_by_address("127.0.0.1", device.port)
        with console_context.appliances.connect(device_id) as client:
            installed = {a.app_id: a for a in client.list_apps()}["dock"]
        assert "rtsp://viewer@10.0.5.31/s1" in installed.manifest_json and installed.model == "widgets"
    finally:
        console_context.inventory = console_context.model_library = None
        device.stop(grace=0.2)
        inventory.close()
