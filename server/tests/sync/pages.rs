//! Pull pages too large for the site (review finding 12): an answer over the site's cap was
//! the end of every run; now the same page is asked again smaller, so the run completes with
//! every record, and only a single record over the cap fails it, under its own name.

use outpost::site::sync::EngineConfig;
use outpost_api::{StepKey, SyncStatus};
use outpost_testkit::prelude::*;
use serde_json::json;

/// Each record's text: three to a page (the test kit's configured pull size) pass the cap.
const RECORD_BYTES: usize = 40 * 1024;
const CAP: usize = 100 * 1024;
const RECORDS: usize = 8;

fn step(status: &SyncStatus, key: StepKey) -> &outpost_api::SyncStep {
    status.steps.iter().find(|s| s.key == key).unwrap()
}

/// A unit (pulled by Pull Central) and a location of `big-store` (queued for Pull Remote) on
/// the V5 central, with the given texts as their sizeable field.
async fn seed_pair(world: &World, id: &str, unit_text: String, location_text: String) {
    let unit = json!({"ID": format!("{id}-unit"), "units": unit_text});
    outpost::central_v5::admin::upsert(&world.v5_state.db, "unit", &unit).await.unwrap();
    let location = json!({"ID": format!("{id}-loc"), "code": "L", "Description": location_text,
        "Comment": "", "Volume": 0, "type_ID": "", "object_type": "", "parent_id": "", "Colour": "",
        "bottom_y_coordinate": 0, "summary_only": false, "store_ID": "big-store", "priority": 0, "hold": false,
        "replenishment_type": "", "asset_ID": ""});
    outpost::central_v5::admin::upsert(&world.v5_state.db, "Location", &location).await.unwrap();
}

/// Each step on its own: the page size Pull Central shrank to is where Pull Remote starts, so
/// one world has large central records only and the other large store records only.
#[tokio::test]
async fn pull_pages_over_the_sites_answer_cap_are_asked_again_smaller_and_the_run_completes() {
    for large in [StepKey::PullCentral, StepKey::PullRemote] {
        let world = World::start().await;
        world.add_site("big", "pw", &["big-store"]).await;
        let text = |step| if step == large { "x".repeat(RECORD_BYTES) } else { "x".into() };
        for i in 0..RECORDS {
            seed_pair(&world, &format!("big-{i}"), text(StepKey::PullCentral), text(StepKey::PullRemote)).await;
        }
        let site = TestSite::start(EngineConfig { max_response_bytes: CAP, ..fast() }).await;
        site.configure(&world, "big", "pw").await;
        site.state.sync.wait_for_runs(1).await;
        assert_eq!(site.state.sync.latest_error(), None, "large records in {large:?}");
        let status = site.status().await;
        let pulled = step(&status, large);
        assert!(pulled.total.is_some_and(|t| t >= RECORDS as u64), "{large:?} pulled the large records: {pulled:?}");
        assert_eq!(site.count("SELECT COUNT(*) FROM unit WHERE id LIKE 'big-%-unit'").await, RECORDS as i64);
        assert_eq!(site.count("SELECT COUNT(*) FROM location WHERE id LIKE 'big-%-loc'").await, RECORDS as i64);
    }
}

/// A single record over the cap cannot be shrunk: the run fails at its step as
/// `RECORD_TOO_LARGE`, saying where the record is and the cap, instead of an unknown error.
#[tokio::test]
async fn a_single_record_over_the_cap_fails_the_run_with_its_own_variant_and_where_it_is() {
    for (large, place) in
        [(StepKey::PullCentral, "after cursor"), (StepKey::PullRemote, "first record in this site's queue")]
    {
        let world = World::start().await;
        world.add_site("big", "pw", &["big-store"]).await;
        let text = |step| if step == large { "x".repeat(CAP + 1) } else { "x".into() };
        seed_pair(&world, "huge", text(StepKey::PullCentral), text(StepKey::PullRemote)).await;
        let site = TestSite::start(EngineConfig { max_response_bytes: CAP, ..fast() }).await;
        site.configure(&world, "big", "pw").await;
        site.state.sync.wait_for_runs(1).await;
        let error = site.state.sync.latest_error().expect("the run failed");
        assert_eq!(error.variant, "RECORD_TOO_LARGE", "{large:?}: {error:#?}");
        assert_eq!(error.step, Some(large), "{error:#?}");
        assert!(error.full_error.contains(place), "{error:#?}");
        assert!(error.full_error.contains(&format!("larger than {CAP} bytes")), "{error:#?}");
    }
}
