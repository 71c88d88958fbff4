-- One name per thing: what a site pushed is the push buffer on both centrals (on the site,
-- sync_buffer means records it received). Renaming keeps any rows still waiting to integrate.
ALTER TABLE sync_buffer RENAME TO push_buffer;
ALTER INDEX sync_buffer_pkey RENAME TO push_buffer_pkey;
