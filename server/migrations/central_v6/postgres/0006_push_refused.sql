-- Records a site pushed that its central refused at integration (the ownership rule asked again
-- inside the integration transaction: the row or its store changed hands after buffering; issue
-- 11). Written in the integration's own transaction, so a refusal outlives a central restart;
-- answered by `site_status` until the site's next integration starts (its next final push, which
-- the site sends only once it has read them), which replaces them.
CREATE TABLE push_refused (
    site_id BIGINT NOT NULL,
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    store_id TEXT,
    reason TEXT NOT NULL,
    PRIMARY KEY (site_id, table_name, record_id)
);

-- Why a site's last integration failed (the text it is told, with the id the failure is logged
-- under), until its next integration starts: `site_status` reports it. In the database, so a
-- central restart or another replica still reports it.
CREATE TABLE integration_failure (
    site_id BIGINT PRIMARY KEY,
    message TEXT NOT NULL
);
