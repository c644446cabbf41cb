"""Where sightline-ctl keeps what pairing gave it, per device target.

One JSON file per target in a private folder (0700, files 0600), and the
client's package signing key (``package_signing_key.pem``, 0600) beside
them. The console proper keeps both keys in the OS keyring instead.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict
from pathlib import Path

from console_app.core.files import write_private_file
from console_app.core.paired_credentials import PairedCredentials
from console_app.core.signing import PackageSigner, load_or_create_signer


def default_folder() -> Path:
    override = os.environ.get("SIGHTLINE_CTL_HOME")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir("sightline")) / "ctl"


class CredentialStore:
    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else default_folder()

    def signer(self) -> PackageSigner:
        """This client's package signer, made in the folder on first use (one per folder, every target)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        return load_or_create_signer(None, self.folder)

    def _path(self, target: str) -> Path:
        return self.folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", target) + ".json")

    def save(self, target: str, creds: PairedCredentials) -> Path:
        path = self._path(target)
        write_private_file(path, json.dumps(asdict(creds)).encode("utf-8"))
        return path

    def load(self, target: str) -> PairedCredentials | None:
        path = self._path(target)
        if not path.exists():
            return None
        return PairedCredentials(**json.loads(path.read_text(encoding="utf-8")))
