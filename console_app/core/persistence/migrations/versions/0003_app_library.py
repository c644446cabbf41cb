"""application library: which model each app version bundles, who saved it

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_version_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_version_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(length=128), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_version_id"],
            ["app_versions.id"],
            name=op.f("fk_app_version_sources_app_version_id_app_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_version_sources")),
        sa.UniqueConstraint("app_version_id", name=op.f("uq_app_version_sources_app_version_id")),
    )


def downgrade() -> None:
    op.drop_table("app_version_sources")
