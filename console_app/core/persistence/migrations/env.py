"""Alembic environment for the inventory, shipped inside the package (no alembic.ini at run time).

The console calls :func:`console_app.core.persistence.database.upgrade_to_head`,
which hands us an open connection in ``config.attributes["connection"]``. For
developers writing a new revision, ``sqlalchemy.url`` in the Config is used
instead (see ``database.alembic_config``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from console_app.core.persistence.models import Base

config = context.config


def run_with(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            run_with(conn)
            conn.commit()
    finally:
        engine.dispose()
