//! The `outpost` binary as an operator meets it: every role has `--help`, binds port 0,
//! prints `listening on http://ADDR`, answers, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_outpost");

#[test]
fn every_role_has_help() {
    for role in ["site", "legacy-central", "central", "demo"] {
        let out = Command::new(BIN).args([role, "--help"]).output().unwrap();
        assert!(out.status.success(), "{role}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("--listen"), "{role}: {text}");
        assert!(text.contains("--data-dir"), "{role}: {text}");
    }
}

/// Start `outpost ARGS`, wait for its `listening on` line, and return the URL.
fn start(args: &[&str]) -> (Child, String) {
    start_with_env(args, &[])
}

/// Like [`start`], with extra environment variables.
fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("OUTPOST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("the role exited before listening").unwrap();
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    (child, url)
}

fn stop_with_sigterm(mut child: Child) {
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
}

#[tokio::test]
async fn each_role_listens_on_a_free_port_answers_liveness_and_readiness_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let d = |sub: &str| dir.path().join(sub).to_string_lossy().into_owned();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["legacy-central".into(), "--listen".into(), "127.0.0.1:0".into(), "--data-dir".into(), d("v5")],
            "/health",
        ),
        (vec!["central".into(), "--listen".into(), "127.0.0.1:0".into(), "--data-dir".into(), d("v6")], "/health"),
        (vec!["site".into(), "--listen".into(), "127.0.0.1:0".into(), "--data-dir".into(), d("site")], "/api/health"),
    ];
    for (args, health) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (child, url) = start(&args);
        assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");
        let response = outpost_testkit::http_get(format!("{url}{health}")).await.unwrap();
        assert_eq!(response.status(), 200, "{args:?}");
        let ready_path = health.replace("/health", "/ready");
        let ready = outpost_testkit::http_get(format!("{url}{ready_path}")).await.unwrap();
        assert_eq!(ready.status(), 200, "{args:?}");
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ready"}), "{args:?}");
        stop_with_sigterm(child);
    }
}

#[tokio::test]
async fn demo_starts_three_servers_with_demo_site_configured() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_string_lossy().into_owned();
    let mut child = Command::new(BIN)
        .args([
            "demo",
            "--data-dir",
            &data,
            "--listen",
            "127.0.0.1:0",
            "--legacy-listen",
            "127.0.0.1:0",
            "--central-listen",
            "127.0.0.1:0",
            "--seed-records",
            "50",
        ])
        .env("OUTPOST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut site = None;
    let mut roles = Vec::new();
    while roles.len() < 3 {
        let line = lines.next().expect("demo exited early").unwrap();
        if let Some(rest) = line.strip_prefix("listening on ") {
            let mut parts = rest.split_whitespace();
            let url = parts.next().unwrap().to_owned();
            let role = parts.next().unwrap().to_owned();
            if role == "(site)" {
                site = Some(url);
            }
            roles.push(role);
        }
    }
    assert_eq!(roles, ["(legacy-central)", "(central)", "(site)"]);
    let status: serde_json::Value =
        outpost_testkit::http_get(format!("{}/api/sync/status", site.unwrap())).await.unwrap().json().await.unwrap();
    assert_eq!(status["configured"], true);
    assert_eq!(status["initialisation"], "preInitialisation");
    stop_with_sigterm(child);
}

/// A newcomer who opens the page the moment the port answers must see a configured site: the
/// demo binds the site's listener only after configuring it.
#[tokio::test]
async fn the_demo_site_answers_only_once_it_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_string_lossy().into_owned();
    let listen = format!("127.0.0.1:{}", free_port_outside_the_ephemeral_range());
    let child = Command::new(BIN)
        .args(["demo", "--data-dir", &data, "--listen", &listen])
        .args(["--legacy-listen", "127.0.0.1:0", "--central-listen", "127.0.0.1:0", "--seed-records", "50"])
        .env("OUTPOST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let client = outpost_testkit::http_client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status: serde_json::Value = loop {
        assert!(std::time::Instant::now() < deadline, "the demo site never answered");
        match client.get(format!("http://{listen}/api/sync/status")).send().await {
            Ok(reply) => break reply.json().await.unwrap(),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
        }
    };
    assert_eq!(status["configured"], true, "the first answer already says configured: {status}");
    stop_with_sigterm(child);
}

/// A port that is free now and that no other test's `127.0.0.1:0` can be given meanwhile: the
/// kernel hands out ports from the ephemeral range (32768–60999 on Linux) only, so a port below
/// it stays ours until the demo binds it (a port from `:0` once let a parallel test's server
/// answer this test's first request).
fn free_port_outside_the_ephemeral_range() -> u16 {
    use rand::{Rng, SeedableRng};
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(u64::from(nanos) ^ u64::from(std::process::id()));
    (0..100)
        .map(|_| rng.random_range(20_000..32_000))
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("no free port between 20000 and 32000")
}

/// The site's extra names come from repeated `--allowed-host` flags, or else from the
/// comma-separated `OUTPOST_ALLOWED_HOST`; any other name is refused with 421.
#[tokio::test]
async fn the_site_answers_names_from_allowed_host_flags_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_string_lossy().into_owned();
    let status = |url: String, host: &'static str| async move {
        let response =
            outpost_testkit::http_client().get(format!("{url}/api/health")).header("host", host).send().await;
        response.unwrap().status().as_u16()
    };
    let site = ["site", "--listen", "127.0.0.1:0", "--data-dir", &data, "--admin-password", "cli-admin-password"];
    let flags = [&site[..], &["--allowed-host", "a.lan", "--allowed-host", "b.lan"]].concat();
    let (child, url) = start(&flags);
    assert_eq!(status(url.clone(), "a.lan").await, 200);
    assert_eq!(status(url.clone(), "b.lan:8000").await, 200);
    assert_eq!(status(url, "attacker.example").await, 421);
    stop_with_sigterm(child);
    let (child, url) = start_with_env(&site, &[("OUTPOST_ALLOWED_HOST", "c.lan,d.lan")]);
    assert_eq!(status(url.clone(), "c.lan").await, 200);
    assert_eq!(status(url.clone(), "d.lan").await, 200);
    assert_eq!(status(url, "a.lan").await, 421);
    stop_with_sigterm(child);
}

/// `outpost legacy-central --trusted-proxy ADDR` (repeatable) is the only way a peer gets to
/// name the caller that failed logins count against; without it the header is ignored.
#[tokio::test]
async fn the_legacy_central_believes_forwarded_callers_only_from_trusted_proxy_flags() {
    use outpost_testkit::prelude::V5Site;
    for (trust, next_caller) in
        [(&[][..], 429), (&["--trusted-proxy", "10.9.9.9", "--trusted-proxy", "127.0.0.1"][..], 401)]
    {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_string_lossy().into_owned();
        let args = [&["legacy-central", "--listen", "127.0.0.1:0", "--data-dir", &data][..], trust].concat();
        let (child, url) = start(&args);
        let forwarded_for = outpost::wire::v5::HEADER_FORWARDED_FOR;
        for i in 0..10 {
            let guess = V5Site::new(&url, &format!("guess{i}"), "x").request(reqwest::Method::GET, "site");
            assert_eq!(guess.header(forwarded_for, "203.0.113.9").send().await.unwrap().status(), 401);
        }
        let next = V5Site::new(&url, "other", "x").request(reqwest::Method::GET, "site");
        let status = next.header(forwarded_for, "198.51.100.7").send().await.unwrap().status();
        assert_eq!(status, next_caller, "with {trust:?}: another forwarded caller after ten failures");
        stop_with_sigterm(child);
    }
}
