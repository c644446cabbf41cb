"""Cameras in the inventory, on SQLite and on a real PostgreSQL (see conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from console_app.core.persistence import (
    CameraDraft,
    DuplicateCamera,
    EditConflict,
    InventoryError,
    ProfileRecord,
    SecretInRecord,
)

PASSWORD = "Zq9!dock-3-secret"


def dock3(**overrides) -> CameraDraft:
    values = dict(
        name="Dock 3",
        host="10.1.2.3",
        onvif_port=80,
        manufacturer="Acme",
        model="IPC-2000",
        serial="SN-0003",
        endpoint_reference="urn:uuid:3f1e2d3c-0000-4000-8000-000000000003",
        stream_uri="rtsp://10.1.2.3:554/main",
        profile_token="main",
        snapshot_uri="http://10.1.2.3/snap.jpg",
        auth_method="ws-digest",
        clock_offset_s=7200.4,
        username="admin",
        profiles=(
            ProfileRecord("main", "Main", "H264", 1280, 720, 15.0, "rtsp://10.1.2.3:554/main"),
            ProfileRecord("sub", "Sub", "H264", 640, 480, 15.0, "rtsp://10.1.2.3:554/sub"),
        ),
    )
    values.update(overrides)
    return CameraDraft(**values)


def test_registered_camera_round_trips_with_profiles_and_its_password_in_the_credential_store(
    store, credentials
):
    saved = store.cameras.add_camera(dock3(), PASSWORD)

    listed = store.cameras.list_cameras()
    assert [c.id for c in listed] == [saved.id]
    camera = listed[0]
    assert (camera.name, camera.serial, camera.clock_offset_s, camera.version_id) == (
        "Dock 3",
        "SN-0003",
        7200.4,
        1,
    )
    assert [(p.token, p.width, p.height, p.fps) for p in camera.profiles] == [
        ("main", 1280, 720, 15.0),
        ("sub", 640, 480, 15.0),
    ]
    assert camera.updated_by == "console-a" and camera.created_at.tzinfo is not None
    assert camera.credential_ref and credentials.get(camera.credential_ref) == PASSWORD
    assert store.cameras.camera_password(saved.id) == PASSWORD


def test_stream_url_for_opening_carries_the_stored_credentials_and_the_record_does_not(store):
    saved = store.cameras.add_camera(dock3(), "p@ss:word/1")

    assert store.cameras.stream_url(saved.id) == "rtsp://admin:p%40ss%3Aword%2F1@10.1.2.3:554/main"
    assert "p@ss" not in store.cameras.get_camera(saved.id).stream_uri


def test_stream_url_of_a_camera_without_credentials_is_its_plain_uri(store):
    saved = store.cameras.add_camera(dock3(username=None), None)

    assert store.cameras.stream_url(saved.id) == "rtsp://10.1.2.3:554/main"


def test_registration_object_with_wizard_attribute_names_is_accepted(store):
    class Registration:  # the shape the registration wizard produces
        name, host, port = "Gate", "10.1.2.9", 8080
        chosen_stream_uri, clock_offset = "rtsp://10.1.2.9/h264", -3.5
        profiles = [{"token": "p0", "encoding": "H265", "width": 1920, "height": 1080, "fps": 25}]

    camera = store.cameras.add_camera(Registration(), None)

    assert (camera.onvif_port, camera.stream_uri, camera.clock_offset_s) == (
        8080,
        "rtsp://10.1.2.9/h264",
        -3.5,
    )
    assert camera.profiles[0].codec == "H265" and camera.credential_ref is None


def test_password_is_never_stored_in_the_database_even_when_the_stream_uri_carried_it(
    store, database_url, table_text
):
    draft = dock3(
        stream_uri=f"rtsp://admin:{PASSWORD}@10.1.2.3:554/main",
        snapshot_uri=f"http://admin:{PASSWORD}@10.1.2.3/snap.jpg",
    )

    camera = store.cameras.add_camera(draft, PASSWORD)

    assert camera.stream_uri == "rtsp://10.1.2.3:554/main"
    assert camera.snapshot_uri == "http://10.1.2.3/snap.jpg"
    text = table_text(store)
    assert "10.1.2.3:554/main" in text  # the scan does see the camera's data
    assert PASSWORD not in text
    if database_url.startswith("sqlite"):
        store.close()
        db_file = Path(database_url.removeprefix("sqlite:///"))
        for path in db_file.parent.glob(db_file.name + "*"):
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_a_password_in_the_stream_uris_query_goes_to_the_credential_store_and_back_into_the_url(
    store, credentials, table_text
):
    draft = dock3(username=None, stream_uri=f"rtsp://10.1.2.3/live?user=admin&pwd={PASSWORD}&channel=1",
                  snapshot_uri=f"http://10.1.2.3/snap.cgi?pwd={PASSWORD}")

    camera = store.cameras.add_camera(draft, None)

    assert camera.stream_uri == "rtsp://10.1.2.3/live?user=admin&pwd=&channel=1"
    assert camera.snapshot_uri == "http://10.1.2.3/snap.cgi?pwd="
    assert PASSWORD not in table_text(store)
    assert store.cameras.camera_password(camera.id) == PASSWORD
    assert store.cameras.stream_url(camera.id) == (
        "rtsp://10.1.2.3/live?user=admin&pwd=Zq9%21dock-3-secret&channel=1")


def test_a_query_password_that_differs_from_the_password_given_is_refused_naming_neither(store, credentials):
    draft = dock3(stream_uri="rtsp://10.1.2.3/live?user=admin&pwd=the-old-one")

    with pytest.raises(InventoryError, match="carries a password in its query that differs") as raised:
        store.cameras.add_camera(draft, PASSWORD)

    assert PASSWORD not in str(raised.value) and "the-old-one" not in str(raised.value)
    assert store.cameras.list_cameras() == [] and credentials.file_refs() == set()


def test_an_edit_that_would_put_a_password_into_a_stored_uri_is_refused(store, credentials, table_text):
    camera = store.cameras.add_camera(dock3(), PASSWORD)

    for uri in (f"rtsp://10.1.2.3/live?pwd={PASSWORD}", f"rtsp://admin:{PASSWORD}@10.1.2.3/live"):
        with pytest.raises(InventoryError, match="holds a password; nothing was changed") as raised:
            store.cameras.update_camera(camera.id, camera.version_id, stream_uri=uri)
        assert PASSWORD not in str(raised.value)

    assert store.cameras.get_camera(camera.id).stream_uri == "rtsp://10.1.2.3:554/main"
    assert PASSWORD not in table_text(store)


def test_a_query_password_an_older_console_stored_moves_to_the_credential_store_when_the_inventory_opens(
    open_store, credentials, table_text
):
    older = open_store("console-a")
    camera = older.cameras.add_camera(dock3(username=None), None)
    with older.engine.begin() as conn:  # what an older console wrote: the password in the URIs
        conn.execute(sa.text("UPDATE cameras SET stream_uri = :s, snapshot_uri = :p WHERE id = :id"),
                     {"s": f"rtsp://10.1.2.3/live?pwd={PASSWORD}", "p": f"http://10.1.2.3/snap?pwd={PASSWORD}",
                      "id": camera.id})
        conn.execute(sa.text("UPDATE camera_profiles SET stream_uri = :s"), {"s": f"rtsp://10.1.2.3/live?pwd={PASSWORD}"})

    newer = open_store("console-b")

    moved = newer.cameras.get_camera(camera.id)
    assert (moved.stream_uri, moved.snapshot_uri) == ("rtsp://10.1.2.3/live?pwd=", "http://10.1.2.3/snap?pwd=")
    assert {p.stream_uri for p in moved.profiles} == {"rtsp://10.1.2.3/live?pwd="}
    assert PASSWORD not in table_text(newer)
    assert newer.cameras.stream_url(camera.id) == "rtsp://10.1.2.3/live?pwd=Zq9%21dock-3-secret"
    assert open_store("console-c").cameras.get_camera(camera.id).version_id == moved.version_id, "once only"


def test_password_inside_a_stored_field_is_refused_and_nothing_is_saved(store, credentials):
    draft = dock3(name=f"Dock 3 (admin / {PASSWORD})")

    with pytest.raises(SecretInRecord, match="contains the password") as raised:
        store.cameras.add_camera(draft, PASSWORD)

    assert PASSWORD not in str(raised.value)
    assert store.cameras.list_cameras() == []
    assert credentials.file_refs() == set()


@pytest.mark.parametrize(
    "duplicate, named",
    [
        (
            dict(name="Other", serial="SN-other", stream_uri="rtsp://10.9.9.9/x"),
            "endpoint urn:uuid:3f1e",
        ),
        (
            dict(name="Other", endpoint_reference=None, stream_uri="rtsp://10.9.9.9/x"),
            "serial SN-0003",
        ),
        (
            dict(name="Other", endpoint_reference=None, serial=None),
            "stream rtsp://10.1.2.3:554/main",
        ),
    ],
    ids=["same-endpoint", "same-serial", "same-stream"],
)
def test_duplicate_registration_is_refused_naming_the_existing_camera_and_nothing_is_half_saved(
    store, credentials, duplicate, named
):
    first = store.cameras.add_camera(dock3(), PASSWORD)

    with pytest.raises(DuplicateCamera) as raised:
        store.cameras.add_camera(dock3(**duplicate), "another-secret-77")

    message = str(raised.value)
    assert named in message and "already registered as 'Dock 3'" in message
    assert raised.value.existing_id == first.id
    assert "another-secret-77" not in message
    assert [c.name for c in store.cameras.list_cameras()] == ["Dock 3"]
    assert credentials.file_refs() == {first.credential_ref}  # no orphan secret


def test_database_refusing_the_row_removes_the_password_again(store, credentials):
    # Two profiles with one token violate uq_camera_profiles_camera_id_token in the
    # database itself, after the password was already written.
    profile = ProfileRecord("main", "Main", "H264", 1280, 720, 15.0, None)
    draft = dock3(profiles=(profile, profile))

    with pytest.raises(InventoryError, match="nothing was stored") as raised:
        store.cameras.add_camera(draft, PASSWORD)

    assert PASSWORD not in str(raised.value)
    assert store.cameras.list_cameras() == []
    assert credentials.file_refs() == set()


def test_second_console_editing_the_same_camera_gets_a_conflict_and_can_apply_after_reload(
    open_store,
):
    console_a, console_b = open_store("workstation-a"), open_store("workstation-b")
    assert console_a.engine is not console_b.engine
    created = console_a.cameras.add_camera(dock3(), PASSWORD)
    seen_by_a = console_a.cameras.get_camera(created.id)
    seen_by_b = console_b.cameras.get_camera(created.id)

    console_a.cameras.update_camera(seen_by_a.id, seen_by_a.version_id, name="Dock 3 (north)")
    with pytest.raises(EditConflict) as raised:
        console_b.cameras.update_camera(seen_by_b.id, seen_by_b.version_id, host="10.1.2.33")

    conflict = raised.value
    assert "camera 'Dock 3 (north)' was changed by another console (by workstation-a at " in str(
        conflict
    )
    assert str(conflict).endswith("reload to see their change")
    assert conflict.current.name == "Dock 3 (north)" and conflict.current.version_id == 2
    assert conflict.attempted == {"host": "10.1.2.33"} and conflict.changed_by == "workstation-a"
    assert console_a.cameras.get_camera(created.id).host == "10.1.2.3"  # B's change was not applied

    # "Reload": B re-applies its change on top of the current record.
    merged = console_b.cameras.update_camera(
        conflict.current.id, conflict.current.version_id, **conflict.attempted
    )
    assert (merged.name, merged.host, merged.version_id) == ("Dock 3 (north)", "10.1.2.33", 3)
    assert console_a.cameras.get_camera(created.id).host == "10.1.2.33"


def test_edit_racing_another_consoles_commit_is_caught_by_the_version_column(open_store):
    """Console A commits between console B's read and B's UPDATE (a real session event, no
    fake): only the ``WHERE version_id = ?`` of B's UPDATE can notice."""
    console_a, console_b = open_store("workstation-a"), open_store("workstation-b")
    camera = console_a.cameras.add_camera(dock3(), PASSWORD)

    def a_commits_first(session, flush_context, instances):
        console_a.cameras.update_camera(camera.id, camera.version_id, name="Renamed by A")

    event.listen(console_b.sessions, "before_flush", a_commits_first, once=True)
    with pytest.raises(
        EditConflict, match="'Renamed by A' was changed by another console"
    ) as raised:
        console_b.cameras.update_camera(camera.id, camera.version_id, name="Renamed by B")

    assert raised.value.current.version_id == 2
    assert console_b.cameras.get_camera(camera.id).name == "Renamed by A"


def test_editing_a_camera_another_console_deleted_reports_the_deletion(open_store, credentials):
    console_a, console_b = open_store("workstation-a"), open_store("workstation-b")
    camera = console_a.cameras.add_camera(dock3(), PASSWORD)

    console_a.cameras.delete_camera(camera.id, camera.version_id)
    with pytest.raises(EditConflict, match="was deleted by another console") as raised:
        console_b.cameras.update_camera(camera.id, camera.version_id, name="Dock 3b")

    assert raised.value.deleted
    assert credentials.file_refs() == set()


def test_deleting_a_camera_removes_its_profiles_and_its_password(store, credentials):
    camera = store.cameras.add_camera(dock3(), PASSWORD)

    store.cameras.delete_camera(camera.id, camera.version_id)

    assert store.cameras.list_cameras() == []
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM camera_profiles")).scalar() == 0
    assert credentials.file_refs() == set()


def test_changing_the_password_replaces_the_secret_and_bumps_the_version(store, credentials):
    camera = store.cameras.add_camera(dock3(), PASSWORD)

    changed = store.cameras.set_camera_password(
        camera.id, camera.version_id, "operator", "new-pass-42"
    )

    assert changed.version_id == camera.version_id + 1 and changed.username == "operator"
    assert store.cameras.camera_password(camera.id) == "new-pass-42"
    assert credentials.file_refs() == {changed.credential_ref}


def test_edit_that_would_duplicate_another_camera_is_refused(store):
    store.cameras.add_camera(dock3(), PASSWORD)
    other = store.cameras.add_camera(
        dock3(name="Gate", serial="SN-9", endpoint_reference=None, stream_uri="rtsp://10.1.2.9/x"),
        None,
    )

    with pytest.raises(DuplicateCamera, match="serial SN-0003 is already registered as 'Dock 3'"):
        store.cameras.update_camera(other.id, other.version_id, serial="SN-0003")

    assert store.cameras.get_camera(other.id).serial == "SN-9"


def test_unknown_field_edit_is_a_programming_error(store):
    camera = store.cameras.add_camera(dock3(), None)
    with pytest.raises(ValueError, match="credential_ref"):
        store.cameras.update_camera(camera.id, camera.version_id, credential_ref="x")
