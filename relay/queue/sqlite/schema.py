"""The queue file's tables. Existing files must keep working: add, never change or drop."""

from __future__ import annotations

__all__ = ["SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS dials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    dial_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    lane INTEGER NOT NULL DEFAULT 0,
    received_at REAL NOT NULL,
    due_at REAL NOT NULL,
    leased INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'dial'
);
CREATE INDEX IF NOT EXISTS dials_due ON dials (lane, due_at);
CREATE INDEX IF NOT EXISTS dials_source ON dials (source, due_at);
CREATE TABLE IF NOT EXISTS seen (
    source TEXT NOT NULL,
    dial_id TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (source, dial_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_expiry ON seen (expires_at);
-- The first leg of a call held for its later legs (DeliveryQueue.coalesce): which dials row
-- holds (source, dial_id), and until when later legs merge into it.
CREATE TABLE IF NOT EXISTS holding (
    source TEXT NOT NULL,
    dial_id TEXT NOT NULL,
    queue_id INTEGER NOT NULL,
    until REAL NOT NULL,
    PRIMARY KEY (source, dial_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS holding_queue ON holding (queue_id, until);
CREATE INDEX IF NOT EXISTS holding_until ON holding (until);
CREATE TABLE IF NOT EXISTS dead (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    dial_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL,
    received_at REAL NOT NULL,
    dead_at REAL NOT NULL,
    reason TEXT NOT NULL,
    status INTEGER,
    response_body TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'dial'
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    received_at REAL NOT NULL,
    method TEXT NOT NULL,
    content_type TEXT NOT NULL,
    query TEXT NOT NULL,
    body BLOB NOT NULL,
    problems TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rejected_received ON rejected (received_at);
-- Each stored dial's history (DialHistory, relay.queue.history): id is the queue id it was
-- stored under (dials.id; a replay from the dead-letter store keeps it), events its timeline.
-- payload is NULL while the dial is in the queue (its dials row holds it) or the dead-letter
-- store (dead, its record there); done_at is set when it settled for good (delivered, or
-- purged from the dead-letter store), and the record goes RELAY_DIAL_HISTORY_SECONDS later.
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    dial_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    phone4 TEXT NOT NULL DEFAULT '',
    events TEXT NOT NULL,
    payload BLOB,
    done_at REAL,
    dead INTEGER
);
CREATE INDEX IF NOT EXISTS history_dial ON history (dial_id);
CREATE INDEX IF NOT EXISTS history_source ON history (source, received_at);
CREATE INDEX IF NOT EXISTS history_done ON history (done_at) WHERE done_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS history_dead ON history (dead) WHERE dead IS NOT NULL;
-- Outcome counts per source and minute (ActivityStore; minute: Unix time, a multiple of 60),
-- trimmed ACTIVITY_KEEP_SECONDS after the minute; each source's last webhook time.
CREATE TABLE IF NOT EXISTS activity (
    minute INTEGER NOT NULL,
    source TEXT NOT NULL,
    outcome TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (minute, source, outcome)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS last_webhook (
    source TEXT PRIMARY KEY,
    at REAL NOT NULL
) WITHOUT ROWID;
"""
