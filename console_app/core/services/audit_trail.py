"""A device's audit log in the console: fetch it, and write it as CSV.

Shared by ``sightline-ctl audit`` and the Devices page. The rows are the
device's own entries (``ListAudit``); nothing is kept in the inventory: the
device is the record.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from console_app.core.services.event_log import guard_cell, local_iso_time

CSV_COLUMNS = ("time", "action", "actor", "actor certificate", "signing key", "target", "outcome", "detail")


class AuditExportError(Exception):
    """The CSV file could not be written; the message names it."""


def audit_rows(entries: Sequence[Any], *, guard: bool = True) -> list[list[str]]:
    """Header, then one row per entry (``pb.AuditEntry`` or anything with the same fields).

    ``guard``: prefix cells a spreadsheet would run as formulas (for files).
    """
    rows = [list(CSV_COLUMNS)]
    for e in entries:
        cells = [local_iso_time(e.time), e.action, e.actor, e.actor_fingerprint, e.signing_key,
                 e.target, e.outcome, e.detail]
        rows.append([guard_cell(str(c)) if guard else str(c) for c in cells])
    return rows


def write_audit_csv(target: Path | io.TextIOBase, entries: Sequence[Any]) -> int:
    """Write ``entries`` as CSV to a path (UTF-8 with BOM, for spreadsheets) or an open text file."""
    rows = audit_rows(entries)
    if not isinstance(target, (str, Path)):
        csv.writer(target).writerows(rows)
        return len(entries)
    path = Path(target)
    try:
        with open(path, "w", newline="", encoding="utf-8-sig") as f:
            csv.writer(f).writerows(rows)
    except OSError as exc:
        raise AuditExportError(f"could not write {path}: {exc.strerror or exc}") from exc
    return len(entries)
