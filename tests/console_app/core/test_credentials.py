"""The credential store: the encrypted-file fallback for real, and the keyring path with a real
in-process keyring backend.

keyring's documented way to plug in a backend is to subclass
``keyring.backend.KeyringBackend`` and pass an instance to ``keyring.set_keyring``;
:class:`InMemoryKeyring` below does exactly that.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import keyring
import pytest
from jaraco.classes import properties
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import KeyringLocked, PasswordDeleteError

from console_app.core.credentials import (
    KEY_FILE_NAME,
    SECRETS_FILE_NAME,
    SERVICE_NAME,
    CredentialStore,
    CredentialStoreError,
    redact,
)

SECRET = "p@ss w0rd/with:odd&chars"


class InMemoryKeyring(KeyringBackend):
    """A complete keyring backend that keeps secrets in a dict (keyring's plug-in interface).

    Subclassing registers it with keyring's auto-detection for the whole test
    process; its priority raises, which keyring reads as "not viable", so only
    tests that pass it explicitly (``set_keyring``) ever use it.
    """

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("test-only backend: never chosen by keyring's auto-detection")

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


class LockedKeyring(InMemoryKeyring):
    """A keyring that refuses every write, echoing the password in its error.

    A fake for a fault we cannot cause with a real backend here (a locked Secret
    Service collection needs a desktop session); the echo checks our message
    never passes a backend's text through.
    """

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked(f"collection locked while storing {password}")


@pytest.fixture
def process_keyring():
    """Sets the process-wide keyring backend for one test, restoring the previous one after."""
    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


# -- encrypted-file fallback -----------------------------------------------------------


def test_without_a_usable_keyring_secrets_go_to_an_encrypted_file_readable_by_a_new_store(
    tmp_path: Path, process_keyring
):
    process_keyring(fail.Keyring())
    store = CredentialStore(tmp_path)
    assert store.kind == f"encrypted file ({tmp_path / SECRETS_FILE_NAME})"
    assert not store.uses_keyring
    assert str(tmp_path / SECRETS_FILE_NAME) in store.where_for_user()
    assert "no keyring" in store.where_for_user()

    store.put("camera:1", SECRET)

    assert CredentialStore(tmp_path).get("camera:1") == SECRET
    raw = (tmp_path / SECRETS_FILE_NAME).read_bytes()
    assert SECRET.encode() not in raw and b"camera:1" not in raw


def test_fallback_files_are_private_to_the_user(tmp_path: Path):
    CredentialStore(tmp_path / "data", use_keyring=False).put("camera:1", SECRET)

    for name in (SECRETS_FILE_NAME, KEY_FILE_NAME):
        mode = stat.S_IMODE(os.stat(tmp_path / "data" / name).st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"
    assert stat.S_IMODE(os.stat(tmp_path / "data").st_mode) == 0o700


def test_fallback_put_get_delete_round_trip(tmp_path: Path):
    store = CredentialStore(tmp_path, use_keyring=False)
    store.put("camera:1", "one")
    store.put("camera:2", "two")
    store.put("camera:1", "uno")

    assert (store.get("camera:1"), store.get("camera:2"), store.get("camera:3")) == (
        "uno",
        "two",
        None,
    )
    assert store.delete("camera:1") is True
    assert store.delete("camera:1") is False
    assert store.file_refs() == {"camera:2"}


def test_fallback_with_a_lost_key_file_says_so_and_does_not_overwrite_the_secrets(tmp_path: Path):
    CredentialStore(tmp_path, use_keyring=False).put("camera:1", SECRET)
    (tmp_path / KEY_FILE_NAME).unlink()
    before = (tmp_path / SECRETS_FILE_NAME).read_bytes()

    with pytest.raises(
        CredentialStoreError, match=f"its key file {tmp_path / KEY_FILE_NAME} is missing"
    ):
        CredentialStore(tmp_path, use_keyring=False).put("camera:2", "x")

    assert (tmp_path / SECRETS_FILE_NAME).read_bytes() == before


def test_fallback_with_a_key_from_another_copy_cannot_decrypt_and_says_so(tmp_path: Path):
    CredentialStore(tmp_path / "a", use_keyring=False).put("camera:1", SECRET)
    CredentialStore(tmp_path / "b", use_keyring=False).put("camera:1", "other")
    (tmp_path / "b" / KEY_FILE_NAME).replace(tmp_path / "a" / KEY_FILE_NAME)

    with pytest.raises(CredentialStoreError, match="cannot be decrypted") as raised:
        CredentialStore(tmp_path / "a", use_keyring=False).get("camera:1")
    assert SECRET not in str(raised.value)


def test_secrets_never_reach_the_log(tmp_path: Path, caplog):
    caplog.set_level(logging.DEBUG)
    store = CredentialStore(tmp_path, use_keyring=False)
    store.put("camera:1", SECRET)
    store.get("camera:1")
    store.delete("camera:1")
    assert SECRET not in caplog.text


# -- keyring path -----------------------------------------------------------------------


def test_with_a_usable_keyring_secrets_go_there_under_the_sightline_service(
    tmp_path: Path, process_keyring
):
    backend = InMemoryKeyring()
    process_keyring(backend)
    store = CredentialStore(tmp_path)

    store.put("camera:1", SECRET)

    assert backend.secrets == {(SERVICE_NAME, "camera:1"): SECRET}
    assert store.get("camera:1") == SECRET
    assert not (tmp_path / SECRETS_FILE_NAME).exists()
    assert "InMemoryKeyring" in store.kind
    assert store.uses_keyring and "keyring" in store.where_for_user()
    assert store.delete("camera:1") is True and store.delete("camera:1") is False
    assert backend.secrets == {}


def test_test_keyrings_are_never_auto_detected_by_other_tests():
    from keyring.backend import get_all_keyring

    assert not any(isinstance(ring, InMemoryKeyring) for ring in get_all_keyring())


def test_keyring_refusal_is_reported_without_the_backends_text_or_the_secret(tmp_path: Path):
    store = CredentialStore(tmp_path, keyring_backend=LockedKeyring())

    with pytest.raises(
        CredentialStoreError, match="could not store the secret 'camera:1'"
    ) as raised:
        store.put("camera:1", SECRET)

    assert SECRET not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


# -- redact -------------------------------------------------------------------------------


def test_redact_removes_plain_and_url_encoded_secrets():
    text = f"open failed: rtsp://admin:p%40ss%20w0rd%2Fwith%3Aodd%26chars@10.0.0.5/ ({SECRET})"

    assert redact(text, [SECRET, None, ""]) == "open failed: rtsp://admin:***@10.0.0.5/ (***)"


def test_empty_reference_is_refused(tmp_path: Path):
    with pytest.raises(CredentialStoreError, match="non-empty"):
        CredentialStore(tmp_path, use_keyring=False).put(" ", "x")
