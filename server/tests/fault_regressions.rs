//! Regression tests for what the fault harness (`tests/faults.rs`) found, one per bug, each
//! reproducing the fault directly so it stays fixed without the harness.

#[path = "support/site.rs"]
mod support;

use outpost::site::sync::kv;
use support::{TestSite, World, fast};

/// A server that accepts each connection and closes it before answering (a dropped request).
async fn closing_server() -> String {
    let listener = tokio::net::TcpListener::bind(support::any_port()).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    url
}

#[tokio::test]
async fn a_connection_closed_before_the_answer_is_a_connection_error_not_unknown() {
    let world = World::start().await;
    world.add_site("closed", "pw", &["closed-store"]).await;
    let site = TestSite::start(fast()).await;
    site.configure(&world, "closed", "pw").await;
    assert_eq!(site.sync().await, None);
    site.set_kv_string(kv::URL, &closing_server().await).await;
    let error = site.sync().await.expect("the run fails");
    assert_eq!(error.variant, "CONNECTION_ERROR", "{}", error.full_error);
}

#[tokio::test]
async fn a_push_refused_while_the_central_is_still_integrating_waits_and_is_sent_again() {
    use outpost::central_v5::activity::Activity;
    let world = World::start().await;
    let site_id = world.add_site("busy", "pw", &["busy-store"]).await;
    let site = TestSite::start(fast()).await;
    site.configure(&world, "busy", "pw").await;
    assert_eq!(site.sync().await, None);
    {
        let mut conn = site.conn().await;
        let l = outpost_api::Location { id: "busy-loc".into(), store_id: "busy-store".into(), code: "B".into(), name: "n".into(), on_hold: false };
        outpost::records::upsert_location(&mut conn, &l).await.unwrap();
    }
    // The previous integration (or a lost answer's) is still running when this run pushes.
    let busy = world.v5_state.activity.begin(site_id, Activity::Integrating).unwrap_or_else(|_| panic!("idle before"));
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(busy);
    });
    assert_eq!(site.sync().await, None, "the push waited for the central instead of failing");
    assert_eq!(support::v5_count(&world, "Location").await, 1);
}
