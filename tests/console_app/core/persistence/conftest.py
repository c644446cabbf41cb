"""Fixtures for the inventory tests: every database test runs on SQLite and on a real PostgreSQL.

The PostgreSQL server (tests/peers/postgres.py) starts once per session on
127.0.0.1; each test gets a fresh, empty database on it (or a fresh SQLite file).
"""

from __future__ import annotations

import datetime
import itertools
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from console_app.core.credentials import CredentialStore
from console_app.core.persistence import InventoryStore
from console_app.core.persistence.models import Base
from tests.peers.postgres import PostgresServer

_database_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL for the whole session, stopped by pid at the end."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def database_url(request, tmp_path: Path) -> str:
    """URL of a fresh, empty database: an SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'inventory.sqlite'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"inventory_{next(_database_names)}"
    yield server.create_database(name)
    server.drop_database(name)


@pytest.fixture
def credentials(tmp_path: Path) -> CredentialStore:
    """The real encrypted-file credential store, in this test's folder."""
    return CredentialStore(tmp_path / "secrets", use_keyring=False)


@pytest.fixture
def open_store(database_url: str, credentials: CredentialStore):
    """Opens consoles on the test database: ``open_store("host-a")``; all closed at the end."""
    stores: list[InventoryStore] = []

    def _open(editor: str = "console-a") -> InventoryStore:
        store = InventoryStore(database_url, credentials=credentials, editor=editor)
        stores.append(store)
        return store

    yield _open
    for store in stores:
        store.close()


@pytest.fixture
def store(open_store) -> InventoryStore:
    """One console's inventory on the test database."""
    return open_store("console-a")


def make_certificate_pem(common_name: str) -> str:
    """A real self-signed certificate (PEM), as a device would present."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def make_key_pem() -> str:
    """A real private key (PEM): the secret a pairing leaves with the console."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


@pytest.fixture
def new_certificate():
    """Makes real self-signed certificates: ``new_certificate("device-1")`` → PEM text."""
    return make_certificate_pem


@pytest.fixture
def new_key():
    """Makes real private keys (PEM text)."""
    return make_key_pem


def _table_text(store: InventoryStore) -> str:
    chunks = []
    with store.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                chunks.append(repr(tuple(row)))
    return "\n".join(chunks)


@pytest.fixture
def table_text():
    """Every value in every inventory table as one string: ``table_text(store)`` (secret scans)."""
    return _table_text
