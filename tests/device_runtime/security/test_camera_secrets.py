"""An installed app.json never keeps a camera password; the runner's URLs get it back, in memory only."""

from __future__ import annotations

import json

from device_runtime.protocol.apps.manifest import parse_manifest
from device_runtime.security.camera_secrets import take_camera_passwords, with_camera_passwords
from device_runtime.security.secret_store import SecretStore


def test_passwords_in_user_info_or_query_move_to_the_store_and_come_back_only_in_memory(tmp_path) -> None:
    manifest = {"schema": "sightline.app/v2", "id": "gate", "name": "Gate", "version": "1.0.0", "kind": "detector",
                "cameras": [{"id": "dock", "url": "rtsp://admin:d0ck%21@10.0.0.5/s1"},
                            {"id": "yard", "url": "rtsp://10.0.0.6/live?user=admin&pwd=y4rd&channel=2"},
                            {"id": "line", "url": "sim://production-line"}],
                "model": {"name": "det"}}
    path = tmp_path / "app.json"
    path.write_text(json.dumps(manifest))

    taken = take_camera_passwords(path)

    assert taken == {"camera/dock/password": "d0ck!", "camera/yard/password": "y4rd"}
    text = path.read_text()
    assert "d0ck" not in text and "y4rd" not in text
    store = SecretStore(tmp_path / "data")
    store.put_many(taken)
    opened = with_camera_passwords(parse_manifest(json.loads(text)), store)
    assert [c.url for c in opened.cameras] == [
        "rtsp://admin:d0ck%21@10.0.0.5/s1", "rtsp://10.0.0.6/live?user=admin&pwd=y4rd&channel=2", "sim://production-line"]
    assert take_camera_passwords(path) == {}, "a manifest without passwords is left alone"
