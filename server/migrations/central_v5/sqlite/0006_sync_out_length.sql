-- How many rows each site's queue (sync_out) holds, kept in the same transactions as the rows
-- themselves (`central_v5::queue`). Every `queued_records` answer carries the queue's length;
-- counting it there read the whole remaining queue for every page, so draining a queue of n rows
-- cost O(n²) (36 s of a 1M-record initial sync, issue 14).
CREATE TABLE sync_out_length (
    site_id BIGINT PRIMARY KEY,
    length BIGINT NOT NULL
);
INSERT INTO sync_out_length (site_id, length) SELECT site_id, COUNT(*) FROM sync_out GROUP BY site_id;
