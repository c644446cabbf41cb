"""The PostgreSQL test peer itself: starts unprivileged on 127.0.0.1, serves, stops by pid, cleans up."""

from __future__ import annotations

import os

import sqlalchemy as sa

from tests.peers.postgres import PostgresServer


def test_postgres_peer_serves_a_fresh_database_on_loopback_and_leaves_nothing_behind():
    server = PostgresServer().start()
    root, pid = server.root, server._postmaster_pid()
    try:
        engine = sa.create_engine(server.create_database("peer_check"))
        with engine.connect() as conn:
            assert (
                conn.execute(sa.text("SELECT inet_server_addr()::text")).scalar() == "127.0.0.1/32"
            )
            if os.geteuid() == 0:  # PostgreSQL refuses root; the peer must have dropped it
                assert os.stat(root).st_uid != 0
        engine.dispose()
    finally:
        server.stop()

    assert pid is not None
    assert not root.exists()
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive, f"postmaster {pid} still running after stop()"
