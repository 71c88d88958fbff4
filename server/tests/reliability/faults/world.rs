//! One seeded fault run: both centrals (restartable, behind fault-injecting relays), a site, a model of
//! what every record should be, the changes made on all three while faults run, and the checks
//! made once the faults stop and sync reaches quiescence.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use outpost::central_v5;
use outpost::site::sync::EngineConfig;
use outpost::wire::client::Timeouts;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;

use outpost_testkit::relay::Schedule;
use outpost_testkit::{TestSite, World};

pub const STORE: &str = "fault-store";
const SITE: &str = "fault-site";

/// Engine knobs for fault runs: quick polls and a short stall limit, so a wedged run ends as a
/// stored `TIMEOUT` quickly instead of hanging the harness.
pub fn engine() -> EngineConfig {
    EngineConfig {
        stall_timeout: Duration::from_secs(4),
        timeouts: Timeouts { connect: vec![Duration::from_millis(300); 2], idle_read: Duration::from_secs(3) },
        prepare_poll: Duration::from_millis(20),
        push_poll: Duration::from_millis(20),
        push_wait: Duration::from_secs(4),
        run_at_start: false,
        ..EngineConfig::default()
    }
}

/// A pause before each chunk of a slow preparation: five chunks (one per store table) take
/// longer than the site's idle-read timeout in [`engine`].
pub const SLOW_PREPARE_PAUSE: Duration = Duration::from_millis(700);

/// Both centrals behind relays that inject the run's seeded faults on the site's links (the
/// V6 central's own link to the V5 central stays clean), restartable behind the same URLs.
/// `slow_prepare`: the V5 central prepares the site slower than the site waits for one call.
pub async fn start_centrals(schedule: &Schedule, slow_prepare: bool, replicas: Option<&Replicated>) -> World {
    let pause = if slow_prepare { SLOW_PREPARE_PAUSE } else { Duration::ZERO };
    let world = match replicas {
        None => World::builder().relays().v5_tweak(move |s| s.prepare_pause = pause).start().await,
        Some(r) => {
            let mut builder = World::builder().database(&r.db).replicas(std::path::Path::new(BIN), 2);
            if let Some(point) = r.kill_point {
                let spec = format!("{point}={}", r.marker.display());
                builder = builder.replica_env(outpost::central_shared::kill_point::ENV, &spec);
            }
            builder.start().await
        }
    };
    world.v5_relay().set_faults(Some(schedule.clone()));
    world.v6_relay().set_faults(Some(schedule.clone()));
    world
}

const BIN: &str = env!("CARGO_BIN_EXE_outpost");

/// A run of the replica variant: both centrals as two replica processes each on one
/// PostgreSQL database, the V5 one on `db`. With `kill_point`, the first integration that
/// reaches it (on either replica of that central) stops there and writes its process id to
/// `marker`; a watcher `kill -9`s that replica there at once (mid-integration: its transaction
/// holds locks the harness's own writes would wait for), and the run starts it again and puts
/// it back behind the relays at its next sync ([`kill_at_marker`]).
pub struct Replicated {
    pub db: outpost_testkit::TestDb,
    pub kill_point: Option<&'static str>,
    pub marker: std::path::PathBuf,
    _dir: tempfile::TempDir,
    /// Whether the replica at the marker was restarted already.
    pub killed: bool,
    watcher: tokio::task::JoinHandle<()>,
}

impl Replicated {
    pub async fn new(db: outpost_testkit::TestDb, kill_point: Option<&'static str>) -> Replicated {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("kill-point");
        let watched = marker.clone();
        let watcher = tokio::spawn(async move {
            // The process id the replica wrote: one of this run's own replica processes.
            let pid = wait_marker(&watched).await;
            let mut kill = std::process::Command::new("kill");
            let _ = kill.args(["-9", &pid.to_string()]).stderr(std::process::Stdio::null()).status();
        });
        Replicated { db, kill_point, marker, _dir: dir, killed: false, watcher }
    }
}

impl Drop for Replicated {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// The process id a replica at the kill point wrote to `marker`, once it is there.
pub async fn wait_marker(marker: &std::path::Path) -> u32 {
    loop {
        if let Some(pid) = std::fs::read_to_string(marker).ok().and_then(|s| s.trim().parse().ok()) {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Start again the replica that stopped at the kill point (mid-integration; `kill -9`ed there by
/// the watcher, or here) and put it back behind the relays; the other replica takes its
/// integration over once the lease runs out.
pub async fn kill_at_marker(centrals: &mut World, replicated: &mut Replicated, pid: u32) {
    replicated.killed = true;
    for v5 in [true, false] {
        if let Some(i) = centrals.replicas_of(v5).iter().position(|p| p.pid() == Some(pid)) {
            centrals.kill_replica(v5, i);
            centrals.restart_replica(v5, i).await;
            centrals.restarts += 1;
            return;
        }
    }
}

/// What each record should be at the end: `None` once deleted.
#[derive(Default, Debug)]
pub struct Model {
    pub locations: BTreeMap<String, Option<(String, String)>>,
    pub assets: BTreeMap<String, Option<(String, String)>>,
    /// Invoice id → number of lines (written with the invoice, in one central transaction).
    pub invoices: BTreeMap<String, i64>,
    pub items: Vec<String>,
    /// Whether this run's centrals refuse some of the site's records (through the relays).
    pub refusing: bool,
    /// Site records the centrals refuse every push of: they never reach a central, and must
    /// be listed as outgoing refusals at the end.
    pub refused: BTreeSet<String>,
    next: u64,
}

/// In a refusing run, whether the new site record `id` is one the central refuses from now on.
fn maybe_refuse(rng: &mut StdRng, model: &mut Model, relay: &outpost_testkit::Relay, id: &str, new: bool) {
    if model.refusing && new && rng.random_bool(0.25) {
        relay.refuse_records([id.to_owned()]);
        model.refused.insert(id.to_owned());
    }
}

/// Register the site, seed central data, start the site and configure it (faults off).
pub async fn setup(centrals: &World, model: &mut Model) -> TestSite {
    let new = central_v5::admin::NewSite {
        name: SITE.into(),
        password: "pw".into(),
        store_ids: vec![STORE.into()],
        central_v6_url: centrals.site_v6_url(),
        site_id: None,
    };
    central_v5::admin::add_site(&centrals.v5_state.db, &new).await.unwrap();
    let db = &centrals.v5_state.db;
    central_v5::admin::upsert(db, "unit", &json!({"ID": "u1", "units": "tab"})).await.unwrap();
    central_v5::admin::upsert(db, "name", &json!({"ID": "n1", "name": "Clinic"})).await.unwrap();
    central_v5::admin::upsert(db, "item", &json!({"ID": "i0", "item_name": "Paracetamol", "unit_ID": "u1"}))
        .await
        .unwrap();
    model.items.push("i0".into());
    let site = TestSite::start(engine()).await;
    let input = outpost_api::SyncSettingsInput {
        url: centrals.site_v5_url(),
        site_name: SITE.into(),
        password: "pw".into(),
        interval_seconds: 3600,
        batch_size_push: Some(3),
        batch_size_pull: Some(3),
        is_disabled: true,
    };
    outpost::site::settings::save(&site.state, input).await.unwrap();
    outpost::site::sync::kv::set_bool(&site.state.db, outpost::site::sync::kv::IS_DISABLED, false).await.unwrap();
    site
}

/// Store data of the site's store already on the V5 central before the site's first sync
/// (locations, an invoice with its lines): initialisation must bring every one of them, and
/// later rounds may edit or delete the locations like any other central location. Drawn from an
/// rng of its own, so the rest of a seed's draws stay as they were.
pub async fn seed_store_data(rng: &mut StdRng, centrals: &World, model: &mut Model) {
    let db = &centrals.v5_state.db;
    for i in 0..rng.random_range(0..6u64) {
        let id = format!("cl-pre{i}");
        let (code, name) = (format!("P{i}"), format!("before first sync {i}"));
        let record = json!({"ID": id, "code": code, "Description": name, "store_ID": STORE, "hold": false});
        central_v5::admin::upsert(db, "Location", &record).await.unwrap();
        model.locations.insert(id, Some((code, name)));
    }
    for i in 0..rng.random_range(0..3u64) {
        let id = format!("inv-pre{i}");
        let lines = rng.random_range(1..4);
        let mut tx = outpost::central_v5::data::begin(db).await.unwrap();
        let invoice = json!({"ID": id, "name_ID": "n1", "store_ID": STORE, "type": "ci", "status": "fn", "invoice_num": 1000 + i});
        outpost::central_v5::data::central_upsert(&mut tx, "transact", &invoice).await.unwrap();
        for l in 0..lines {
            let line = json!({"ID": format!("{id}-l{l}"), "transaction_ID": id, "item_ID": "i0"});
            outpost::central_v5::data::central_upsert(&mut tx, "trans_line", &line).await.unwrap();
        }
        tx.commit().await.unwrap();
        model.invoices.insert(id, lines);
    }
}

/// A few random changes on the site (Store data API) and on both centrals.
pub async fn make_changes(
    rng: &mut StdRng,
    centrals: &World,
    site: &TestSite,
    admin: &reqwest::Client,
    model: &mut Model,
) {
    for _ in 0..rng.random_range(2..6) {
        model.next += 1;
        let n = model.next;
        let api = format!("{}/api/store-data", site.url);
        match rng.random_range(0..8) {
            0 | 1 => {
                // Site: a location, new or edited (only the site edits the ones it made).
                let id = pick_or_new(rng, &model.locations, "sl-", n);
                let (code, name) = (format!("S{n}"), format!("site {n}"));
                let body = json!({"id": id, "storeId": STORE, "code": code, "name": name});
                let exists = model.locations.get(&id).is_some_and(|v| v.is_some());
                maybe_refuse(rng, model, centrals.v5_relay(), &id, !model.locations.contains_key(&id));
                let r = if exists {
                    admin.put(format!("{api}/locations/{id}")).json(&body).send().await.unwrap()
                } else {
                    admin.post(format!("{api}/locations")).json(&body).send().await.unwrap()
                };
                assert!(r.status().is_success(), "site location write: {}", r.text().await.unwrap());
                model.locations.insert(id, Some((code, name)));
            }
            2 => {
                if let Some(id) = live(rng, &model.locations, "sl-") {
                    let r = admin.delete(format!("{api}/locations/{id}")).send().await.unwrap();
                    assert!(r.status().is_success(), "site location delete: {}", r.status());
                    model.locations.insert(id, None);
                }
            }
            3 => {
                let id = pick_or_new(rng, &model.assets, "sa-", n);
                let (code, notes) = (format!("A{n}"), format!("note {n}"));
                let body = json!({"id": id, "storeId": STORE, "code": code, "serialNumber": "", "notes": notes});
                let exists = model.assets.get(&id).is_some_and(|v| v.is_some());
                maybe_refuse(rng, model, centrals.v6_relay(), &id, !model.assets.contains_key(&id));
                let r = if exists {
                    admin.put(format!("{api}/assets/{id}")).json(&body).send().await.unwrap()
                } else {
                    admin.post(format!("{api}/assets")).json(&body).send().await.unwrap()
                };
                assert!(r.status().is_success(), "site asset write: {}", r.text().await.unwrap());
                model.assets.insert(id, Some((code, notes)));
            }
            4 => {
                // V5 central: a location of the site's store, new, edited or deleted.
                if rng.random_bool(0.25)
                    && let Some(id) = live(rng, &model.locations, "cl-")
                {
                    central_v5::admin::delete(&centrals.v5_state.db, "Location", &id).await.unwrap();
                    model.locations.insert(id, None);
                } else {
                    let id = pick_or_new(rng, &model.locations, "cl-", n);
                    let (code, name) = (format!("C{n}"), format!("central {n}"));
                    let record = json!({"ID": id, "code": code, "Description": name, "store_ID": STORE, "hold": false});
                    central_v5::admin::upsert(&centrals.v5_state.db, "Location", &record).await.unwrap();
                    model.locations.insert(id, Some((code, name)));
                }
            }
            5 => {
                // V5 central: an invoice and its lines, written together.
                let id = format!("inv-{n}");
                let lines = rng.random_range(1..4);
                let mut tx = outpost::central_v5::data::begin(&centrals.v5_state.db).await.unwrap();
                let invoice = json!({"ID": id, "name_ID": "n1", "store_ID": STORE, "type": "ci", "status": "fn", "invoice_num": n});
                outpost::central_v5::data::central_upsert(&mut tx, "transact", &invoice).await.unwrap();
                for l in 0..lines {
                    let line = json!({"ID": format!("{id}-l{l}"), "transaction_ID": id, "item_ID": "i0"});
                    outpost::central_v5::data::central_upsert(&mut tx, "trans_line", &line).await.unwrap();
                }
                tx.commit().await.unwrap();
                model.invoices.insert(id, lines);
            }
            6 => {
                // V6 central: an asset of the site's store.
                let id = pick_or_new(rng, &model.assets, "ca-", n);
                let (code, notes) = (format!("CA{n}"), format!("central note {n}"));
                let asset = json!({"id": id, "store_id": STORE, "notes": notes, "asset_number": code,
                                   "created_datetime": "2024-01-01T00:00:00", "modified_datetime": "2024-01-01T00:00:00"});
                outpost::central_v6::upsert_asset(&centrals.v6_state.db, &asset, None).await.unwrap();
                model.assets.insert(id, Some((code, notes)));
            }
            _ => {
                // V5 central data: an item every site receives.
                let id = format!("i{n}");
                central_v5::admin::upsert(
                    &centrals.v5_state.db,
                    "item",
                    &json!({"ID": id, "item_name": format!("Item {n}"), "unit_ID": "u1"}),
                )
                .await
                .unwrap();
                model.items.push(id);
            }
        }
    }
}

fn live(rng: &mut StdRng, map: &BTreeMap<String, Option<(String, String)>>, prefix: &str) -> Option<String> {
    let ids: Vec<&String> = map.iter().filter(|(k, v)| k.starts_with(prefix) && v.is_some()).map(|(k, _)| k).collect();
    (!ids.is_empty()).then(|| ids[rng.random_range(0..ids.len())].clone())
}

fn pick_or_new(rng: &mut StdRng, map: &BTreeMap<String, Option<(String, String)>>, prefix: &str, n: u64) -> String {
    if rng.random_bool(0.3)
        && let Some(id) = live(rng, map, prefix)
    {
        return id;
    }
    format!("{prefix}{n}")
}

/// Invoices the site shows with fewer lines than they were written with (must stay empty).
pub async fn invoices_missing_lines(site: &TestSite, model: &BTreeMap<String, i64>) -> Vec<String> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT i.id, (SELECT COUNT(*) FROM invoice_line l WHERE l.invoice_id = i.id) FROM invoice i")
            .fetch_all(&site.state.db)
            .await
            .unwrap();
    rows.into_iter()
        .filter(|(id, n)| model.get(id).is_some_and(|want| n < want))
        .map(|(id, n)| format!("{id} ({n} lines)"))
        .collect()
}

type Rows = BTreeMap<String, (String, String)>;

fn checksum(rows: &Rows) -> String {
    let mut h = Sha256::new();
    for (id, (a, b)) in rows {
        h.update(format!("{id}\x1f{a}\x1f{b}\x1e"));
    }
    hex::encode(&h.finalize()[..8])
}

fn expected(map: &BTreeMap<String, Option<(String, String)>>) -> Rows {
    map.iter().filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v))).collect()
}

async fn site_rows(site: &TestSite, sql: &str) -> Rows {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(&site.state.db).await.unwrap();
    rows.into_iter().map(|(id, a, b)| (id, (a, b))).collect()
}

async fn central_rows(db: &outpost::db::CentralDb, table: &str, a: &str, b: &str) -> Rows {
    let rows = sqlx::query("SELECT record_id, data FROM record WHERE table_name = $1 AND store_id = $2")
        .bind(table)
        .bind(STORE)
        .fetch_all(&db.pool)
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let data: Value = serde_json::from_str(&r.get::<String, _>(1)).unwrap();
            let field = |f: &str| data.get(f).and_then(Value::as_str).unwrap_or_default().to_owned();
            (r.get::<String, _>(0), (field(a), field(b)))
        })
        .collect()
}

async fn scalar(db: &outpost::db::CentralDb, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&db.pool).await.unwrap().get::<i64, _>(0)
}

/// Rows on the centrals that a needless re-send or echo would add to.
pub async fn central_activity(c: &World) -> (i64, i64, i64) {
    (
        scalar(&c.v5_state.db, "SELECT COUNT(*) FROM central_change").await,
        scalar(&c.v5_state.db, "SELECT COUNT(*) FROM sync_out").await,
        scalar(&c.v6_state.db, "SELECT COUNT(*) FROM changelog").await,
    )
}

/// Every end-of-run invariant; returns the problems found (empty = the run passed).
pub async fn check(c: &World, site: &TestSite, model: &Model) -> Vec<String> {
    let mut problems = Vec::new();
    let mut same = |what: &str, a: &Rows, b: &Rows| {
        if a != b {
            let only_a: Vec<_> = a.iter().filter(|(k, v)| b.get(*k) != Some(v)).map(|(k, _)| k).collect();
            let only_b: Vec<_> = b.iter().filter(|(k, v)| a.get(*k) != Some(v)).map(|(k, _)| k).collect();
            problems.push(format!(
                "{what}: checksums {} != {}; differ {only_a:?} / {only_b:?}",
                checksum(a),
                checksum(b)
            ));
        }
    };
    let want_locations = expected(&model.locations);
    let want_assets = expected(&model.assets);
    // What the centrals should hold: everything but the records they refused.
    let accepted = |rows: &Rows| -> Rows {
        rows.iter().filter(|(id, _)| !model.refused.contains(*id)).map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let site_locations = site_rows(
        site,
        &format!("SELECT id, COALESCE(code,''), COALESCE(name,'') FROM location WHERE store_id = '{STORE}'"),
    )
    .await;
    let site_assets = site_rows(
        site,
        &format!("SELECT id, COALESCE(code,''), COALESCE(notes,'') FROM asset WHERE store_id = '{STORE}'"),
    )
    .await;
    same("site locations vs model", &site_locations, &want_locations);
    same(
        "V5 locations vs model",
        &central_rows(&c.v5_state.db, "Location", "code", "Description").await,
        &accepted(&want_locations),
    );
    same("site assets vs model", &site_assets, &want_assets);
    same(
        "V6 assets vs model",
        &central_rows(&c.v6_state.db, "asset", "asset_number", "notes").await,
        &accepted(&want_assets),
    );
    // Refused records are never lost silently: each is listed, outgoing, with a reason, and
    // nothing else is.
    let quarantine: Vec<outpost_api::QuarantinedRecord> =
        outpost_testkit::http_get(format!("{}/api/sync/quarantine", site.url)).await.unwrap().json().await.unwrap();
    let outgoing: Vec<(String, String)> = quarantine
        .into_iter()
        .filter(|r| r.direction == outpost_api::Direction::Outgoing)
        .map(|r| (r.record_id, r.reason))
        .collect();
    let listed: BTreeSet<String> = outgoing.iter().map(|(id, _)| id.clone()).collect();
    if listed != model.refused {
        problems.push(format!("outgoing refusals listed {listed:?} != refused {:?}", model.refused));
    }
    if let Some((id, _)) = outgoing.iter().find(|(_, why)| !why.contains("refused by the test relay")) {
        problems.push(format!("refusal of {id} listed without the central's reason"));
    }
    let missing = invoices_missing_lines(site, &model.invoices).await;
    if !missing.is_empty() {
        problems.push(format!("invoices without all their lines: {missing:?}"));
    }
    let site_invoices: Vec<String> =
        sqlx::query_scalar("SELECT id FROM invoice ORDER BY id").fetch_all(&site.state.db).await.unwrap();
    if site_invoices != model.invoices.keys().cloned().collect::<Vec<_>>() {
        problems.push(format!("site invoices {site_invoices:?} != {:?}", model.invoices.keys()));
    }
    let items: HashMap<String, ()> = sqlx::query_scalar::<_, String>("SELECT id FROM item")
        .fetch_all(&site.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i, ()))
        .collect();
    let missing_items: Vec<_> = model.items.iter().filter(|i| !items.contains_key(*i)).collect();
    if !missing_items.is_empty() {
        problems.push(format!("items missing on the site: {missing_items:?}"));
    }
    for (what, n) in [
        ("V5 queue not drained", scalar(&c.v5_state.db, "SELECT COUNT(*) FROM sync_out").await),
        ("V5 push buffer not integrated", scalar(&c.v5_state.db, "SELECT COUNT(*) FROM push_buffer").await),
        ("V6 push buffer not integrated", scalar(&c.v6_state.db, "SELECT COUNT(*) FROM push_buffer").await),
        (
            "site records quarantined or pending",
            site.count(
                "SELECT COUNT(*) FROM sync_buffer WHERE integration_datetime IS NULL OR integration_error IS NOT NULL",
            )
            .await,
        ),
    ] {
        if n != 0 {
            problems.push(format!("{what}: {n}"));
        }
    }
    problems
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}
