"""Inventory tables of the application library (migration 0003).

``apps`` and ``app_versions`` (in :mod:`~console_app.core.persistence.models`)
hold an app and its immutable versions with their manifests. The library also
needs, per version, which library model it bundles and who saved it; that is
``app_version_sources``, one row per version, so the older tables stay as the
first migration made them.

Manifests stored here never carry camera passwords: the library strips them
and adds them back from the credential store only when it builds a package.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from console_app.core.persistence.models import Base


class AppVersionSource(Base):
    """What an app version was built from: its library model and who saved it, why."""

    __tablename__ = "app_version_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_version_id: Mapped[int] = mapped_column(
        ForeignKey("app_versions.id", ondelete="CASCADE"), unique=True
    )
    # The ModelLibrary id of the model the package bundles.
    model_id: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
