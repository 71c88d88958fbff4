-- What started each run (scheduled, manual, atStart), for the Sync page's run history; NULL for
-- runs logged before this column. Runs older than 90 days are pruned by the run log as a new
-- run starts, by start time.
ALTER TABLE sync_log ADD COLUMN kind TEXT;
CREATE INDEX sync_log_started ON sync_log (started_datetime);
