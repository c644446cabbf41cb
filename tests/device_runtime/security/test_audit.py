"""The device's audit log: append-only JSON lines, bounded by rotation, readable after a torn write."""

from __future__ import annotations

import json

from device_runtime.security.audit import LOCAL, Actor, AuditLog


def _clock(start: float = 1_700_000_000.0):
    t = [start]

    def now() -> float:
        t[0] += 1.0
        return t[0]

    return now


def test_audit_log_appends_entries_with_actor_and_outcome_readable_after_restart(tmp_path):
    log = AuditLog(tmp_path, clock=_clock())
    alice = Actor("alice-laptop", "ab" * 32, "cd" * 32)
    log.record("deploy", alice, target="widgets 1.0.0")
    log.record("params", alice, target="widgets", outcome="INVALID_ARGUMENT", detail="confidence must be <= 1")
    log.record("provision", LOCAL, target="bundle for cam-hall", detail="network: static eth0")

    again = AuditLog(tmp_path)
    entries = again.entries()
    assert [(e.action, e.actor, e.outcome) for e in entries] == [
        ("deploy", "alice-laptop", "ok"),
        ("params", "alice-laptop", "INVALID_ARGUMENT"),
        ("provision", "local (on the device)", "ok"),
    ]
    assert entries[0].actor_fingerprint == "ab" * 32 and entries[0].signing_key == "cd" * 32
    assert entries[1].detail == "confidence must be <= 1"
    # One JSON object per line, nothing else: a reader with jq or grep gets the same facts.
    lines = (tmp_path / "audit" / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["deploy", "params", "provision"]
    assert again.entries(action="params")[0].target == "widgets"
    assert [e.action for e in again.entries(limit=2)] == ["params", "provision"]
    assert [e.action for e in again.entries(since=entries[1].time)] == ["params", "provision"]


def test_audit_log_rotates_and_never_grows_past_its_bound(tmp_path):
    log = AuditLog(tmp_path, max_file_bytes=4096, keep_files=2, clock=_clock())
    actor = Actor("ctl", "ef" * 32)
    for i in range(400):
        log.record("start", actor, target=f"app-{i:03d}")
    files = sorted((tmp_path / "audit").iterdir())
    assert [f.name for f in files] == ["audit.1.jsonl", "audit.2.jsonl", "audit.jsonl"]
    assert sum(f.stat().st_size for f in files) <= 3 * 4096
    kept = log.entries()
    # The newest entries survive, in order, without gaps; the oldest were dropped.
    assert kept[-1].target == "app-399"
    numbers = [int(e.target.split("-")[1]) for e in kept]
    assert numbers == list(range(numbers[0], 400)) and numbers[0] > 0


def test_audit_log_skips_a_torn_last_line_and_keeps_appending(tmp_path):
    log = AuditLog(tmp_path, clock=_clock())
    log.record("pair", Actor("console"), target="console")
    with open(tmp_path / "audit" / "audit.jsonl", "ab") as f:
        f.write(b'{"time": 17000, "action": "dep')  # power cut mid-write
        f.write(b"\n")
    log.record("deploy", Actor("console"), target="widgets 1.0.0")
    assert [e.action for e in log.entries()] == ["pair", "deploy"]
    assert log.skipped_lines == 1


def test_audit_log_publishes_each_entry_to_watchers(tmp_path):
    log = AuditLog(tmp_path, clock=_clock())
    with log.feed.subscribe() as sub:
        log.record("remove", Actor("console"), target="widgets")
        entry = sub.get(timeout=1.0)
    assert entry is not None and entry.action == "remove" and entry.target == "widgets"


def test_audit_log_cuts_overlong_fields(tmp_path):
    log = AuditLog(tmp_path, clock=_clock())
    log.record("params", Actor("x" * 5000), detail="y" * 5000)
    entry = log.entries()[0]
    assert len(entry.actor) <= 1000 and len(entry.detail) <= 1000 and entry.detail.endswith("…")
