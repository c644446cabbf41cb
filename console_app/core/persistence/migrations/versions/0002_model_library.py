"""model library: one row per stored model version

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 02:50:00

The ``models`` table of 0001 stays (unused) for now; the library needs
versions per name, tensors and opset, which it never had.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("decoder", sa.String(length=32), nullable=False),
        sa.Column("detected_decoder", sa.String(length=32), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("opset", sa.Integer(), nullable=True),
        sa.Column("input_height", sa.Integer(), nullable=True),
        sa.Column("input_width", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_models")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_library_models_name_version")),
        sa.UniqueConstraint("sha256", name=op.f("uq_library_models_sha256")),
    )


def downgrade() -> None:
    op.drop_table("library_models")
