"""A real, throwaway PostgreSQL server on 127.0.0.1 for persistence tests.

:class:`PostgresServer` runs Debian's ``initdb`` and ``postgres`` (version 15,
``/usr/lib/postgresql/<ver>/bin``) on a free port, in a temporary folder, with
trust authentication for local connections only. PostgreSQL refuses to run as
root, and the test machines run as root, so when we are root the binaries run
as ``nobody`` via ``runuser`` and the folder is handed to that user.

It listens on 127.0.0.1 and on a Unix socket inside its own folder (never the
system's ``/var/run/postgresql``), so it coexists with any other server. It is
stopped by its own process id (SIGINT: PostgreSQL's "fast shutdown").

Usage::

    with PostgresServer() as pg:
        url = pg.create_database("inventory")   # postgresql+psycopg2://postgres@127.0.0.1:PORT/inventory
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be found or started; the message says what to install or fix."""


def find_bin_dir() -> Path:
    """The folder holding ``initdb`` and ``postgres`` (newest Debian version first)."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres"):
        return Path(on_path).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
        reverse=True,
    )
    if not candidates:
        raise PostgresUnavailable(
            "no initdb found on PATH or under /usr/lib/postgresql/*/bin; "
            "install Debian's 'postgresql' package"
        )
    return Path(candidates[0]).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder, serving 127.0.0.1:``port``."""

    def __init__(self, run_as: str = "nobody") -> None:
        self.bin_dir = find_bin_dir()
        self.run_as = run_as if os.geteuid() == 0 else None
        self.port = 0
        self.root: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> PostgresServer:
        """Create the cluster, start the server and wait until it accepts connections."""
        self.root = Path(tempfile.mkdtemp(prefix="sightline-pg-"))
        data = self.root / "data"
        self._log_path = self.root / "postgres.log"
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        os.chmod(self.root, 0o700)
        init = subprocess.run(
            self._as_user(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            cwd=self.root,
        )
        if init.returncode != 0:
            raise PostgresUnavailable(
                f"initdb failed ({init.returncode}): {init.stderr.decode(errors='replace')[-2000:]}"
            )
        self.port = free_port()
        log = open(self._log_path, "wb")  # noqa: SIM115 - the child owns it until stop()
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(self._log_path, user.pw_uid, user.pw_gid)
        self.process = subprocess.Popen(
            self._as_user(
                [
                    str(self.bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-k",
                    str(self.root),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    # Throwaway data: durability costs time and buys nothing here.
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ]
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
        )
        log.close()
        self._wait_ready()
        return self

    def _as_user(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *argv] if self.run_as else argv

    def _wait_ready(self) -> None:
        """Poll the TCP port until the server answers a real query (bounded)."""
        import psycopg2

        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last_error = ""
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise PostgresUnavailable(
                    f"postgres exited with {self.process.returncode}: {self.log_tail()}"
                )
            try:
                conn = psycopg2.connect(
                    host="127.0.0.1",
                    port=self.port,
                    user=SUPERUSER,
                    dbname="postgres",
                    connect_timeout=2,
                )
                conn.close()
                return
            except psycopg2.OperationalError as exc:
                # Startup takes a few hundred ms; there is no event to wait on but the port.
                last_error = str(exc).strip()
                time.sleep(0.05)
        self.stop()
        raise PostgresUnavailable(
            f"postgres did not accept connections on 127.0.0.1:{self.port} within "
            f"{STARTUP_TIMEOUT_S:.0f} s ({last_error}); log: {self.log_tail()}"
        )

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's log, for failure messages."""
        if self._log_path and self._log_path.exists():
            return self._log_path.read_text(errors="replace")[-chars:]
        return "(no log)"

    def stop(self) -> None:
        """Fast shutdown by process id, then remove the cluster folder."""
        if self.process is not None and self.process.poll() is None:
            # runuser forwards signals to its child; signal the postmaster's own pid when
            # we can find it so a stuck runuser cannot leave the server behind.
            pid = self._postmaster_pid() or self.process.pid
            os.kill(pid, signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT_S)
        self.process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _postmaster_pid(self) -> int | None:
        assert self.root is not None
        pid_file = self.root / "data" / "postmaster.pid"
        try:
            return int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- databases ---------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this server (no password: trust auth)."""
        return f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting anyone still using it."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres")
        try:
            conn.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()
