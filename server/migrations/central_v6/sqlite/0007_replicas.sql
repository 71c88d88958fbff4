-- Coordination between several replicas of this central on one PostgreSQL database (issue 15).
-- Created on SQLite too, so both schemas stay alike; a SQLite central is one process and keeps
-- this bookkeeping in its memory.

-- Which site is busy (initialising its queue, or integrating its push buffer), on which
-- replica, until when (the database clock in ms since the epoch): renewed while the work runs,
-- deleted when it ends. A row whose lease ran out was left by a replica that died; the next
-- replica a site asks takes its work over (`central_shared::activity`).
CREATE TABLE site_activity (
    site_id BIGINT PRIMARY KEY,
    activity TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);

-- Failed logins per limiter key (a SHA-256 of a site name or a caller address, in hex): the
-- times of the failures still in the window (database clock, microseconds), updated by one
-- statement per key so replicas count together (`ratelimit`). Unused on SQLite (a JSON array
-- there, were it used).
CREATE TABLE auth_failure (
    key TEXT PRIMARY KEY,
    times TEXT NOT NULL
);
