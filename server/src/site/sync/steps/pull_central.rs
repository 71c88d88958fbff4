//! Pull Central: page through the V5 central's change log (central data: units, items, names,
//! stores) by cursor into sync_buffer. Each page and the cursor after it are stored in one
//! transaction, so an interrupted pull neither loses nor repeats a page.

use outpost_api::StepKey;

use super::{Ctx, db};
use crate::site::sync::buffer::{self, Incoming, Source};
use crate::site::sync::errors::RunError;
use crate::site::sync::kv;

const STEP: StepKey = StepKey::PullCentral;

pub async fn run(ctx: &Ctx<'_>) -> Result<(), RunError> {
    let log = db("Error while logging");
    let store = db("Error while storing central records");
    ctx.log.step_started(STEP).await.map_err(log)?;
    let mut cursor = kv::cursor(ctx.db, kv::CENTRAL_PULL_CURSOR).await.map_err(store)?;
    let source_site_id = Some(ctx.site.m_supply_central_site_id);
    loop {
        let page = ctx
            .v5
            .central_records(cursor, ctx.settings.batch_size_pull)
            .await
            .map_err(|e| RunError::call("Error while pulling central records", &e))?;
        ctx.log.progress(STEP, page.max_cursor.saturating_sub(cursor)).await.map_err(log)?;
        let Some(last_id) = page.data.iter().map(|r| r.id).max() else {
            if cursor >= page.max_cursor {
                break;
            }
            // A gap in the central's log: step over it rather than ask for it forever.
            cursor += 1;
            kv::set_cursor(ctx.db, kv::CENTRAL_PULL_CURSOR, cursor).await.map_err(store)?;
            continue;
        };
        let records: Vec<Incoming> = page
            .data
            .into_iter()
            .map(|r| Incoming {
                source: Source::V5,
                wire_table: r.table_name,
                record_id: r.record_id,
                action: r.action.into(),
                data: r.record_data,
                source_site_id,
            })
            .collect();
        let mut tx = ctx.db.begin().await.map_err(store)?;
        buffer::store(&mut tx, &records).await.map_err(store)?;
        kv::set_cursor(&mut *tx, kv::CENTRAL_PULL_CURSOR, last_id).await.map_err(store)?;
        tx.commit().await.map_err(store)?;
        cursor = last_id;
        ctx.log.progress(STEP, page.max_cursor.saturating_sub(cursor)).await.map_err(log)?;
    }
    ctx.log.step_done(STEP).await.map_err(log)
}
