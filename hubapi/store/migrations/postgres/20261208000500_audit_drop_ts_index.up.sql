-- The primary key (ts, id) already orders the trail by time, newest first
-- when scanned backward: the separate (ts DESC) index was a fifth index to
-- maintain on every audit row for no query of its own.
DROP INDEX IF EXISTS audit_events_ts;
