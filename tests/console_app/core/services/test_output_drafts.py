"""The builder's Outputs step without Qt: drafts checked by the device's model, secrets kept apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from console_app.core.credentials import CredentialStore
from console_app.core.services.output_drafts import (
    MissingOutputSecrets,
    OutputDrafts,
    output_secrets,
    save_output_secrets,
)


def test_a_new_output_names_the_field_to_fix_until_it_is_valid() -> None:
    drafts = OutputDrafts()
    index = drafts.add("mqtt")
    assert drafts.items[index]["name"] == "mqtt-1"
    assert drafts.problems() == []
    drafts.update(index, url="http://broker", topic="plant/{nope}")
    messages = [str(p) for p in drafts.problems()]
    assert messages[0].startswith("outputs[0].url: expected mqtt://host[:port] or mqtts://host[:port]")
    assert any(m.startswith("outputs[0].topic: template 'plant/{nope}' uses unknown field 'nope'") for m in messages)


def test_filters_must_name_the_apps_own_zones() -> None:
    drafts = OutputDrafts()
    drafts.add("modbus")
    drafts.update(0, events={"zones": ["dock"]})
    [problem] = drafts.problems(zones=["reject"], lines=[], classes=["part"], camera_ids=["cam-1"])
    assert str(problem) == "outputs[0].events.zones[0]: 'dock' is not one of the app's zones (reject)"


def test_typed_secrets_stay_out_of_the_manifest_and_reach_the_credential_store(tmp_path: Path) -> None:
    drafts = OutputDrafts()
    drafts.add("mqtt")
    drafts.update(0, username="line3")
    name = drafts.set_secret(0, "password_secret", "s3cret-pw")
    assert name == "output/mqtt-1/password"
    manifest = {"outputs": drafts.manifest_entries()}
    assert "s3cret-pw" not in repr(manifest)
    assert manifest["outputs"][0]["password_secret"] == name

    store = CredentialStore(tmp_path / "creds", use_keyring=False)
    with pytest.raises(MissingOutputSecrets, match="'output/mqtt-1/password'"):
        output_secrets(manifest, store)
    save_output_secrets(store, drafts.secrets())
    assert output_secrets(manifest, store) == {"output/mqtt-1/password": "s3cret-pw"}


def test_removing_an_output_forgets_its_secret_values() -> None:
    drafts = OutputDrafts()
    drafts.add("webhook")
    drafts.set_secret(0, "hmac_secret", "key")
    drafts.remove(0)
    assert drafts.secrets() == {}
