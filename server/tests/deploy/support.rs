//! Roles as child processes, and a private certificate authority made for the test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_outpost");

/// A running `outpost ROLE` process, killed when dropped.
pub struct Role {
    child: Child,
    pub url: String,
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `outpost ARGS` and wait for its `listening on` line.
pub fn spawn(args: &[&str]) -> Role {
    spawn_in(Path::new(BIN), Path::new("."), args)
}

/// Start `BIN ARGS` in the working folder `cwd`.
pub fn spawn_in(bin: &Path, cwd: &Path, args: &[&str]) -> Role {
    let mut child = Command::new(bin)
        .current_dir(cwd)
        .args(args)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().unwrap_or_else(|| panic!("outpost {args:?} exited before listening")).unwrap();
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Role { child, url }
}

/// Run `outpost ARGS` to completion; panics with its output when it fails.
pub fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).env("RUST_LOG", "error").output().unwrap();
    assert!(out.status.success(), "outpost {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A certificate authority and a server certificate it signed for `localhost` and
/// `127.0.0.1`, written as PEM files.
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca_der: Vec<u8>,
}

impl Pki {
    pub fn new(dir: &Path, name: &str) -> Pki {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, format!("{name} test CA"));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "outpost test server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        let pki = Pki {
            ca: dir.join(format!("{name}-ca.pem")),
            cert: dir.join(format!("{name}-cert.pem")),
            key: dir.join(format!("{name}-key.pem")),
            ca_der: ca.der().to_vec(),
        };
        std::fs::write(&pki.ca, ca.pem()).unwrap();
        std::fs::write(&pki.cert, cert.pem()).unwrap();
        std::fs::write(&pki.key, key.serialize_pem()).unwrap();
        pki
    }

    /// A client that trusts this CA only (and no proxy: everything here is on loopback).
    pub fn client(&self) -> reqwest::Client {
        outpost::wire::client::install_crypto_provider();
        let ca = reqwest::Certificate::from_der(&self.ca_der).unwrap();
        outpost_testkit::http_client_builder().no_proxy().tls_certs_only([ca]).build().unwrap()
    }
}
