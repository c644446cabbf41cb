"""Where camera passwords and device client keys live: the OS keyring, or an encrypted file.

:class:`CredentialStore` keeps secrets under opaque references (``camera:…``,
``device-key:…``); the inventory database only ever holds the reference.

* With a usable keyring backend (Windows Credential Locker, macOS Keychain,
  Secret Service / KWallet on a Linux desktop) secrets go there, under the
  service name ``"sightline"``.
* Where there is none (``keyring`` falls back to its ``fail`` or ``null``
  backend: headless Linux, CI, some kiosks) they go to a Fernet-encrypted file
  in the user's data folder, with the key in a separate file, both mode 0600.

What the encrypted file protects against, honestly: casual disclosure (someone
opening the folder or grepping the disk for a password), secrets ending up in
copies of the inventory database or its backups, in logs and in bug reports.
What it does NOT protect against: anyone who can read the user's files (a local
attacker with the user's rights, root, malware running as the user, a backup
that holds both files), because the key sits next to the data. Only a real OS
keyring, which ties secrets to the user's login, raises that bar.

Secrets never appear in log records or exception messages from this module;
:func:`redact` scrubs them from text on other error paths.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from console_app.core.files import write_private_file

log = logging.getLogger(__name__)

SERVICE_NAME = "sightline"
SECRETS_FILE_NAME = "credentials.enc"
KEY_FILE_NAME = "credentials.key"
REDACTED = "***"


class CredentialStoreError(RuntimeError):
    """A secret could not be stored, read or removed; the message never holds the secret."""


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-empty secret replaced by ``***``.

    Also catches the percent-encoded form, since passwords often travel inside
    URLs (``rtsp://user:p%40ss@host/``).
    """
    forms: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        forms.add(secret)
        forms.add(urllib.parse.quote(secret, safe=""))
        forms.add(urllib.parse.quote_plus(secret, safe=""))
    # Longest first, so a secret that contains another is replaced whole.
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


def usable_keyring_backend():
    """The process's keyring backend when it can really keep secrets, else ``None``.

    keyring reports "no backend" by selecting its ``fail`` backend (every call
    raises) or ``null`` backend (silently drops everything), or a chainer with
    nothing in it; all three mean "use the encrypted file".
    """
    import keyring
    from keyring.backends import chainer, fail, null

    backend = keyring.get_keyring()
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


class CredentialStore:
    """Secrets by reference: ``put(ref, secret)``, ``get(ref)``, ``delete(ref)``.

    ``keyring_backend``: a keyring ``KeyringBackend`` to use; default: the
    process's backend when usable (see :func:`usable_keyring_backend`).
    ``folder``: where the encrypted fallback file and its key live; default the
    user data folder. ``use_keyring=False`` forces the file (tests, portable installs).
    Thread-safe within one process.
    """

    def __init__(
        self,
        folder: Path | None = None,
        keyring_backend=None,
        use_keyring: bool = True,
    ) -> None:
        self._backend = None
        if use_keyring:
            self._backend = (
                keyring_backend if keyring_backend is not None else usable_keyring_backend()
            )
        if folder is None:
            from console_app.core.settings import default_data_dir

            folder = default_data_dir()
        self.folder = Path(folder)
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        """``"keyring (<backend name>)"`` or ``"encrypted file (<path>)"``, for the Settings page."""
        if self._backend is not None:
            return f"keyring ({type(self._backend).__module__}.{type(self._backend).__name__})"
        return f"encrypted file ({self.folder / SECRETS_FILE_NAME})"

    @property
    def uses_keyring(self) -> bool:
        """Whether secrets go to the OS keyring (else to the encrypted file)."""
        return self._backend is not None

    def where_for_user(self) -> str:
        """Where a secret put here ends up, in words for a form: the keyring or the file's path."""
        if self._backend is not None:
            return "in this computer's keyring (your login protects it)"
        return (f"in an encrypted file, {self.folder / SECRETS_FILE_NAME} (no keyring is available on "
                "this computer; anyone who can read your files can read it)")

    # -- public API ------------------------------------------------------------------

    def put(self, ref: str, secret: str) -> None:
        """Store ``secret`` under ``ref``, replacing any previous one."""
        _check_ref(ref)
        if not isinstance(secret, str):
            raise CredentialStoreError(
                f"the secret for '{ref}' must be text, not {type(secret).__name__}"
            )
        if self._backend is not None:
            self._keyring_call(
                "store", ref, lambda: self._backend.set_password(SERVICE_NAME, ref, secret)
            )
            return
        with self._lock:
            secrets = self._read_file()
            secrets[ref] = secret
            self._write_file(secrets)
        log.debug("stored secret %s in the encrypted file", ref)

    def get(self, ref: str) -> str | None:
        """The secret stored under ``ref``, or ``None`` when there is none."""
        _check_ref(ref)
        if self._backend is not None:
            return self._keyring_call(
                "read", ref, lambda: self._backend.get_password(SERVICE_NAME, ref)
            )
        with self._lock:
            return self._read_file().get(ref)

    def delete(self, ref: str) -> bool:
        """Remove the secret under ``ref``; ``False`` when there was none (not an error)."""
        _check_ref(ref)
        if self._backend is not None:
            from keyring.errors import PasswordDeleteError

            if (
                self._keyring_call(
                    "read", ref, lambda: self._backend.get_password(SERVICE_NAME, ref)
                )
                is None
            ):
                return False
            try:
                self._backend.delete_password(SERVICE_NAME, ref)
            except PasswordDeleteError:
                return False
            except Exception as exc:  # keyring backends raise a variety of types
                raise CredentialStoreError(
                    f"the keyring refused to delete the secret '{ref}': {type(exc).__name__}"
                ) from None
            return True
        with self._lock:
            secrets = self._read_file()
            if ref not in secrets:
                return False
            del secrets[ref]
            self._write_file(secrets)
            return True

    def file_refs(self) -> set[str]:
        """The references held in the encrypted file (diagnostics and tests).

        Keyrings cannot be enumerated portably, so with a keyring backend this
        raises :class:`CredentialStoreError`.
        """
        if self._backend is not None:
            raise CredentialStoreError(f"{self.kind} cannot list its secrets")
        with self._lock:
            return set(self._read_file())

    # -- keyring -----------------------------------------------------------------------

    def _keyring_call(self, action: str, ref: str, call):
        try:
            return call()
        except Exception as exc:  # keyring backends raise a variety of types
            # ``from None`` and only the type name: a backend's message could echo the secret.
            raise CredentialStoreError(
                f"the keyring could not {action} the secret '{ref}' "
                f"({type(self._backend).__name__}: {type(exc).__name__}); is it locked?"
            ) from None

    # -- encrypted file ----------------------------------------------------------------

    @property
    def _secrets_path(self) -> Path:
        return self.folder / SECRETS_FILE_NAME

    @property
    def _key_path(self) -> Path:
        return self.folder / KEY_FILE_NAME

    def _fernet(self, create: bool):
        from cryptography.fernet import Fernet

        try:
            key = self._key_path.read_bytes().strip()
        except FileNotFoundError:
            if not create:
                return None
            key = Fernet.generate_key()
            write_private_file(self._key_path, key)
        try:
            return Fernet(key)
        except ValueError:
            raise CredentialStoreError(
                f"the credential key file {self._key_path} is damaged (not a Fernet key); "
                "restore it from a backup or delete both it and "
                f"{self._secrets_path.name} and enter the passwords again"
            ) from None

    def _read_file(self) -> dict[str, str]:
        from cryptography.fernet import InvalidToken

        try:
            token = self._secrets_path.read_bytes()
        except FileNotFoundError:
            return {}
        fernet = self._fernet(create=False)
        if fernet is None:
            raise CredentialStoreError(
                f"{self._secrets_path} exists but its key file {self._key_path} is missing; "
                "the stored passwords cannot be read"
            )
        try:
            data = json.loads(fernet.decrypt(token))
        except (InvalidToken, ValueError):
            raise CredentialStoreError(
                f"{self._secrets_path} cannot be decrypted with {self._key_path} "
                "(the file is damaged or the key belongs to another copy)"
            ) from None
        return {str(k): str(v) for k, v in data.items()}

    def _write_file(self, secrets: dict[str, str]) -> None:
        fernet = self._fernet(create=True)
        write_private_file(self._secrets_path, fernet.encrypt(json.dumps(secrets).encode("utf-8")))


def _check_ref(ref: str) -> None:
    if not isinstance(ref, str) or not ref.strip():
        raise CredentialStoreError(f"a credential reference must be non-empty text, not {ref!r}")
