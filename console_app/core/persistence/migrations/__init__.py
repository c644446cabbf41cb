"""Alembic migration environment for the inventory (a package so it ships in wheels)."""
